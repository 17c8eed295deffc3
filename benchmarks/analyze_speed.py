"""Time `scheduler analyze` end to end on a synthetic 128-host × 10,000-VM inventory.

Measures: the wall time of the real command (a fresh process, so start-up and imports count) on
the same inventory written by `scheduler synth` as YAML, JSON and a CSV folder.
Writes: nothing; prints one line per format. Fails (non-zero exit) only if the command fails.
Takes: about 20 seconds on 2 cores at the default size (each form about 4 s, plus generating and
writing the inventory).
Reading it: the foundation target is under 10 s per form on a 2-core machine; a shared machine
adds noise, so rerun before reading much into one slow line.

    python -m benchmarks.analyze_speed [--hosts 128] [--vms 10000] [--seed 1]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import add_cluster_size, make_parser
from scheduler.io import InventoryFormat, write_inventory
from scheduler.synth import SynthSpec, synthesize


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    add_cluster_size(parser, hosts=128, vms=10_000)
    parser.add_argument("--seed", type=int, default=1, help="generator seed of the inventory (default 1)")
    args = parser.parse_args(argv)
    instance = synthesize(SynthSpec(hosts=args.hosts, vms=args.vms, seed=args.seed))
    print(f"{args.hosts} hosts × {args.vms} VMs, {len(instance.rules)} rules")
    with tempfile.TemporaryDirectory() as tmp:
        forms: tuple[tuple[InventoryFormat, str], ...] = (
            ("yaml", "cluster.yaml"),
            ("json", "cluster.json"),
            ("csv", "cluster-csv"),
        )
        for fmt, name in forms:
            path = Path(tmp) / name
            write_inventory(instance, path, fmt)
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "scheduler.cli.main", "analyze", str(path), "--json"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            print(f"  analyze {fmt:5s}: {time.perf_counter() - started:6.2f} s (target < 10 s)")


if __name__ == "__main__":
    main()

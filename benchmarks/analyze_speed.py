"""Time `scheduler analyze` end to end on a synthetic 128-host × 10,000-VM inventory.

Writes the inventory with `scheduler synth` in each format, then runs the real command (a fresh
process, so start-up and import are counted) and prints the wall time of each. The target of the
foundation issue is under 10 seconds on a 2-core machine.

    python -m benchmarks.analyze_speed [--hosts 128] [--vms 10000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scheduler.io import InventoryFormat, write_inventory
from scheduler.synth import SynthSpec, synthesize


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=128)
    parser.add_argument("--vms", type=int, default=10_000)
    args = parser.parse_args(argv)
    instance = synthesize(SynthSpec(hosts=args.hosts, vms=args.vms, seed=1))
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

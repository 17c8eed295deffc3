"""How long ``synthesize`` takes for an everyday cluster and for the largest one benchmarks use.

Measures: the best wall-clock seconds of ``synthesize`` (typical rules, two hosts in maintenance,
1 % new VMs) at 128 hosts × 10,000 VMs and 1,000 hosts × 100,000 VMs, over a few seeds.
Writes: nothing to disk; prints CSV lines (hosts, VMs, rules per VM, seconds) to stdout, to
redirect into a file. Asserts only that each instance has the size asked for.
Takes: under 10 seconds on 2 cores with the default three runs per size.
Reading it: the figure is the best run, since the first also pays for imports and allocator
warm-up; the top-level README lists 0.1-0.3 s and 1.6-2.5 s for the two sizes.

    python -m benchmarks.synth_speed [--repeats 3]
"""

from __future__ import annotations

import time

from benchmarks.common import make_parser, positive_int
from scheduler.synth import SynthSpec, synthesize

SIZES = ((128, 10_000), (1_000, 100_000))  # (hosts, VMs)
REPEATS = 3  # best of three: the first run also pays for imports and allocator warm-up


def time_synthesize(hosts: int, vms: int, repeats: int = REPEATS) -> float:
    """Best wall-clock seconds to synthesize a cluster of this size with two maintenance hosts."""
    best_s = float("inf")
    for seed in range(repeats):
        spec = SynthSpec(hosts=hosts, vms=vms, seed=seed, maintenance_hosts=2, new_vms=vms // 100)
        start = time.perf_counter()
        instance = synthesize(spec)
        best_s = min(best_s, time.perf_counter() - start)
        assert instance.num_hosts == hosts
        assert instance.num_vms == vms
    return best_s


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=REPEATS,
        help=f"runs per size, one seed each; the best is printed (default {REPEATS})",
    )
    args = parser.parse_args(argv)
    print("hosts,vms,rules_per_vm,seconds")
    for hosts, vms in SIZES:
        print(f"{hosts},{vms},0.03,{time_synthesize(hosts, vms, args.repeats):.3f}")


if __name__ == "__main__":
    main()

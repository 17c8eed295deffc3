"""How long ``synthesize`` takes for an everyday cluster and for the largest one benchmarks use.

A measurement, not a timed test: it prints the seconds per size and asserts only that the
instances have the size asked for. Run with ``python -m benchmarks.synth_speed``.
"""

from __future__ import annotations

import time

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


def main() -> None:
    print("hosts,vms,rules_per_vm,seconds")
    for hosts, vms in SIZES:
        print(f"{hosts},{vms},0.03,{time_synthesize(hosts, vms):.3f}")


if __name__ == "__main__":
    main()

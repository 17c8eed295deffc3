"""Time compatibility(), cluster_metrics(), lower_bounds() and the migration lower bound on a
10,000-VM × 128-host cluster.

Measures: the best of a few runs of each function, in seconds, on a cluster built from the model
directly with a seeded generator (no reader, no solver): mixed CPU generations in two vendors,
eight storage pools plus a shared one, four DVS, 1 % of VMs pinned, a few priority-1 and
anti-affinity rules. lower_bounds() is timed given the compatibility matrix and computing it; the
migration lower bound is asked for the seconds that halve today's imbalance (a balance that takes
real moves).
Writes: nothing; prints one line per function. Asserts nothing: it is a timing.
Takes: about 2 minutes on 2 cores at the default size, nearly all of it the migration lower bound
(about 30 s a call, three calls).
Reading it: compare the seconds with the figures in the top-level README (0.01 / 0.003 / about
0.5 / about 31 s); the first three run on every plan and every analyze.

    python -m benchmarks.compat_speed [--hosts 128] [--vms 10000] [--seed 2024] [--repeats 5]
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from benchmarks.common import add_cluster_size, make_parser, positive_int
from scheduler.check import cluster_metrics, lower_bounds
from scheduler.check.migration_bound import migration_bounds
from scheduler.compat import compatibility
from scheduler.model import VM, CpuModel, Host, HostRuleMode, Instance, Policy, Rule, RuleKind
from scheduler.solver.costs import move_costs

NUM_HOSTS = 128
NUM_VMS = 10_000
SEED = 2024
REPEATS = 5


def build_instance(num_hosts: int = NUM_HOSTS, num_vms: int = NUM_VMS, seed: int = SEED) -> Instance:
    """A seeded synthetic cluster shaped like a large production one."""
    rng = np.random.default_rng(seed)
    hosts = tuple(
        Host(
            name=f"cna-{i:03}",
            cpu_mhz=int(rng.choice([64_000, 96_000, 128_000])),
            memory_mib=int(rng.choice([524_288, 786_432, 1_048_576])),
            cpu=CpuModel("intel" if i < num_hosts * 7 // 8 else "amd", int(rng.integers(2, 6))),
            datastores=frozenset({f"ds-{i % 8}", "ds-shared"}),
            networks=frozenset({"dvs-mgmt", f"dvs-{i % 4}"}),
        )
        for i in range(num_hosts)
    )
    where = rng.integers(0, num_hosts, num_vms)
    memory = rng.choice([2_048, 4_096, 8_192, 16_384, 32_768], num_vms)
    vms = tuple(
        VM(
            name=f"vm-{k:05}",
            host=hosts[where[k]].name,
            vcpus=int(rng.choice([2, 4, 8])),
            memory_mib=int(memory[k]),
            cpu_demand_mhz=int(rng.integers(200, 6_000)),
            memory_demand_mib=int(memory[k] * rng.uniform(0.3, 0.9)),
            datastores=frozenset({"ds-shared"} if rng.random() < 0.6 else {f"ds-{where[k] % 8}"}),
            networks=frozenset({"dvs-mgmt", f"dvs-{where[k] % 4}"}),
            pinned=bool(rng.random() < 0.01),
        )
        for k in range(num_vms)
    )
    rules = (
        Rule(
            "licence",
            RuleKind.VM_HOST,
            tuple(v.name for v in vms[:200]),
            tuple(h.name for h in hosts[:32]),
            HostRuleMode.MUST,
        ),
        Rule(
            "no-edge",
            RuleKind.VM_HOST,
            tuple(v.name for v in vms[200:400]),
            (hosts[-1].name,),
            HostRuleMode.MUST_NOT,
        ),
        Rule("db-apart", RuleKind.ANTI_AFFINITY, tuple(v.name for v in vms[400:416])),
    )
    return Instance("bench-10k", hosts, vms, rules, Policy())


def best_time_s(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """The fastest of ``repeats`` runs: the least disturbed measurement."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    """Build the instance, then time each function and print the results."""
    parser = make_parser(__doc__)
    add_cluster_size(parser, hosts=NUM_HOSTS, vms=NUM_VMS)
    parser.add_argument("--seed", type=int, default=SEED, help=f"generator seed (default {SEED})")
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=REPEATS,
        help=f"runs per function, the best one printed (default {REPEATS}; 2 for the migration bound)",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats
    start = time.perf_counter()
    inst = build_instance(args.hosts, args.vms, args.seed)
    placement = inst.current_placement()
    states = {h.name: h.state.value for h in inst.hosts}
    inst.current_host  # noqa: B018 (warm the cached index columns, as a reader-built instance has them)
    print(
        f"instance: {inst.num_vms} VMs × {inst.num_hosts} hosts, built in {time.perf_counter() - start:.2f} s"
    )
    compat = compatibility(inst)
    pairs = int(compat.allowed.sum())
    timings = (
        ("compatibility():  ", lambda: compatibility(inst), f"  ({pairs} allowed pairs)"),
        ("cluster_metrics(): ", lambda: cluster_metrics(inst, placement, states), ""),
        ("lower_bounds():   ", lambda: lower_bounds(inst, compat), "  (given the matrix)"),
        ("lower_bounds():   ", lambda: lower_bounds(inst), "  (computing the matrix)"),
    )
    for label, fn, note in timings:
        print(f"{label}{best_time_s(fn, repeats):.4f} s{note}")
    cost_s = move_costs(inst).seconds
    movable = np.array([not v.immobility_reasons() for v in inst.vms], dtype=np.bool_)
    on = np.ones(inst.num_hosts, dtype=np.bool_)
    now = cluster_metrics(inst, placement, states).imbalance
    halve = [(r, now[r] / 2) for r in ("cpu", "memory")]  # a balance that takes real moves
    seconds = migration_bounds(inst, cost_s, compat.allowed, movable, on, halve).whole
    elapsed = best_time_s(
        lambda: migration_bounds(inst, cost_s, compat.allowed, movable, on, halve),
        repeats=min(repeats, 2),  # about 30 s a call at the default size
    )
    print(f"migration_bounds(): {elapsed:.4f} s  ({seconds:.0f} s to halve the imbalance)")


if __name__ == "__main__":
    main()

"""What ordering interchangeable hosts buys: initial placement with DPM, with and without it.

Measures: for racks of alike hosts, one up and the rest on standby, and new VMs (no host yet) drawn
from a mix of large sizes, the DPM level's hosts on, proven bound and solve seconds with
``host_symmetry`` on and off. DPM decides how many hosts come on, so its level is a bin-packing
proof over hosts that nothing tells apart: the case for ``scheduler.solver.symmetry``. Nine racks
(12, 16 and 20 hosts, three seeds each), each planned both ways with two CP-SAT seeds (a 2-worker
search that runs out of time lands on different packings by seed), the same time limit for all.
Writes: ``symmetry_speed.csv`` in ``benchmarks/results`` or ``--out``, one row per run (36 rows);
prints, per rack, hosts on and the DPM level's seconds per seed, ordered against unordered.
Asserts that every plan is valid and that no run beats another's proven optimum (ordering the
hosts must not lose a solution).
Takes: about 4 minutes on 2 cores with the default 20 s limit (36 plans, 220 s of solving in the
saved run: a plan stops once every level is proven, so many take under a second, none over 20 s).
Reading it: equal hosts on in a pair means ordering lost nothing; compare the DPM level's seconds
where both prove it; a * marks a level not proven within the limit.

    python -m benchmarks.symmetry_speed [--time-limit S] [--out DIR]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from benchmarks.common import add_out_option, checked_outputs, make_parser, positive_seconds
from scheduler.check import verify_plan
from scheduler.io import atomic_write_csv
from scheduler.model import VM, CpuModel, DpmPolicy, Host, HostState, Instance, Policy
from scheduler.pipeline import make_plan
from scheduler.solver.options import SolveOptions

OUT_NAME = "symmetry_speed.csv"
CPU_MHZ = 62_400  # 2 × 12 cores at 2.6 GHz
MEMORY_MIB = 393_216  # 384 GiB
VCPUS = (4, 8, 16)
MEMORY_GIB = (16, 32, 64, 128)


@dataclass(frozen=True)
class Case:
    hosts: int
    vms: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.hosts}x{self.vms}-s{self.seed}"


CASES = tuple(Case(h, v, s) for h, v in ((12, 24), (16, 32), (20, 40)) for s in range(3))


def build_instance(case: Case) -> Instance:
    """Alike hosts, the first up and the rest on standby; every VM new, DPM on."""
    rng = np.random.default_rng(case.seed)
    hosts = tuple(
        Host(
            name=f"cna-{i:02}",
            cpu_mhz=CPU_MHZ,
            memory_mib=MEMORY_MIB,
            cpu=CpuModel("intel", 4),
            datastores=frozenset({"ds-shared"}),
            networks=frozenset({"dvs-1"}),
            state=HostState.UP if i == 0 else HostState.STANDBY,
        )
        for i in range(case.hosts)
    )
    vms = []
    for k in range(case.vms):
        vcpus = int(rng.choice(VCPUS))
        memory = int(rng.choice(MEMORY_GIB)) * 1024
        vms.append(
            VM(
                name=f"vm-{k:04}",
                host=None,
                vcpus=vcpus,
                memory_mib=memory,
                cpu_demand_mhz=int(vcpus * 2_600 * rng.uniform(0.4, 0.9)),
                memory_demand_mib=int(memory * rng.uniform(0.4, 0.9)),
                datastores=frozenset({"ds-shared"}),
                networks=frozenset({"dvs-1"}),
            )
        )
    policy = Policy(dpm=DpmPolicy(enabled=True))
    return Instance(case.name, hosts, tuple(vms), (), policy)


SOLVER_SEEDS = (0, 1)


@dataclass(frozen=True)
class Run:
    case: str
    hosts: int
    vms: int
    seed: int
    solver_seed: int
    host_symmetry: bool
    hosts_on: int
    bound: int
    proven: bool
    dpm_level_s: float
    status: str
    solve_time_s: float


def run(case: Case, time_limit_s: float, host_symmetry: bool, solver_seed: int) -> Run:
    instance = build_instance(case)
    options = SolveOptions(
        time_limit_s=time_limit_s, num_workers=2, seed=solver_seed, host_symmetry=host_symmetry
    )
    outcome = make_plan(instance, options)
    report = verify_plan(instance, outcome.plan)
    assert report.valid, f"{case.name}: {report}"
    dpm = next(level for level in outcome.result.levels if level.name == "dpm hosts on")
    return Run(
        case.name,
        case.hosts,
        case.vms,
        case.seed,
        solver_seed,
        host_symmetry,
        int(dpm.value),
        int(dpm.bound),
        dpm.optimal,
        round(dpm.wall_s, 3),
        outcome.plan.status.value,
        round(outcome.result.solve_time_s, 2),
    )


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument(
        "--time-limit",
        type=positive_seconds,
        default=20.0,
        metavar="S",
        help="solver seconds per plan (default 20)",
    )
    add_out_option(parser, OUT_NAME)
    args = parser.parse_args(argv)
    (out,) = checked_outputs(parser, args.out, [OUT_NAME])
    runs: list[Run] = []
    print(f"{'case':<10} {'hosts on, ordered':<18} {'unordered':<10} {'DPM level s, ordered':<30} unordered")
    for case in CASES:
        ordered = [run(case, args.time_limit, True, seed) for seed in SOLVER_SEEDS]
        unordered = [run(case, args.time_limit, False, seed) for seed in SOLVER_SEEDS]
        runs += ordered + unordered
        proven = [r.hosts_on for r in ordered + unordered if r.proven]
        assert all(r.hosts_on >= min(proven, default=0) for r in ordered + unordered), case.name
        print(
            f"{case.name:<10} {_hosts(ordered):<18} {_hosts(unordered):<10} "
            f"{_seconds(ordered):<30} {_seconds(unordered)}"
        )
    atomic_write_csv(out, [f.name for f in fields(Run)], (asdict(r) for r in runs))
    print(f"wrote {out}; * = the level's value not proven")


def _hosts(runs: list[Run]) -> str:
    return ", ".join(str(r.hosts_on) for r in runs)


def _seconds(runs: list[Run]) -> str:
    return ", ".join(f"{r.dpm_level_s:.2f}" + ("" if r.proven else "*") for r in runs)


if __name__ == "__main__":
    main()

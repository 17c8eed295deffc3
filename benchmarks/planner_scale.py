"""Migration planner at scale: 128 hosts × 10,000 VMs, a target about 1,500 moves away.

Measures: the planner's wall time for a synthetic cluster with hot spots and a random target that
keeps every host within capacity, and the plan's makespan against a simple lower bound: the
larger of the longest single move (alone on idle links) and, over hosts, the seconds of moves
touching the host divided by the moves it may run at once.
Writes: nothing; prints the instance, planning time, moves, makespan and bound, migration seconds
and data moved, and the checker's verdict (the replay, and the re-simulation of every move on the
shared links, with its time). Exits 1 when the planner finds no safe order or the checker finds
anything (the only assertions: it is a measurement, not a timed test).
Takes: under 10 seconds on 2 cores at the default size (planning itself 0.4-1 s under QEMU's cap,
2-3 s at full link rate; building the target and replaying the plan take the rest).
Reading it: the target is under 10 s of planning; the makespan ratio says how much link sharing
and host limits stretch the plan past the bound (near 1 under QEMU's 128 MiB/s cap, higher at full
link rate, since the bound ignores link sharing).

    python -m benchmarks.planner_scale [--moves 1500] [--seed 0] [--hypervisor qemu] [--concurrency 8]
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from benchmarks.common import add_cluster_size, make_parser, positive_int
from scheduler.check.replay import replay_plan
from scheduler.check.timing import timing_findings
from scheduler.compat import compatibility
from scheduler.migration.planner import Schedule, UnreachableTargetError, plan_migrations
from scheduler.migration.precopy import PrecopyRun, migration_input_for, preset_for_policy
from scheduler.model import HostState, Instance, Plan, PlanStatus
from scheduler.model.defaults import HYPERVISORS
from scheduler.synth import SynthSpec, synthesize_with_witness


@dataclass(frozen=True, slots=True)
class Case:
    """A benchmark instance and the target the planner must reach."""

    instance: Instance
    target: dict[str, str]
    moves: int


def completes_alone(instance: Instance, vm: int) -> bool:
    """Whether the VM's migration completes alone on an idle link under the cluster's preset.

    A guest that dirties memory faster than the preset sends it never completes (QEMU loops until
    cancelled); the planner refuses such targets, so the benchmark leaves those VMs in place.
    """
    policy = instance.policy.migration
    run = PrecopyRun(migration_input_for(instance.vms[vm], policy), preset_for_policy(policy))
    return math.isfinite(run.time_to_finish(run.demand_mibps))


def build_case(
    *,
    hosts: int = 128,
    vms: int = 10_000,
    moves: int = 1_500,
    seed: int = 0,
    hypervisor: str = "fusioncompute",
    concurrency: int | None = None,
) -> Case:
    """A synthetic cluster with hot spots and a target ``moves`` moves away; ``concurrency``, when
    given, is the moves a host may take part in at once (the policy's ``max_concurrent_per_host``).

    The target starts from the generator's witness placement (maintenance host evacuated, hot
    spots relieved) and adds random re-assignments that keep every host within capacity and every
    VM on a host it may use, until ``moves`` VMs change host. VMs whose migration would never
    complete stay where they are.
    """
    spec = SynthSpec(
        hosts=hosts, vms=vms, seed=seed, rule_density="none", skew="hotspots", hypervisor=hypervisor
    )
    instance, witness = synthesize_with_witness(spec)
    if concurrency is not None:
        migration = dataclasses.replace(instance.policy.migration, max_concurrent_per_host=concurrency)
        instance = dataclasses.replace(
            instance, policy=dataclasses.replace(instance.policy, migration=migration)
        )
    rng = np.random.default_rng(seed)
    allowed = compatibility(instance).allowed
    host_index = instance.host_index
    up = np.array([h.state is HostState.UP for h in instance.hosts])
    cpu_cap = instance.host_cpu_mhz.astype(np.float64)
    memory_cap = instance.host_memory_admission_mib
    cpu = instance.vm_cpu_demand_mhz
    memory = instance.vm_memory_mib
    current = [int(h) for h in instance.current_host]
    final = [host_index[witness[v.name]] for v in instance.vms]
    cpu_used = np.zeros(instance.num_hosts)
    memory_used = np.zeros(instance.num_hosts)
    for k, h in enumerate(final):
        cpu_used[h] += cpu[k]
        memory_used[h] += memory[k]

    def fits(k: int, h: int) -> bool:
        return bool(cpu_used[h] + cpu[k] <= cpu_cap[h] and memory_used[h] + memory[k] <= memory_cap[h])

    def reassign(k: int, h: int) -> None:
        cpu_used[final[k]] -= cpu[k]
        memory_used[final[k]] -= memory[k]
        cpu_used[h] += cpu[k]
        memory_used[h] += memory[k]
        final[k] = h

    stuck = {k for k, h in enumerate(current) if h >= 0 and not completes_alone(instance, k)}
    for k in stuck:
        if final[k] != current[k] and up[current[k]] and fits(k, current[k]):
            reassign(k, current[k])
    movable = [k for k, h in enumerate(current) if h >= 0 and k not in stuck and int(allowed[k].sum()) > 1]
    changed = sum(1 for k, h in enumerate(current) if h >= 0 and final[k] != h)
    attempts = 0
    while changed < moves and attempts < 50 * moves:
        attempts += 1
        k = int(rng.choice(movable))
        h = int(rng.choice(np.flatnonzero(allowed[k] & up)))
        if h == final[k] or not fits(k, h):
            continue
        was_moving = final[k] != current[k]
        reassign(k, h)
        changed += int(final[k] != current[k]) - int(was_moving)
    target = {v.name: instance.hosts[final[k]].name for k, v in enumerate(instance.vms)}
    return Case(instance, target, changed)


def run(case: Case) -> tuple[Schedule, float]:
    """Plan the case and return the schedule with the planning wall time in seconds."""
    t0 = time.perf_counter()
    schedule = plan_migrations(case.instance, case.target)
    return schedule, time.perf_counter() - t0


def check(case: Case, schedule: Schedule) -> tuple[list[str], float]:
    """Findings of the replay of the schedule and of its re-simulation on the shared links (empty
    when the plan is safe, reaches the target and its moves end when it says), and the seconds the
    re-simulation took."""
    plan = Plan(
        cluster=case.instance.name,
        status=PlanStatus.FEASIBLE,
        placement=case.target,
        host_states=dict(schedule.host_states),
        migrations=schedule.migrations,
        power_actions=schedule.power_actions,
    )
    findings = replay_plan(case.instance, plan)
    t0 = time.perf_counter()
    findings += timing_findings(case.instance, plan)
    return [str(f) for f in findings], time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__)
    add_cluster_size(parser, hosts=128, vms=10_000)
    parser.add_argument(
        "--moves",
        type=positive_int,
        default=1_500,
        help="about how many VMs the target moves (default 1500)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the cluster and of the target's moves (default 0)"
    )
    parser.add_argument(
        "--hypervisor",
        choices=HYPERVISORS,
        default="fusioncompute",
        help="migration preset of the cluster (default fusioncompute; qemu caps pre-copy at 128 MiB/s)",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=None,
        help="moves a host may take part in at once (default: the inventory default, 2)",
    )
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    case = build_case(
        hosts=args.hosts,
        vms=args.vms,
        moves=args.moves,
        seed=args.seed,
        hypervisor=args.hypervisor,
        concurrency=args.concurrency,
    )
    build_s = time.perf_counter() - t0
    try:
        schedule, plan_s = run(case)
    except UnreachableTargetError as exc:
        print(f"planner: no safe order: {exc}")
        return 1
    s = schedule.stats
    findings, timing_s = check(case, schedule)
    print(
        f"instance: {case.instance.num_hosts} hosts, {case.instance.num_vms} VMs (built in {build_s:.1f} s)"
    )
    print(f"target: {case.moves} VMs change host")
    print(f"planning time: {plan_s:.2f} s")
    print(f"moves: {s.moves} ({s.parking_moves} parking), peak concurrent: {s.peak_concurrent_moves}")
    ratio = s.makespan_s / s.lower_bound_s if s.lower_bound_s > 0 else 1.0
    print(f"makespan: {s.makespan_s:.0f} s, lower bound: {s.lower_bound_s:.0f} s, ratio {ratio:.2f}")
    data_gib = s.total_transferred_mib / 1024
    print(f"total migration time: {s.total_migration_s:.0f} s, data moved: {data_gib:.0f} GiB")
    print(f"timing re-simulated by the checker in {timing_s:.2f} s ({timing_s / plan_s:.2f}x planning)")
    print(f"checker: {'valid' if not findings else f'{len(findings)} finding(s)'}")
    for f in findings[:10]:
        print("  ", f)
    return 0 if not findings else 1


if __name__ == "__main__":
    raise SystemExit(main())

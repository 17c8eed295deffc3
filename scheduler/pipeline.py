"""From an inventory to a verified plan: optimize, schedule, explain, check.

Every plan that leaves this module has passed the solver-free checker (``check.verify_plan``); a
failure is a bug and raises ``InconsistentSolutionError`` instead of being written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from scheduler.check.bounds import lower_bounds
from scheduler.check.feasibility import check_placement
from scheduler.check.metrics import cluster_metrics
from scheduler.check.rules import rule_status
from scheduler.check.verify import verify_plan
from scheduler.compat import Compatibility, compatibility, unmovable
from scheduler.errors import InconsistentSolutionError, InputError, Problem
from scheduler.migration.planner import Schedule, UnreachableTargetError, plan_migrations
from scheduler.model import (
    Conflict,
    HostState,
    Instance,
    MoveReason,
    Plan,
    PlanStatus,
    RuleKind,
    Unmovable,
    Violation,
)
from scheduler.solver.optimize import optimize
from scheduler.solver.options import SolveOptions
from scheduler.solver.result import OptimizeResult, SolveStatus


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    plan: Plan
    result: OptimizeResult
    schedule: Schedule | None


def with_what_if(
    instance: Instance,
    *,
    maintenance: tuple[str, ...] = (),
    threshold: int | None = None,
    dpm: bool | None = None,
    measure: str | None = None,
) -> Instance:
    """Apply the CLI's what-if flags: hosts put in maintenance, DRS threshold/measure, DPM on/off."""
    from scheduler.model import Measure

    problems = [
        Problem("command line", "", "--maintenance", f"unknown host {name!r}")
        for name in maintenance
        if name not in instance.host_index
    ]
    if threshold is not None and not 1 <= threshold <= 5:
        problems.append(Problem("command line", "", "--threshold", f"must be 1..5, got {threshold}"))
    if problems:
        raise InputError(problems)
    hosts = tuple(
        replace(h, state=HostState.MAINTENANCE) if h.name in maintenance else h for h in instance.hosts
    )
    policy = instance.policy
    drs = policy.drs
    if threshold is not None:
        drs = replace(drs, threshold=threshold)
    if measure is not None:
        drs = replace(drs, measure=Measure(measure))
    dpm_policy = replace(policy.dpm, enabled=dpm) if dpm is not None else policy.dpm
    return replace(instance, hosts=hosts, policy=replace(policy, drs=drs, dpm=dpm_policy))


def make_plan(
    instance: Instance,
    options: SolveOptions | None = None,
    *,
    schedule_progress: Callable[[int, int], None] | None = None,
) -> PlanOutcome:
    """Optimize, schedule the moves and assemble the CONTRACT §2 plan; verified before returning."""
    options = options or SolveOptions()
    compat = compatibility(instance)
    result = optimize(instance, options)
    before = cluster_metrics(instance, instance.current_placement(), _states(instance))
    bounds = lower_bounds(instance, compat)
    metrics: dict[str, Any] = {
        "before": before.to_dict(),
        "lower_bounds": bounds,
        "solve_time_s": round(result.solve_time_s, 3),
        "levels": [level.to_dict() for level in result.levels],
        "scope": {"free_vms": result.free_vms, "candidate_pairs": result.candidate_pairs},
        "notes": list(result.notes),
    }
    stuck = tuple(unmovable(instance, compat))
    if result.status is SolveStatus.INFEASIBLE:
        plan = Plan(
            cluster=instance.name,
            status=PlanStatus.INFEASIBLE,
            placement={},
            host_states=dict(result.host_states),
            unmovable=stuck,
            conflicts=result.conflicts,
            metrics=metrics,
        )
        _verified(instance, plan)
        return PlanOutcome(plan, result, None)

    try:
        plan, schedule = plan_from_target(
            instance,
            result.placement,
            result.host_states,
            status=PlanStatus(result.status.value),
            metrics=metrics,
            compat=compat,
            schedule_progress=schedule_progress,
            extra_unmovable=lambda stuck: _balancer_wishes(instance, compat, stuck, result),
        )
    except UnreachableTargetError as exc:
        # The placement is right but no safe order of live migrations reaches it (e.g. a VM that
        # must leave an overfull host cannot converge): that is an infeasible inventory, said so.
        conflict = Conflict("migration", "schedule", exc.message, hosts=tuple(exc.hosts), vms=tuple(exc.vms))
        plan = Plan(
            cluster=instance.name,
            status=PlanStatus.INFEASIBLE,
            placement={},
            host_states={h.name: h.state.value for h in instance.hosts},
            unmovable=stuck,
            conflicts=(conflict,),
            metrics=metrics,
        )
        _verified(instance, plan)
        return PlanOutcome(plan, result, None)
    return PlanOutcome(plan, result, schedule)


def plan_from_target(
    instance: Instance,
    placement: Mapping[str, str],
    host_states: Mapping[str, str],
    *,
    status: PlanStatus = PlanStatus.FEASIBLE,
    metrics: dict[str, Any] | None = None,
    compat: Compatibility | None = None,
    schedule_progress: Callable[[int, int], None] | None = None,
    extra_unmovable: Callable[[tuple[Unmovable, ...]], tuple[Unmovable, ...]] | None = None,
) -> tuple[Plan, Schedule]:
    """The verified CONTRACT §2 plan reaching any feasible target (optimizer's or a baseline's).

    The target's final state is checked first (a failure is a bug of whoever made the target),
    then the planner orders and times the moves, and the whole plan is verified by replay.
    ``metrics`` gets ``before`` / ``after`` / ``lower_bounds`` / ``schedule`` where missing.
    """
    compat = compat or compatibility(instance)
    metrics = dict(metrics or {})
    findings = check_placement(instance, placement, host_states, compat)
    if findings:
        raise InconsistentSolutionError(
            "target placement fails the checker:\n" + "\n".join(str(f) for f in findings)
        )
    schedule = plan_migrations(
        instance,
        placement,
        host_states,
        reasons=_move_reasons(instance, compat, placement, host_states),
        progress=schedule_progress,
    )
    metrics.setdefault(
        "before", cluster_metrics(instance, instance.current_placement(), _states(instance)).to_dict()
    )
    metrics.setdefault("lower_bounds", lower_bounds(instance, compat))
    metrics["after"] = cluster_metrics(instance, placement, host_states).to_dict()
    metrics["schedule"] = schedule.stats.as_dict()
    places_new_vms = any(vm.host is None and vm.name in placement for vm in instance.vms)
    changed = bool(schedule.migrations or schedule.power_actions or places_new_vms)
    stuck = tuple(unmovable(instance, compat))
    plan = Plan(
        cluster=instance.name,
        status=status if changed else PlanStatus.UNCHANGED,
        placement=dict(placement),
        host_states=dict(host_states),
        migrations=schedule.migrations,
        power_actions=schedule.power_actions,
        violations=_violations(instance, compat, placement, host_states),
        unmovable=stuck + (extra_unmovable(stuck) if extra_unmovable else ()),
        metrics=metrics,
    )
    _verified(instance, plan)
    return plan, schedule


def _verified(instance: Instance, plan: Plan) -> None:
    report = verify_plan(instance, plan)
    if not report.valid:
        raise InconsistentSolutionError(
            "plan fails the checker:\n" + "\n".join(str(f) for f in report.findings)
        )


def _states(instance: Instance) -> dict[str, str]:
    return {h.name: h.state.value for h in instance.hosts}


def _move_reasons(
    instance: Instance,
    compat: Compatibility,
    placement: Mapping[str, str],
    host_states: Mapping[str, str],
) -> dict[str, MoveReason]:
    """Why each VM moves: maintenance > rule (priority-1 repair or soft rule) > dpm > drs.

    DPM: the source is powered off by the plan, or the target is a standby host it powers on.
    """
    in_broken_rule: set[str] = set()
    for status in rule_status(instance, instance.current_placement()):
        if not status.satisfied:
            rule = instance.rules[instance.rule_index[status.rule]]
            # VM-VM rules: any member may be the one that moves (another may be pinned or
            # costlier); VM-to-host rules: only the VMs on the wrong side.
            in_broken_rule.update(status.violating_vms if rule.kind is RuleKind.VM_HOST else rule.vms)
    reasons: dict[str, MoveReason] = {}
    for vm in instance.vms:
        target = placement.get(vm.name)
        if vm.host is None or target is None or target == vm.host:
            continue
        source_state = instance.host(vm.host).state
        if source_state in (HostState.MAINTENANCE, HostState.DOWN):
            reasons[vm.name] = MoveReason.MAINTENANCE
        elif vm.name in in_broken_rule or not compat.is_allowed(vm.name, vm.host):
            reasons[vm.name] = MoveReason.RULE
        elif host_states.get(vm.host) == HostState.STANDBY.value or (
            instance.host(target).state is HostState.STANDBY
        ):
            # Emptied for power-off, or onto a host DPM brought back for the demand.
            reasons[vm.name] = MoveReason.DPM
        else:
            reasons[vm.name] = MoveReason.DRS
    return reasons


def _violations(
    instance: Instance,
    compat: Compatibility,
    placement: Mapping[str, str],
    host_states: Mapping[str, str],
) -> tuple[Violation, ...]:
    """Soft rules left broken, each with what it yields to (CONTRACT §1).

    Named, in this order: the higher-priority rules that share VMs with it, DPM when a host the
    rule wants is powered off, compatibility when some VM has no allowed host that satisfies it,
    and capacity when none of these applies.
    """
    out: list[Violation] = []
    dpm_on = instance.policy.dpm.enabled
    for status in rule_status(instance, placement):
        if status.satisfied or status.priority == 1:
            continue
        rule = instance.rules[instance.rule_index[status.rule]]
        members = set(rule.vms)
        winners = [
            f"priority-{other.priority} rule {other.name}"
            for other in instance.rules
            if other.priority < rule.priority and members & set(other.vms)
        ]
        if rule.kind is RuleKind.VM_HOST:
            if dpm_on and rule.wants_hosts:
                off = [h for h in rule.hosts if host_states.get(h) == HostState.STANDBY.value]
                if off:
                    winners.append(f"DPM (host {', '.join(off)} powered off)")
            blocked = [
                vm
                for vm in status.violating_vms
                if not any(rule.allows_host(h.name) and compat.is_allowed(vm, h.name) for h in instance.hosts)
            ]
            if blocked:
                winners.append(f"compatibility (no allowed host satisfies it for {', '.join(blocked)})")
        if not winners:
            winners.append("capacity (no placement within capacity keeps it)")
        out.append(
            Violation(
                rule=rule.name,
                priority=status.priority,
                vms=status.violating_vms,
                detail=f"{status.detail}; yields to {'; '.join(winners)}",
            )
        )
    return tuple(out)


def _balancer_wishes(
    instance: Instance, compat: Compatibility, stuck: tuple[Unmovable, ...], result: OptimizeResult
) -> tuple[Unmovable, ...]:
    """VMs the balancer would have liked to move, and why not: movable VMs left on hot hosts.

    Listed only when the plan leaves the cluster outside the DRS tolerance; "hot" = above the
    mean utilization plus the tolerance on a measured resource.
    """
    after = cluster_metrics(instance, result.placement, result.host_states)
    if after.drs_balanced:
        return ()
    resources = instance.policy.drs.measure.resources
    hot: set[str] = set()
    cool: set[str] = set()
    for h in after.hosts:
        if h.state != HostState.UP.value:
            continue
        utilization = {"cpu": h.cpu_utilization, "memory": h.memory_utilization}
        if any(utilization[r] > after.mean_utilization[r] + after.drs_tolerance for r in resources):
            hot.add(h.name)
        elif all(utilization[r] < after.mean_utilization[r] for r in resources):
            cool.add(h.name)
    affinity = {name: r.name for r in instance.rules if r.kind is RuleKind.AFFINITY for name in r.vms}
    listed = {u.vm for u in stuck}
    out: list[Unmovable] = []
    for vm in instance.vms:
        if vm.name in listed or result.placement.get(vm.name) not in hot or vm.immobility_reasons():
            continue
        if vm.name in affinity:
            why = f"kept with its affinity group ({affinity[vm.name]})"
        elif not any(compat.is_allowed(vm.name, h) for h in cool):
            why = "no compatible host with spare load (storage, network, CPU or priority-1 rules)"
        else:
            why = "no move of it lowers the imbalance within capacity, rules and the move budget"
        out.append(Unmovable(vm.name, (f"balancer wanted to move it off hot host; {why}",)))
    return tuple(out)

"""From an inventory to a verified plan: optimize, schedule, explain, check.

Every plan that leaves this module has passed the solver-free checker (``check.verify_plan``); a
failure is a bug and raises ``InconsistentSolutionError`` instead of being written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from scheduler.check.bounds import lower_bounds
from scheduler.check.capacity import host_loads, over_capacity
from scheduler.check.feasibility import check_placement
from scheduler.check.metrics import cluster_metrics
from scheduler.check.rules import rule_status
from scheduler.check.verify import verify_plan
from scheduler.compat import Compatibility, compatibility, unmovable
from scheduler.errors import InconsistentSolutionError
from scheduler.migration.planner import Schedule, UnreachableTargetError, plan_migrations
from scheduler.model import (
    BALANCER_WISH,
    KEPT_IN_PLACE,
    UNSAFE_MIGRATION,
    Conflict,
    HostState,
    Instance,
    MoveReason,
    Plan,
    PlanStatus,
    RuleKind,
    Unmovable,
)
from scheduler.solver.optimize import optimize
from scheduler.solver.options import SolveOptions
from scheduler.solver.result import MIN_GOODNESS, OptimizeResult, SolveStatus
from scheduler.solver.staged import NoSolutionError
from scheduler.violations import explain_violations
from scheduler.what_if import with_what_if as with_what_if  # part of this module's API


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    plan: Plan
    result: OptimizeResult
    schedule: Schedule | None


def make_plan(
    instance: Instance,
    options: SolveOptions | None = None,
    *,
    schedule_progress: Callable[[int, int], None] | None = None,
) -> PlanOutcome:
    """Optimize, schedule the moves and assemble the plan (docs/plan.md); verified before returning."""
    options = options or SolveOptions()
    compat = compatibility(instance)
    result = optimize(instance, options)
    stuck = tuple(unmovable(instance, compat))
    metrics = _metrics_of(instance, compat, result)
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

    if options.progress:
        moves = sum(
            1 for vm in instance.vms if vm.host is not None and result.placement.get(vm.name) != vm.host
        )
        counted = f"{moves:,} migration{'' if moves == 1 else 's'}"
        options.progress("plan", f"ordering and timing {counted}, then checking the plan")
    try:
        return _scheduled(instance, compat, result, metrics, options, schedule_progress)
    except UnreachableTargetError as exc:
        unreachable = exc
    # No safe order of live migrations reaches the target: typically a swap between full hosts
    # with no room anywhere to park one of the VMs. Plan again with those of them that may stay
    # held where they are: a plan that keeps them is worse than the first target but can be
    # carried out. The retries share RETRY_SHARE of the time limit.
    held: set[str] = set()
    blocked = unreachable
    holding_conflicts: tuple[Conflict, ...] = ()  # why a plan holding the blocked VMs is infeasible
    retry_deadline = time.monotonic() + max(RETRIES * RETRY_LEAST_S, options.time_limit_s * RETRY_SHARE)
    for attempt in range(RETRIES):
        more = _held_for(instance, compat, blocked)
        share = (retry_deadline - time.monotonic()) / (RETRIES - attempt)
        if result.interrupted:
            # Ctrl-C ended the first search: the user wants the plan now, and each retry's own
            # search no longer sees that stop (it starts listening afresh).
            share = min(share, RETRY_LEAST_S)
        if not more or more <= held or share < RETRY_LEAST_S / 2:
            break  # none may stay, nothing new to hold, or no time left
        held |= more
        try:
            retry = optimize(_holding(instance, held), replace(options, time_limit_s=share))
        except NoSolutionError:
            break  # holding them found no placement within its share: reported below
        if retry.status is SolveStatus.INFEASIBLE:
            holding_conflicts = retry.conflicts
            break
        note = f"kept {', '.join(sorted(held))} where they are: the first target needed {unreachable.message}"
        try:
            return _scheduled(
                instance,
                compat,
                retry,
                _metrics_of(instance, compat, retry, extra_note=note),
                options,
                schedule_progress,
                frozenset(held),
            )
        except UnreachableTargetError as again:
            blocked = again  # the new target blocks elsewhere: hold those VMs too
    # No VM of the blocked moves may stay (e.g. all sit on an overfull host), or holding them
    # found no plan in time, or none exists: the inventory is reported infeasible with the first
    # target's blocked moves, what makes holding them infeasible (the rule that needed the room
    # a blocked VM was to make, say), and the first solve's metrics.
    conflict = Conflict(
        "migration",
        "schedule",
        unreachable.message,
        hosts=tuple(unreachable.hosts),
        vms=tuple(unreachable.vms),
    )
    plan = Plan(
        cluster=instance.name,
        status=PlanStatus.INFEASIBLE,
        placement={},
        host_states={h.name: h.state.value for h in instance.hosts},
        unmovable=stuck,
        conflicts=(conflict, *holding_conflicts),
        metrics=metrics,
    )
    _verified(instance, plan)
    return PlanOutcome(plan, result, None)


# Planning again around moves no safe order reaches: each time the VMs of the blocked moves are
# held too, at most RETRIES times, all of them within RETRY_SHARE of the time limit (at least
# RETRY_LEAST_S each), split evenly: so such a run may take up to a third longer than
# --time-limit (3 s on short limits), and only such a run.
RETRIES = 3
RETRY_SHARE = 1 / 3
RETRY_LEAST_S = 1.0


def _metrics_of(
    instance: Instance, compat: Compatibility, result: OptimizeResult, *, extra_note: str | None = None
) -> dict[str, Any]:
    before = cluster_metrics(instance, instance.current_placement(), _states(instance))
    return {
        "before": before.to_dict(),
        "lower_bounds": lower_bounds(instance, compat),
        "solve_time_s": round(result.solve_time_s, 3),
        "levels": [level.to_dict() for level in result.levels],
        "scope": {"free_vms": result.free_vms, "candidate_pairs": result.candidate_pairs},
        "notes": [*result.notes, *([extra_note] if extra_note else [])],
        "policy": policy_record(instance),
    }


def _scheduled(
    instance: Instance,
    compat: Compatibility,
    result: OptimizeResult,
    metrics: dict[str, Any],
    options: SolveOptions,
    schedule_progress: Callable[[int, int], None] | None,
    held: frozenset[str] = frozenset(),
) -> PlanOutcome:
    plan, schedule = plan_from_target(
        instance,
        result.placement,
        result.host_states,
        status=PlanStatus(result.status.value),
        metrics=metrics,
        compat=compat,
        schedule_progress=schedule_progress,
        extra_unmovable=lambda stuck: _not_moved(instance, compat, stuck, result, held),
        max_migrations=options.max_migrations,
        forced_moves=result.forced_moves,
        unsafe_moves=result.unsafe_moves,
        kept_in_place=held,
    )
    return PlanOutcome(plan, result, schedule)


def _not_moved(
    instance: Instance,
    compat: Compatibility,
    stuck: tuple[Unmovable, ...],
    result: OptimizeResult,
    held: frozenset[str],
) -> tuple[Unmovable, ...]:
    """What ``unmovable`` adds to the VMs that cannot move at all: those whose migration is not
    safe, then those the balancer would have moved off a hot host."""
    unsafe = _not_converging(instance, result)
    return unsafe + _balancer_wishes(instance, compat, stuck + unsafe, result, held)


def _held_for(instance: Instance, compat: Compatibility, exc: UnreachableTargetError) -> set[str]:
    """The VMs of the blocked moves that may stay where they are: not new, not on a host over
    capacity (which must shed some VM) nor on one that no longer allows them (leaving service, a
    priority-1 rule). Holding those lets the next target free the rest another way: empty when
    none may stay."""
    # A host over capacity today must shed load, and which of its VMs go is the solver's choice;
    # a VM on a maintenance or down host is one its host no longer allows (``compat``).
    full = over_capacity(instance, host_loads(instance, instance.current_host))
    shedding = {h.name for h, over in zip(instance.hosts, full, strict=True) if over}
    return {
        name
        for name in exc.vms
        if (host := instance.vm(name).host) is not None
        and host not in shedding
        and compat.is_allowed(name, host)
    }


def _holding(instance: Instance, held: set[str]) -> Instance:
    """``instance`` with the ``held`` VMs bound to their hosts (for the solver only: the plan is
    checked and reported against the inventory as it is)."""
    vms = tuple(replace(vm, pinned=True) if vm.name in held else vm for vm in instance.vms)
    return replace(instance, vms=vms)


def policy_record(instance: Instance) -> dict[str, Any]:
    """The DRS and DPM policy a plan is made under, for ``metrics.policy`` (docs/plan.md).

    Why recorded: the what-if flags (``--dpm``, ``--threshold``, ``--measure``) change the policy
    without changing the inventory, so a report read from the inventory alone would describe a
    policy the plan was not made under.
    """
    drs, dpm = instance.policy.drs, instance.policy.dpm
    return {
        "drs": {"enabled": drs.enabled, "threshold": drs.threshold, "measure": drs.measure.value},
        "dpm": {
            "enabled": dpm.enabled,
            "threshold": dpm.threshold,
            "target_utilization": list(dpm.target_utilization),
            "min_hosts_on": dpm.min_hosts_on,
        },
    }


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
    max_migrations: int | None = None,
    forced_moves: int = 0,
    unsafe_moves: frozenset[str] | None = None,
    kept_in_place: frozenset[str] = frozenset(),
) -> tuple[Plan, Schedule]:
    """The verified plan (docs/plan.md) reaching any feasible target (optimizer's or a baseline's).

    The target's final state is checked first (a failure is a bug of whoever made the target),
    then the planner orders and times the moves, and the whole plan is verified by replay.
    ``metrics`` gets ``before`` / ``after`` / ``lower_bounds`` / ``schedule`` where missing.
    ``max_migrations``: the move budget the target was made under, if any, so that a soft rule
    left broken can name it as what the rule yields to; ``forced_moves``: the moves capacity
    forced on top of it, which the budget does not count; ``unsafe_moves``: the VMs whose
    migration is not safe, when the caller knows them (else estimated if a broken rule needs it);
    ``kept_in_place``: the VMs held where they are after no safe order reached a first target.
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
    # Computed only where the caller has not (the bounds take seconds on thousands of hosts).
    if "before" not in metrics:
        metrics["before"] = cluster_metrics(
            instance, instance.current_placement(), _states(instance)
        ).to_dict()
    if "lower_bounds" not in metrics:
        metrics["lower_bounds"] = lower_bounds(instance, compat)
    metrics.setdefault("policy", policy_record(instance))
    metrics["after"] = cluster_metrics(instance, placement, host_states).to_dict()
    metrics["schedule"] = schedule.stats.as_dict()
    if schedule.notes:
        metrics["notes"] = [*metrics.get("notes", []), *schedule.notes]
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
        violations=explain_violations(
            instance,
            compat,
            placement,
            host_states,
            max_migrations,
            forced_moves,
            unsafe_moves,
            kept_in_place,
        ),
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
    An affinity partner following a member that moves for another reason than balance: rule.
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
    # An affinity partner that goes where a member moving for a rule, maintenance or DPM goes
    # keeps its group together: a rule move, not one for balance.
    for rule in instance.rules_of_kind(RuleKind.AFFINITY):
        led = {placement.get(v) for v in rule.vms if reasons.get(v) not in (None, MoveReason.DRS)}
        for v in rule.vms:
            if reasons.get(v) is MoveReason.DRS and placement.get(v) in led:
                reasons[v] = MoveReason.RULE
    return reasons


def _not_converging(instance: Instance, result: OptimizeResult) -> tuple[Unmovable, ...]:
    """VMs left where they are because their live migration is not safe (it would abort, stop
    with a downtime over the limit, or is at risk of either): the optimizer moves them only when
    it must, so for balancing they cannot move."""
    hypervisor = instance.policy.migration.hypervisor
    out: list[Unmovable] = []
    for vm in instance.vms:
        if vm.name not in result.unsafe_moves or vm.host is None or vm.immobility_reasons():
            continue
        if result.placement.get(vm.name) != vm.host:
            continue  # it had to move, and did
        why = (
            f"{UNSAFE_MIGRATION} under {hypervisor} "
            f"({vm.dirty_rate_mibps:g} MiB/s dirtied, {vm.memory_mib:,} MiB): moved only when it must"
        )
        out.append(Unmovable(vm.name, (why,)))
    return tuple(out)


def _balancer_wishes(
    instance: Instance,
    compat: Compatibility,
    stuck: tuple[Unmovable, ...],
    result: OptimizeResult,
    held: frozenset[str] = frozenset(),
) -> tuple[Unmovable, ...]:
    """VMs the balancer would have liked to move, and why not: movable VMs the plan leaves where
    they are, on a host that ends hot.

    Listed only when DRS is on and the plan leaves the cluster outside its tolerance (with DRS
    off no balancer wanted anything); "hot" = above the
    mean utilization plus the tolerance on a measured resource. A VM the plan moves, or places
    for the first time, is not one the balancer failed to move, whatever host it ends on.
    ``held``: VMs kept in place because no safe order of migrations reached a target moving them.
    """
    if not instance.policy.drs.enabled:
        return ()
    after = cluster_metrics(instance, result.placement, result.host_states)
    if after.drs_balanced:
        return ()
    resources = instance.policy.drs.measure.resources
    up = [h for h in after.hosts if h.state == HostState.UP.value]
    utilization = {h.name: {"cpu": h.cpu_utilization, "memory": h.memory_utilization} for h in up}
    mean, tolerance = after.mean_utilization, after.drs_tolerance
    # Per hot host, the resources it is hot on: a host with room for its VMs is one below the
    # mean on those (what the others do does not matter for taking load off this one).
    hot_on = {
        name: [r for r in resources if u[r] > mean[r] + tolerance]
        for name, u in utilization.items()
        if any(u[r] > mean[r] + tolerance for r in resources)
    }
    # The hosts with room for a hot host's VMs depend on the host alone: found once per hot host.
    room = {
        hot: [
            instance.host_index[name]
            for name, u in utilization.items()
            if name != hot and all(u[r] < mean[r] for r in on)
        ]
        for hot, on in hot_on.items()
    }
    affinity = {name: r.name for r in instance.rules if r.kind is RuleKind.AFFINITY for name in r.vms}
    # Threshold 5 leaves a cluster as it is when no plan gains its minimum goodness: a move that
    # lowers the imbalance may exist, only by too little, so "no move lowers it" would be false.
    below_goodness = any(MIN_GOODNESS in note for note in result.notes)
    listed = {u.vm for u in stuck}
    out: list[Unmovable] = []
    for i, vm in enumerate(instance.vms):
        host = result.placement.get(vm.name)
        if vm.name in listed or host != vm.host or host not in hot_on or vm.immobility_reasons():
            continue
        if vm.name in held:
            why = KEPT_IN_PLACE
        elif vm.name in affinity:
            why = f"kept with its affinity group ({affinity[vm.name]})"
        elif not compat.allowed[i, room[host]].any():
            why = "no compatible host with spare load (storage, network, CPU or priority-1 rules)"
        elif below_goodness:
            why = f"no move of it lowers the imbalance by {MIN_GOODNESS} (see the notes)"
        else:
            why = "no move of it lowers the imbalance within capacity, rules and the move budget"
        out.append(Unmovable(vm.name, (f"{BALANCER_WISH} {host}: {why}",)))
    return tuple(out)

"""The optimizer's entry point: instance in, target placement and host power out."""

from __future__ import annotations

import functools
import math
import time
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from scheduler.check.bounds import dpm_hosts_bound
from scheduler.check.metrics import drs_min_goodness, drs_tolerance
from scheduler.compat import compatibility
from scheduler.heuristics.balance import imbalance
from scheduler.heuristics.consolidate import empty_hosts
from scheduler.heuristics.drs_greedy import greedy_balance
from scheduler.heuristics.repair import repair_placement
from scheduler.heuristics.rule_repair import repair_vm_rules
from scheduler.heuristics.state import LoadState, high_target_limits
from scheduler.interrupt import stop_requested, stop_requested_on_sigint
from scheduler.model import NO_HOST, HostState, Instance
from scheduler.solver.balance import BalancePenalty, DrsBand
from scheduler.solver.conflicts import explain_infeasibility, migration_conflicts, structural_conflicts
from scheduler.solver.costs import move_costs, unsafe_vms
from scheduler.solver.guided import guided_start
from scheduler.solver.options import SolveOptions
from scheduler.solver.problem import (
    POWER_DECIDE,
    POWER_OFF,
    POWER_ON,
    Problem,
    choose_candidates,
    host_power,
    mandatory_moves,
    rule_members_in_violation,
    settled_for_balance,
    soft_rule_members,
)
from scheduler.solver.result import COST_UNIT, LevelOutcome, OptimizeResult, SolveStatus
from scheduler.solver.revert import drop_unneeded_moves
from scheduler.solver.staged import NoSolutionError, solve_staged
from scheduler.solver.symmetry import canonical, interchangeable_hosts

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

WIDE_SCOPE_MAX_PAIRS = 400_000  # above this, a widened scope still uses candidate sets
LOCAL_SEARCH_PAIRS = 6_000  # above this many (VM, host) candidates, late levels use local search
# Up to this many (VM, allowed host) pairs, every VM that may move gets every host it may use:
# the model is then the whole problem, so a level proven optimal is optimal for the cluster, and a
# plan's target fed back finds nothing left to do. Above it, repair mode restricts the scope.
COMPLETE_SCOPE_MAX_PAIRS = LOCAL_SEARCH_PAIRS
GREEDY_SHARE = 0.5  # of the time limit, for the greedy balancing warm start
GREEDY_AIM_STEP = 0.01  # how much lower each further round of the greedy aims (× the allowance)
GREEDY_AIM_LEAST = 0.9
GREEDY_SHARE_DPM = 0.2  # ... with DPM on, whose level comes first and needs the time more


def optimize(instance: Instance, options: SolveOptions | None = None) -> OptimizeResult:
    """Find the target placement and host power states; Ctrl-C returns the best found so far."""
    with stop_requested_on_sigint():
        return _optimize(instance, options)


def _optimize(
    instance: Instance,
    options: SolveOptions | None = None,
    *,
    high_target_missed: str | None = None,
    started: float | None = None,
) -> OptimizeResult:
    """Find the target placement and host power states (levels: P2 > DPM > P3 > DRS > cost).

    Returns ``UNCHANGED`` with today's placement when nothing needs to change, ``INFEASIBLE`` with
    a conflict set when the hard constraints cannot hold together. ``high_target_missed`` (why
    no placement keeps the hosts within DPM's high target) asks for the retry that keeps every
    host on instead.
    """
    options = options or SolveOptions()
    started = time.monotonic() if started is None else started
    notes: list[str] = []
    compat = compatibility(instance)
    allowed = compat.allowed
    movable = np.array([not v.immobility_reasons() for v in instance.vms], dtype=np.bool_)
    costs = move_costs(instance)
    # Named once here for the plan's explanations (unmovable, what a rule yields to).
    unsafe = unsafe_vms(instance, costs)
    policy = instance.policy
    dpm = policy.dpm.enabled
    power = host_power(instance, dpm, movable)
    mandatory = mandatory_moves(instance, allowed, power)
    usable = power != POWER_OFF

    conflicts = structural_conflicts(instance, compat, power)
    conflicts += migration_conflicts(instance, mandatory & movable & ~costs.completes)
    if conflicts:
        return _infeasible(instance, conflicts, started)

    # A move that would not converge is never optional: non-converging moves are forbidden.
    movable_optional = movable & costs.converges
    stuck = movable & ~costs.converges
    placed_today = instance.current_host != NO_HOST
    if np.any(stuck & placed_today):
        notes.append(
            f"{int(np.sum(stuck & placed_today))} VM(s) kept in place unless they must move: "
            "their live migration would not converge"
        )
    if np.any(stuck & ~placed_today):
        # Placing a new VM is no migration, but moving it later would be: where it lands is final.
        notes.append(
            f"{int(np.sum(stuck & ~placed_today))} new VM(s) placed for good: once running, their "
            "live migration would not converge"
        )

    resources = policy.drs.measure.resources
    up_now = np.array([h.state is HostState.UP for h in instance.hosts])
    threshold = policy.drs.threshold
    balances = policy.drs.enabled and math.isfinite(drs_tolerance(threshold, 1))

    # -- power decision and warm start ----------------------------------------------------------
    dpm_high: float | None = policy.dpm.target_utilization[1] if dpm else None
    warm: IntArray | None = None
    warm_on = power == POWER_ON
    warm_within_high = False
    if dpm and high_target_missed is None:
        # Repair today's placement within the DPM high target on the hosts up now (then with the
        # standby ones too), and empty hosts greedily from there: DPM's warm start.
        for start_on in (up_now & usable, usable.copy()):
            warm = _repair(
                instance, allowed, start_on, costs.seconds, movable, dpm_high, movable_optional | mandatory
            )
            if warm is not None:
                # What must move anyway (new VMs, evacuations) may land wherever emptying wants:
                # a second choice of target is not a second migration.
                warm, warm_on = empty_hosts(
                    instance,
                    warm,
                    start_on,
                    allowed,
                    movable_optional | (movable & mandatory),
                    dpm_high or 1.0,
                    policy.dpm.min_hosts_on,
                    power == POWER_DECIDE,
                )
                warm_within_high = True
                break
        if warm is None and _beyond_high_target(instance, usable, movable, dpm_high or 1.0):
            high_target_missed = "the cluster's demand exceeds the DPM high target of all its hosts together"
        elif warm is None:
            # Greedy is no proof: CP-SAT decides the power under the high target, from a warm start
            # with every host on (repaired below), and only what it proves (or fails to find) keeps
            # every host on.
            notes.append("greedy repair found no placement within the DPM high target")
            warm_on = usable.copy()
    if dpm and high_target_missed is not None:
        notes.append(f"{high_target_missed}: hosts stay on")
        power = np.where(power == POWER_DECIDE, POWER_ON, power)
        dpm_high = None
        warm_on = power == POWER_ON
    if warm is None:
        # Within full capacity: a warm start within DPM's high target was found above or not at all.
        warm = _repair(instance, allowed, warm_on, costs.seconds, movable, None, movable_optional | mandatory)
    if warm is None:
        notes.append("greedy repair found no feasible warm start; CP-SAT starts from today's placement")
        warm = instance.current_host.copy()

    # -- nothing to do? -------------------------------------------------------------------------
    current = instance.current_host
    state_now = LoadState(instance, current)
    broken_now = rule_members_in_violation(instance, current)
    imbalance_now = imbalance(state_now, resources, up_now)
    band = (
        DrsBand(
            instance,
            resources,
            functools.partial(drs_tolerance, threshold),
            allowed,
            movable_optional | (movable & mandatory),
        )
        if balances
        else None
    )
    # Nothing must be evacuated, placed or relieved of overload; with no rule broken either, only
    # balance could call for moves.
    nothing_forced = not mandatory.any() and not state_now.over_capacity().any()
    balance_only = nothing_forced and not broken_now.any()
    # Threshold 5 (tolerance 0): a balance-only plan must gain at least the minimum goodness, over
    # the hosts up now. Such a plan powers nothing on or off (``for_balance_alone`` below), so
    # these are also the hosts up after it; hosts in standby that DPM could wake do not count.
    hosts_up = max(int((up_now & usable).sum()), 1)
    no_tolerance = band is not None and band.tolerance(up_now & usable) == 0
    min_gain = drs_min_goodness(hosts_up) if no_tolerance else 0.0
    if balance_only and not dpm:
        within = band is None or bool(np.all(imbalance_now <= band.allowance(up_now & usable, imbalance_now)))
        if within:
            note = "the cluster is within the DRS tolerance and breaks no rule"
            if band is not None and np.any(imbalance_now > band.tolerance(up_now & usable)):
                note = (
                    "the cluster is within the DRS tolerance of the balance its compatibility islands "
                    f"allow ({_floor_note(band, up_now & usable)}) and breaks no rule"
                )
            return _unchanged(instance, started, note, unsafe)
        if bool(np.all(imbalance_now < min_gain)):
            return _unchanged(
                instance,
                started,
                unsafe=unsafe,
                note=f"the cluster's imbalance is below threshold 5's minimum goodness {min_gain:.4f}, so no "
                "plan could lower it that much, and it breaks no rule",
            )

    # Improve the warm start with cost-aware greedy balancing within a slice of the time budget
    # (a smaller one with DPM, which comes first); on large clusters also from the LP
    # relaxation's choice of moves, keeping the better.
    if band is not None:
        warm = _balanced_warm_start(
            instance,
            warm,
            warm_on,
            allowed,
            movable_optional & ~soft_rule_members(instance),
            band,
            costs.seconds,
            dpm_high,
            options,
            started + (GREEDY_SHARE_DPM if dpm else GREEDY_SHARE) * options.time_limit_s,
        )
    # Every VM that may move, and any the warm start moved anyway (repairing an over-full host may
    # move a VM whose migration would not converge).
    may_move = np.flatnonzero(movable_optional | mandatory | (warm != current))
    complete = int((allowed[may_move] & usable[None, :]).sum()) <= COMPLETE_SCOPE_MAX_PAIRS

    free = (
        may_move
        if complete
        else _scope(
            instance,
            options,
            mandatory,
            movable,
            movable_optional,
            warm,
            warm_on,
            broken_now,
            resources,
            band,
            costs.seconds,
        )
    )

    # A VM left without variables stays where it is, so its host stays on whatever DPM prefers.
    fixed = np.ones(instance.num_vms, dtype=np.bool_)
    fixed[free] = False
    fixed_hosts = current[fixed & (current != NO_HOST)]
    warm_on = warm_on.copy()
    warm_on[fixed_hosts] = True
    rng = np.random.default_rng(options.seed)
    coldness = -_heat(LoadState(instance, warm), resources)
    problem = Problem(
        instance=instance,
        allowed=allowed,
        movable=movable,
        cost_s=costs.seconds,
        converges=costs.converges,
        mandatory=mandatory,
        power=power,
        free=free,
        candidates=choose_candidates(
            instance,
            free,
            allowed,
            usable,
            warm,
            coldness,
            instance.num_hosts if complete else options.candidate_hosts,
            rng,
        ),
        warm=warm,
        warm_on=warm_on,
        dpm_high=dpm_high,
        resources=resources,
        # Where the warm start already switches off all it can, the DPM level is proven at once
        # and its time share goes to the levels after it.
        dpm_hosts_bound=dpm_hosts_bound(instance, allowed) if dpm_high is not None else 0,
    )
    if options.host_symmetry:
        problem = _with_host_order(problem)
    large = problem.num_candidate_pairs > LOCAL_SEARCH_PAIRS
    try:
        outcome = solve_staged(problem, options, band, started, local_search=large)
    except NoSolutionError:
        if dpm_high is None or warm_within_high or stop_requested():
            raise
        missed = f"no placement within the DPM high target found in {options.time_limit_s:g} s"
        return _optimize(instance, options, high_target_missed=missed, started=started)
    if not outcome.feasible:
        # The restriction may be what made it infeasible: widen to every VM that may move.
        wide_free = np.flatnonzero(movable_optional | mandatory)
        pairs = int((allowed[wide_free] & usable[None, :]).sum())
        k = instance.num_hosts if pairs <= WIDE_SCOPE_MAX_PAIRS else 2 * options.candidate_hosts
        problem = _replace_scope(problem, wide_free, k, usable, coldness, rng)
        if options.host_symmetry:
            problem = _with_host_order(problem)
        complete = k == instance.num_hosts
        notes.append(f"scope widened to {len(wide_free)} VMs")
        outcome = solve_staged(problem, options, band, started, local_search=large)
        if not outcome.feasible and dpm_high is not None and not warm_within_high:
            missed = "no placement keeps the hosts within the DPM high target, even with every host on"
            return _optimize(instance, options, high_target_missed=missed, started=started)
        if not outcome.feasible:
            return _infeasible(
                instance,
                explain_infeasibility(instance, compat, power, movable & ~costs.converges & ~mandatory),
                started,
            )

    assignment = outcome.assignment
    levels = outcome.levels
    if options.max_migrations is not None and outcome.forced_moves > 0:
        fewest = "" if outcome.forced_proven else " (the fewest found, not proven)"
        limits = "capacity" if problem.dpm_high is None else "capacity and DPM's high target"
        notes.append(
            f"{outcome.forced_moves} move(s) are needed to bring hosts within {limits}{fewest}: "
            f"--max-migrations {options.max_migrations} counts the moves beyond them "
            f"(at most {outcome.forced_moves + options.max_migrations} optional move(s) in all)"
        )
    # A plan that powers, places, evacuates and repairs nothing (rules that cannot be kept stay
    # broken as they were) moves VMs for balance alone, so the minimum goodness applies to it.
    for_balance_alone = (
        min_gain > 0
        and nothing_forced
        and np.array_equal(outcome.on_mask, up_now & usable)
        and np.array_equal(rule_members_in_violation(instance, outcome.assignment), broken_now)
    )
    if for_balance_alone:
        gain = float(
            (imbalance_now - imbalance(LoadState(instance, assignment), resources, outcome.on_mask)).max()
        )
        if gain < min_gain:
            return _unchanged(
                instance,
                started,
                unsafe=unsafe,
                note=f"the best plan found lowers the imbalance by {max(gain, 0.0):.4f} at most, less than "
                f"threshold 5's minimum goodness {min_gain:.4f}: not worth its moves",
            )
    if outcome.interrupted:
        notes.append("search stopped early (Ctrl-C): this is the best plan found so far")
    if band is not None and any(f > 0 for f in band.floors(outcome.on_mask)):
        notes.append(
            "compatibility islands keep the imbalance from going lower than "
            f"{_floor_note(band, outcome.on_mask)}; the threshold's tolerance "
            f"{band.tolerance(outcome.on_mask):.4f} applies beyond that"
        )
    if band is not None:
        assignment, sent_home = _send_home_unneeded(problem, assignment, outcome.on_mask, band)
        if sent_home:
            cost_s = _migration_seconds(instance, costs.seconds, assignment)
            notes.append(f"{sent_home} move(s) the balance did not need were dropped (DRS level unchanged)")
            levels = (
                *levels,
                LevelOutcome(
                    "migration cost after dropping unneeded moves",
                    round(cost_s * 10),
                    0.0,
                    False,
                    0.0,
                    COST_UNIT,
                ),
            )
    if band is not None and "cpu" in band.resources:
        notes.append(_peak_note(instance, band, outcome.on_mask, assignment))
    placement = {
        vm.name: instance.hosts[int(h)].name
        for vm, h in zip(instance.vms, assignment, strict=True)
        if h != NO_HOST
    }
    host_states = {
        host.name: _final_state(host.state, bool(outcome.on_mask[h])) for h, host in enumerate(instance.hosts)
    }
    # Levels proven optimal over a restricted scope are optimal for those VMs only.
    status = SolveStatus.OPTIMAL if outcome.all_optimal and complete else SolveStatus.FEASIBLE
    if outcome.all_optimal and not complete:
        notes.append(
            f"every level is optimal over the {len(problem.free)} VMs given a choice of hosts "
            f"(of {len(may_move)} that may move); the plan is feasible, not proven optimal"
        )
    return OptimizeResult(
        status=status,
        placement=placement,
        host_states=host_states,
        levels=levels,
        free_vms=len(problem.free),
        candidate_pairs=problem.num_candidate_pairs,
        solve_time_s=time.monotonic() - started,
        interrupted=outcome.interrupted,
        notes=tuple(notes),
        forced_moves=outcome.forced_moves,
        unsafe_moves=unsafe,
    )


def _balanced_warm_start(
    instance: Instance,
    warm: IntArray,
    warm_on: BoolArray,
    allowed: BoolArray,
    movable: BoolArray,
    band: DrsBand,
    cost_s: npt.NDArray[np.float64],
    dpm_high: float | None,
    options: SolveOptions,
    deadline: float,
) -> IntArray:
    """The greedy's balanced warm start (``_balance_warm_start``) and, on clusters large enough
    for the local search, the LP-guided one (``guided.py``) finished by the same greedy: the
    better of the two. The guided start is left out under a migration budget, which it does not
    count, and at threshold 5 (tolerance 0), where the balance has no target short of the floor
    for the relaxation to aim at: every further move buys a little more balance."""

    def finish(start: IntArray) -> IntArray:
        return _balance_warm_start(
            instance,
            start,
            warm_on,
            allowed,
            movable,
            band,
            cost_s,
            dpm_high,
            options.max_migrations,
            deadline,
        )

    large = int((allowed[movable] & warm_on[None, :]).sum()) > LOCAL_SEARCH_PAIRS
    guides = large and options.max_migrations is None and band.tolerance(warm_on) > 0
    if options.progress:
        also = ", then from the LP relaxation's moves" if guides else ""
        options.progress(
            "warm start", f"balancing greedily{also} ({max(deadline - time.monotonic(), 0.0):.1f} s budget)"
        )
    finished = {"greedy": finish(warm)}
    if guides:
        cpu_cap = _cpu_peak_cap(band, warm_on)
        guided = guided_start(
            instance, warm, warm_on, allowed, movable, band, cost_s, dpm_high, cpu_cap, deadline
        )
        if guided is not None:
            finished["LP-guided"] = finish(guided)
    return _better_warm_start(instance, finished, warm_on, band, cost_s, options)


def _balance_warm_start(
    instance: Instance,
    warm: IntArray,
    warm_on: BoolArray,
    allowed: BoolArray,
    movable: BoolArray,
    band: DrsBand,
    cost_s: npt.NDArray[np.float64],
    dpm_high: float | None,
    max_moves: int | None,
    deadline: float,
) -> IntArray:
    """Greedy balancing (benefit per migration second) until the DRS level is at zero.

    ``movable`` leaves out members of priority-2/3 rules: balance must not break what the rule
    levels, solved before it, would then have to mend. Each round balances first and caps the
    CPU peak second (capping from the start spends the moves on the cap and stalls short of the
    allowance: 0.088 against 0.065 at 128 hosts × 10,000 VMs). The greedy measures the plain
    standard deviation; the level's penalty lies a little above it between breakpoints, so while
    the level is not at zero the next round aims ``GREEDY_AIM_STEP`` lower, from where the last
    one stopped. Fixing the rest in the local search instead costs far more: its neighbourhoods
    buy balance with whatever VMs they hold (measured: +35 % migration seconds).
    """
    cpu_limit, dem_limit = high_target_limits(instance, dpm_high) if dpm_high is not None else (None, None)
    resources = band.resources
    penalty = BalancePenalty.build(instance, resources, warm_on, band)
    caps = band.peak_caps(warm_on)
    aim, budget = 1.0, max_moves
    while True:
        for peak_cap in (None, caps):
            greedy = greedy_balance(
                instance,
                warm,
                allowed,
                warm_on,
                resources,
                band.allowance(warm_on) * aim,
                movable=movable,
                cost_s=cost_s,
                max_moves=budget,
                deadline=deadline,
                cpu_limit=cpu_limit,
                memory_demand_limit=dem_limit,
                island_aware=True,
                beyond_tolerance=True,
                peak_cap=peak_cap,
                several_per_step=True,
            )
            warm = greedy.assignment
            budget = None if budget is None else max(budget - greedy.moves, 0)
        aim -= GREEDY_AIM_STEP
        if penalty.excess(warm) == 0 or budget == 0 or aim < GREEDY_AIM_LEAST or time.monotonic() >= deadline:
            return warm


def _cpu_peak_cap(band: DrsBand, on_mask: BoolArray) -> float | None:
    """The CPU peak cap the greedy aims inside (None when CPU is not measured)."""
    if "cpu" not in band.resources:
        return None
    return float(band.peak_caps(on_mask)[band.resources.index("cpu")])


def _better_warm_start(
    instance: Instance,
    finished: dict[str, IntArray],
    on_mask: BoolArray,
    band: DrsBand,
    cost_s: npt.NDArray[np.float64],
    options: SolveOptions,
) -> IntArray:
    """The warm start to go on from, reported through ``options.progress`` when there was a
    choice: among those DRS calls balanced (``_balanced_by_drs``), the one with the fewest
    migration seconds; when none is, the lower DRS excess, then the fewer seconds (the first on
    a tie).

    Balanced as DRS reports it, not at excess 0: the level's penalty lies a little above the
    variance between its breakpoints, so a start just within the allowance may still count an
    excess, and the local search's balance phase closes that in a few neighbourhoods. On 128
    hosts × 10,000 VMs with two CPU generations (seed 0) the LP-guided start, 82 s cheaper, was
    passed over for 88,210 units of excess (0.65 % of the level's budget); going on from it, the
    balance phase closed them in 1.4 s (27 neighbourhoods) and the plans paid 2,134–2,206 s
    against 2,260–2,282 s (three runs each).
    """
    penalty = BalancePenalty.build(instance, band.resources, on_mask, band)
    excess = {name: penalty.excess(assignment) for name, assignment in finished.items()}
    balanced = {
        name: excess[name] == 0 or _balanced_by_drs(instance, penalty, band, on_mask, assignment)
        for name, assignment in finished.items()
    }
    seconds = {
        name: _migration_seconds(instance, cost_s, assignment) for name, assignment in finished.items()
    }
    best = min(
        finished, key=lambda name: (not balanced[name], 0 if balanced[name] else excess[name], seconds[name])
    )
    if options.progress:
        told = ", ".join(
            f"{name} {seconds[name]:,.0f} s (excess {excess[name]:,}{', balanced' if balanced[name] else ''})"
            for name in finished
        )
        options.progress("warm start", f"{told}: keeping {best}" if len(finished) > 1 else told)
    return finished[best]


def _balanced_by_drs(
    instance: Instance, penalty: BalancePenalty, band: DrsBand, on_mask: BoolArray, assignment: IntArray
) -> bool:
    """Whether ``assignment`` is what DRS calls balanced: every measured resource's standard
    deviation of host utilization within its allowance, and no host above its CPU peak cap."""
    spread = imbalance(LoadState(instance, assignment), band.resources, on_mask)
    within_peak = int(penalty.overshoot_of_raw(penalty.raw_loads(assignment)).sum()) == 0
    return bool(np.all(spread <= band.allowance(on_mask))) and within_peak


def _migration_seconds(instance: Instance, cost_s: npt.NDArray[np.float64], assignment: IntArray) -> float:
    """The migration seconds of the VMs ``assignment`` moves off today's hosts (new VMs are
    placed, not migrated)."""
    current = instance.current_host
    return float(cost_s[(current != NO_HOST) & (assignment != current)].sum())


def _peak_note(instance: Instance, band: DrsBand, on_mask: BoolArray, assignment: IntArray) -> str:
    """What the CPU peak cap asked for, and whether the plan meets it (for plan notes)."""
    cpu = band.resources.index("cpu")
    cap = float(band.peak_caps(on_mask)[cpu])
    least = band.least_peaks(on_mask)[cpu]
    peak = float(np.max(LoadState(instance, assignment).utilization("cpu")[on_mask], initial=0.0))
    verdict = "every host is within it" if peak <= cap + 1e-9 else f"the hottest host stays at {peak:.3f}"
    return (
        f"CPU peak cap {cap:.3f} (the least peak {least:.3f} any placement allows, plus the tolerance): "
        f"{verdict}"
    )


def _floor_note(band: DrsBand, on_mask: BoolArray) -> str:
    """'cpu floor 0.0628, allowance 0.0652, memory floor …' for plan notes."""
    floors = band.floors(on_mask)
    allowance = band.allowance(on_mask)
    return ", ".join(
        f"{r} floor {f:.4f}, allowance {a:.4f}"
        for r, f, a in zip(band.resources, floors, allowance, strict=True)
    )


def _send_home_unneeded(
    problem: Problem, assignment: IntArray, on_mask: BoolArray, band: DrsBand
) -> tuple[IntArray, int]:
    """Drop moves the fixed DRS level does not need (``solver.revert``). Returns (assignment, count)."""
    inst = problem.instance
    locked = settled_for_balance(problem) | problem.mandatory  # a VM that must move cannot go home
    penalty = BalancePenalty.build(inst, problem.resources, on_mask, band)
    reverted = drop_unneeded_moves(problem, assignment, on_mask, penalty, ~locked)
    return reverted, int((reverted != assignment).sum())


def _beyond_high_target(instance: Instance, usable: BoolArray, movable: BoolArray, high: float) -> bool:
    """Whether the demand of all VMs exceeds what every usable host holds within DPM's high
    target: no placement keeps the target, so there is nothing for a solver to search."""
    cpu_limit, dem_limit = _high_target_caps(instance, movable, high)
    return bool(
        instance.vm_cpu_demand_mhz.sum() > cpu_limit[usable].sum()
        or instance.vm_memory_demand_mib.sum() > dem_limit[usable].sum()
    )


def _high_target_caps(
    instance: Instance, movable: BoolArray, high: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per host, the CPU and memory demand DPM's high target allows, or the load of the VMs
    that cannot leave the host where that is higher (as in the CP model)."""
    stay = ~movable & (instance.current_host != NO_HOST)
    hosts = instance.current_host[stay]
    fixed_cpu = np.bincount(hosts, instance.vm_cpu_demand_mhz[stay], instance.num_hosts)
    fixed_dem = np.bincount(hosts, instance.vm_memory_demand_mib[stay], instance.num_hosts)
    high_cpu, high_dem = high_target_limits(instance, high)
    return np.maximum(high_cpu, fixed_cpu), np.maximum(high_dem, fixed_dem)


def _repair(
    instance: Instance,
    allowed: BoolArray,
    on_mask: BoolArray,
    cost_s: npt.NDArray[np.float64],
    movable: BoolArray,
    dpm_high: float | None,
    rule_movable: BoolArray,
) -> IntArray | None:
    """Greedy repair of today's placement, then of its broken affinity / anti-affinity rules.

    Capacity is the host's, or DPM's high target (or the load of VMs that cannot move, if that
    is higher, as in the CP model).
    """
    cpu_limit = instance.host_cpu_mhz.astype(np.float64)
    dem_limit = instance.host_memory_mib.astype(np.float64)
    if dpm_high is not None:
        cpu_limit, dem_limit = _high_target_caps(instance, movable, dpm_high)
    repaired = repair_placement(
        instance,
        allowed,
        on_mask,
        cost_s,
        movable=movable,
        cpu_limit=cpu_limit,
        memory_demand_limit=dem_limit if dpm_high is not None else None,
    )
    if repaired is None:
        return None
    return repair_vm_rules(instance, repaired, on_mask, allowed, rule_movable, cost_s, cpu_limit, dem_limit)


def _final_state(state: HostState, on: bool) -> str:
    if state in (HostState.MAINTENANCE, HostState.DOWN):
        return state.value
    return HostState.UP.value if on else HostState.STANDBY.value


def _heat(state: LoadState, resources: tuple[str, ...]) -> npt.NDArray[np.float64]:
    return np.asarray(sum(state.utilization(r) for r in resources), dtype=np.float64)


def _scope(
    instance: Instance,
    options: SolveOptions,
    mandatory: BoolArray,
    movable: BoolArray,
    movable_optional: BoolArray,
    warm: IntArray,
    warm_on: BoolArray,
    broken_now: BoolArray,
    resources: tuple[str, ...],
    band: DrsBand | None,
    cost_s: npt.NDArray[np.float64],
) -> IntArray:
    """Repair mode: the VMs that get variables, most necessary first, capped at ``max_free_vms``.

    Always free: VMs that must move (or are new), VMs the warm start moved, residents of hosts over
    capacity, members of broken soft rules. Then residents of hosts DPM may empty, then the
    cheapest-per-load residents of hot hosts (enough load to cool each of them twice over).
    """
    current = instance.current_host
    placed = current != NO_HOST
    state_now = LoadState(instance, current)
    must = mandatory | (warm != current)
    over = state_now.over_capacity()
    must |= placed & movable_optional & np.isin(current, np.flatnonzero(over))
    must |= broken_now & movable_optional
    chosen = [int(v) for v in np.flatnonzero(must)]
    extra: list[int] = []
    if instance.policy.dpm.enabled:
        low = instance.policy.dpm.target_utilization[0]
        util = _heat(state_now, ("cpu",))
        emptied = np.flatnonzero(((~warm_on) | (util < low)) & (state_now.count > 0))
        extra += [
            int(v) for v in np.flatnonzero(placed & movable_optional & ~must & np.isin(current, emptied))
        ]
    if band is not None:
        state_warm = LoadState(instance, warm)
        util = np.vstack([state_warm.utilization(r) for r in resources])
        on_util = util[:, warm_on]
        mean = on_util.mean(axis=1, keepdims=True) if on_util.size else np.zeros((len(resources), 1))
        # Load each hot host should shed, twice over, so CP-SAT has a real choice.
        need = 2 * np.clip(util - mean - band.tolerance(warm_on) / 2, 0, None).sum(axis=0)
        hot = np.flatnonzero(warm_on & (need > 0))
        for h in hot[np.argsort(-need[hot])]:
            residents = np.flatnonzero((warm == h) & movable_optional & ~must)
            if len(residents) == 0:
                continue
            contribution = sum(
                demand[residents] / capacity[h]
                for demand, capacity in map(instance.balance_columns, resources)
            )
            contribution = np.maximum(np.asarray(contribution, dtype=np.float64), 1e-9)
            order = np.argsort(cost_s[residents] / contribution, kind="stable")
            count = int(np.searchsorted(np.cumsum(contribution[order]), need[h])) + 1
            extra += [int(v) for v in residents[order[: max(count, min(len(order), 8))]]]
    room = max(options.max_free_vms - len(chosen), 0)
    seen = set(chosen)
    for v in extra:
        if room == 0:
            break
        if v not in seen:
            seen.add(v)
            chosen.append(v)
            room -= 1
    return np.array(sorted(set(chosen)), dtype=np.int64)


def _replace_scope(
    problem: Problem,
    free: IntArray,
    k: int,
    usable: BoolArray,
    coldness: npt.NDArray[np.float64],
    rng: np.random.Generator,
) -> Problem:
    inst = problem.instance
    warm = problem.warm.copy()
    candidates = choose_candidates(inst, free, problem.allowed, usable, warm, coldness, k, rng)
    # Which hosts are interchangeable depends on the candidates: the caller derives them anew.
    return replace(problem, free=free, candidates=candidates, interchangeable=())


def _with_host_order(problem: Problem) -> Problem:
    """``problem`` with its classes of interchangeable hosts (``symmetry.py``), which the model
    keeps in one arrangement, and its warm start put into that arrangement."""
    classes = interchangeable_hosts(problem)
    if not classes:
        return problem
    warm, warm_on = canonical(problem.instance, classes, problem.warm, problem.warm_on)
    return replace(problem, warm=warm, warm_on=warm_on, interchangeable=classes)


def _unchanged(instance: Instance, started: float, note: str, unsafe: frozenset[str]) -> OptimizeResult:
    """Today's placement and host states, kept, with the reason."""
    return OptimizeResult(
        SolveStatus.UNCHANGED,
        placement=instance.current_placement(),
        host_states={h.name: h.state.value for h in instance.hosts},
        solve_time_s=time.monotonic() - started,
        notes=(note,),
        unsafe_moves=unsafe,
    )


def _infeasible(instance: Instance, conflicts: list, started: float) -> OptimizeResult:  # type: ignore[type-arg]
    return OptimizeResult(
        SolveStatus.INFEASIBLE,
        placement={},
        host_states={h.name: h.state.value for h in instance.hosts},
        conflicts=tuple(conflicts),
        solve_time_s=time.monotonic() - started,
    )

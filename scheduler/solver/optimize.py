"""The optimizer's entry point: instance in, target placement and host power out.

``_optimize`` runs the steps in order: prepare (``prepare.py``), decide the power and repair a warm
start (``warm_start.py``), check whether anything needs doing, balance the warm start, choose the
scope, build and solve the ``Problem`` (widened when the restricted scope finds nothing), and finish
the plan (threshold 5's minimum goodness, moves sent home, notes, status).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from scheduler.check.bounds import dpm_hosts_bound
from scheduler.check.metrics import drs_min_goodness, drs_tolerance
from scheduler.check.rules import check_rule
from scheduler.heuristics.balance import imbalance
from scheduler.heuristics.state import LoadState
from scheduler.interrupt import stop_requested, stop_requested_on_sigint
from scheduler.model import NO_HOST, Conflict, HostState, Instance
from scheduler.solver.balance import BalancePenalty, DrsBand
from scheduler.solver.conflicts import explain_infeasibility
from scheduler.solver.high_target import high_target_breaks_rules
from scheduler.solver.options import SolveOptions
from scheduler.solver.prepare import Prepared, prepare
from scheduler.solver.problem import (
    Problem,
    choose_candidates,
    rule_members_in_violation,
    settled_for_balance,
    soft_rule_members,
)
from scheduler.solver.result import COST_UNIT, MIN_GOODNESS, LevelOutcome, OptimizeResult, SolveStatus
from scheduler.solver.revert import drop_unneeded_moves
from scheduler.solver.scaling import cost_units
from scheduler.solver.staged import NoSolutionError, StagedOutcome, solve_staged
from scheduler.solver.symmetry import canonical, interchangeable_hosts
from scheduler.solver.warm_start import (
    GREEDY_SHARE,
    GREEDY_SHARE_DPM,
    LOCAL_SEARCH_PAIRS,
    WarmStart,
    balanced_warm_start,
    repaired_warm_start,
)

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

WIDE_SCOPE_MAX_PAIRS = 400_000  # above this, a widened scope still uses candidate sets
# Up to this many (VM, allowed host) pairs, every VM that may move gets every host it may use:
# the model is then the whole problem, so a level proven optimal is optimal for the cluster, and a
# plan's target fed back finds nothing left to do. Above it, repair mode restricts the scope.
COMPLETE_SCOPE_MAX_PAIRS = LOCAL_SEARCH_PAIRS


def optimize(instance: Instance, options: SolveOptions | None = None) -> OptimizeResult:
    """Find the target placement and host power states; Ctrl-C returns the best found so far."""
    with stop_requested_on_sigint():
        return _optimize(instance, options)


def _optimize(
    instance: Instance,
    options: SolveOptions | None = None,
    *,
    high_target_missed: str | None = None,
    rules_before_target: bool = False,
    started: float | None = None,
) -> OptimizeResult:
    """Find the target placement and host power states (levels: P2 > DPM > P3 > DRS > cost).

    Returns ``UNCHANGED`` with today's placement when nothing needs to change, ``INFEASIBLE`` with
    a conflict set when the hard constraints cannot hold together. ``high_target_missed`` (why
    no placement keeps the hosts within DPM's high target) asks for the retry that keeps every
    host on instead; with ``rules_before_target`` (the target would break priority-2 rules) only
    the hosts up now stay on, and a standby host comes back only where capacity needs it.
    """
    options = options or SolveOptions()
    started = time.monotonic() if started is None else started
    prep = prepare(instance)
    if prep.conflicts:
        return _infeasible(instance, prep.conflicts, started)
    start = repaired_warm_start(prep, high_target_missed, standby_stays=rules_before_target)
    today = _today(prep)
    unchanged = _nothing_to_do(prep, today, started)
    if unchanged is not None:
        return unchanged
    if today.band is not None:
        start = _balanced(prep, start, today.band, options, started)
    scope = _choose_scope(prep, start, today, options)
    solved = _solve(prep, start, scope, today.band, options, started)
    if isinstance(solved, _HighTargetMissed):
        return _optimize(
            instance,
            options,
            high_target_missed=solved.why,
            rules_before_target=solved.rules_before_target,
            started=started,
        )
    if isinstance(solved, OptimizeResult):
        return solved
    return _finish(prep, today, scope, solved, (*prep.notes, *start.notes, *solved.notes), options, started)


@dataclass(frozen=True, slots=True)
class _Today:
    """Today's placement, measured for the "nothing to do?" checks and threshold 5's minimum goodness.

    Attributes:
        broken: members of the priority-2/3 rules it breaks.
        imbalance: per resource DRS balances, the spread of host utilization over the hosts up now.
        band: DRS's tolerance band, or None when DRS does not balance.
        nothing_forced: nothing must be evacuated, placed or relieved of overload.
        balance_only: nothing forced and no rule broken: only balance could call for moves.
        min_gain: the least imbalance a plan for balance alone must remove (0 but at threshold 5).
    """

    broken: BoolArray
    imbalance: FloatArray
    band: DrsBand | None
    nothing_forced: bool
    balance_only: bool
    min_gain: float


@dataclass(frozen=True, slots=True)
class _Scope:
    """The VMs that get variables.

    Attributes:
        may_move: every VM that may move, and any the warm start moved anyway.
        free: the VMs that get variables: ``may_move``, or repair mode's choice among them.
        complete: ``free`` is ``may_move`` and each may use every host it may run on.
    """

    may_move: IntArray
    free: IntArray
    complete: bool


@dataclass(frozen=True, slots=True)
class _Solved:
    """The staged solve's outcome, and the problem it solved (widened, if it was)."""

    problem: Problem
    outcome: StagedOutcome
    complete: bool  # every VM that may move had every host it may use
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _HighTargetMissed:
    """No placement keeps the hosts within DPM's high target: ``why``, for the retry's note;
    ``rules_before_target``: some do, but only by breaking priority-2 rules capacity alone keeps."""

    why: str
    rules_before_target: bool = False


def _today(prep: Prepared) -> _Today:
    """Measure today's placement: the rules it breaks, its imbalance, DRS's band, whether
    anything forces moves, and the gain threshold 5 asks of a plan for balance alone."""
    instance = prep.instance
    current = instance.current_host
    state_now = LoadState(instance, current)
    broken_now = rule_members_in_violation(instance, current)
    imbalance_now = imbalance(state_now, prep.resources, prep.up_now)
    band = (
        DrsBand(
            instance,
            prep.resources,
            functools.partial(drs_tolerance, instance.policy.drs.threshold),
            prep.allowed,
            prep.movable_optional | (prep.movable & prep.mandatory),
        )
        if prep.balances
        else None
    )
    # Nothing must be evacuated, placed or relieved of overload; with no rule broken either, only
    # balance could call for moves.
    nothing_forced = not prep.mandatory.any() and not state_now.over_capacity().any()
    balance_only = nothing_forced and not broken_now.any()
    # Threshold 5 (tolerance 0): a balance-only plan must gain at least the minimum goodness, over
    # the hosts up now. Such a plan powers nothing on or off (``for_balance_alone`` below), so
    # these are also the hosts up after it; hosts in standby that DPM could wake do not count.
    hosts_up = max(int((prep.up_now & prep.usable).sum()), 1)
    no_tolerance = band is not None and band.tolerance(prep.up_now & prep.usable) == 0
    min_gain = drs_min_goodness(hosts_up) if no_tolerance else 0.0
    return _Today(broken_now, imbalance_now, band, nothing_forced, balance_only, min_gain)


def _nothing_to_do(prep: Prepared, today: _Today, started: float) -> OptimizeResult | None:
    """Today's placement, kept with the reason, when DPM is off, only balance could call for
    moves and none is worth making: the cluster is within DRS's tolerance, or its imbalance is
    below threshold 5's minimum goodness. None: a plan is to be searched for."""
    if not today.balance_only or prep.dpm:
        return None
    instance, band, on_now = prep.instance, today.band, prep.up_now & prep.usable
    imbalance_now = today.imbalance
    within = band is None or bool(np.all(imbalance_now <= band.allowance(on_now, imbalance_now)))
    if within:
        note = "the cluster is within the DRS tolerance and breaks no rule"
        if band is None:
            # No tolerance to be within: DRS off, or threshold 1, which makes mandatory moves only.
            drs = instance.policy.drs
            why = (
                "DRS is off"
                if not drs.enabled
                else f"DRS threshold {drs.threshold} makes mandatory moves only"
            )
            note = f"{why}, and nothing must move: no VM to evacuate or place, no host over capacity, no "
            note += "rule broken"
        elif np.any(imbalance_now > band.tolerance(on_now)):
            note = (
                "the cluster is within the DRS tolerance of the balance its compatibility islands "
                f"allow ({_floor_note(band, on_now)}) and breaks no rule"
            )
        return _unchanged(instance, started, note, prep.unsafe)
    if bool(np.all(imbalance_now < today.min_gain)):
        return _unchanged(
            instance,
            started,
            unsafe=prep.unsafe,
            note=f"the cluster's imbalance is below {MIN_GOODNESS} {today.min_gain:.4f}, so "
            "no plan could lower it that much, and it breaks no rule",
        )
    return None


def _balanced(
    prep: Prepared, start: WarmStart, band: DrsBand, options: SolveOptions, started: float
) -> WarmStart:
    """``start`` balanced (``warm_start.balanced_warm_start``) within its slice of the time limit."""
    # Improve the warm start with cost-aware greedy balancing within a slice of the time budget
    # (a smaller one with DPM, which comes first); on large clusters also from the LP
    # relaxation's choice of moves, keeping the better.
    warm = balanced_warm_start(
        prep.instance,
        start.warm,
        start.warm_on,
        prep.allowed,
        prep.movable_optional & ~soft_rule_members(prep.instance),
        band,
        prep.costs.seconds,
        start.dpm_high,
        options,
        started + (GREEDY_SHARE_DPM if prep.dpm else GREEDY_SHARE) * options.time_limit_s,
    )
    return replace(start, warm=warm)


def _choose_scope(prep: Prepared, start: WarmStart, today: _Today, options: SolveOptions) -> _Scope:
    """Every VM that may move, each with every host it may use, up to ``COMPLETE_SCOPE_MAX_PAIRS``
    (VM, host) pairs; above, repair mode's restricted scope (``_scope``)."""
    instance, warm = prep.instance, start.warm
    # Every VM that may move, and any the warm start moved anyway (repairing an over-full host may
    # move a VM whose migration would not converge).
    may_move = np.flatnonzero(prep.movable_optional | prep.mandatory | (warm != instance.current_host))
    complete = int((prep.allowed[may_move] & prep.usable[None, :]).sum()) <= COMPLETE_SCOPE_MAX_PAIRS
    free = (
        may_move
        if complete
        else _scope(
            instance,
            options,
            prep.mandatory,
            prep.movable,
            prep.movable_optional,
            warm,
            start.warm_on,
            today.broken,
            prep.resources,
            today.band,
            prep.costs.seconds,
        )
    )
    return _Scope(may_move, free, complete)


def _solve(
    prep: Prepared,
    start: WarmStart,
    scope: _Scope,
    band: DrsBand | None,
    options: SolveOptions,
    started: float,
) -> _Solved | _HighTargetMissed | OptimizeResult:
    """Build the ``Problem`` over ``scope`` and solve its levels (``staged.py``); when that finds
    nothing, solve again over every VM that may move. Returns why DPM's high target was missed
    when the target, not the scope, is what nothing fits in (the caller retries with every host
    on), and the infeasible result when the widened problem has no solution either."""
    instance = prep.instance
    rng = np.random.default_rng(options.seed)
    coldness = -_heat(LoadState(instance, start.warm), prep.resources)
    problem = _problem(prep, start, scope, coldness, rng, options)
    large = problem.num_candidate_pairs > LOCAL_SEARCH_PAIRS
    try:
        outcome = solve_staged(problem, options, band, started, local_search=large)
    except NoSolutionError:
        if start.dpm_high is None or start.within_high or stop_requested():
            raise
        missed = f"no placement within the DPM high target found in {options.time_limit_s:g} s"
        return _HighTargetMissed(missed)
    deadline = started + options.time_limit_s
    if outcome.feasible:
        costs_rules = high_target_breaks_rules(problem, outcome, options, deadline)
        if costs_rules is not None:
            return _HighTargetMissed(costs_rules, rules_before_target=True)
        return _Solved(problem, outcome, scope.complete, ())
    # The restriction may be what made it infeasible: widen to every VM that may move.
    problem, complete = _widened(prep, problem, scope.may_move, coldness, rng, options)
    notes = (f"scope widened to {len(problem.free)} VMs",)
    outcome = solve_staged(problem, options, band, started, local_search=large)
    if not outcome.feasible and start.dpm_high is not None and not start.within_high:
        missed = "no placement keeps the hosts within the DPM high target, even with every host on"
        return _HighTargetMissed(missed)
    if not outcome.feasible:
        return _infeasible(
            instance,
            explain_infeasibility(
                instance, prep.compat, start.power, prep.movable & ~prep.costs.converges & ~prep.mandatory
            ),
            started,
        )
    costs_rules = high_target_breaks_rules(problem, outcome, options, deadline)
    if costs_rules is not None:
        return _HighTargetMissed(costs_rules, rules_before_target=True)
    return _Solved(problem, outcome, complete, notes)


def _problem(
    prep: Prepared,
    start: WarmStart,
    scope: _Scope,
    coldness: FloatArray,
    rng: np.random.Generator,
    options: SolveOptions,
) -> Problem:
    """The placement problem over ``scope`` from the warm start, its interchangeable hosts in
    one arrangement (``_with_host_order``) unless ``host_symmetry`` is off."""
    instance, complete = prep.instance, scope.complete
    current = instance.current_host
    # A VM left without variables stays where it is, so its host stays on whatever DPM prefers.
    fixed = np.ones(instance.num_vms, dtype=np.bool_)
    fixed[scope.free] = False
    fixed_hosts = current[fixed & (current != NO_HOST)]
    warm_on = start.warm_on.copy()
    warm_on[fixed_hosts] = True
    problem = Problem(
        instance=instance,
        allowed=prep.allowed,
        movable=prep.movable,
        cost_s=prep.costs.seconds,
        converges=prep.costs.converges,
        mandatory=prep.mandatory,
        power=start.power,
        free=scope.free,
        candidates=choose_candidates(
            instance,
            scope.free,
            prep.allowed,
            prep.usable,
            start.warm,
            coldness,
            instance.num_hosts if complete else options.candidate_hosts,
            rng,
        ),
        warm=start.warm,
        warm_on=warm_on,
        dpm_high=start.dpm_high,
        resources=prep.resources,
        # Where the warm start already switches off all it can, the DPM level is proven at once
        # and its time share goes to the levels after it.
        dpm_hosts_bound=dpm_hosts_bound(instance, prep.allowed) if start.dpm_high is not None else 0,
    )
    if options.host_symmetry:
        problem = _with_host_order(problem)
    return problem


def _widened(
    prep: Prepared,
    problem: Problem,
    may_move: IntArray,
    coldness: FloatArray,
    rng: np.random.Generator,
    options: SolveOptions,
) -> tuple[Problem, bool]:
    """``problem`` over every VM that may move (``may_move``: the scope's, so a VM the warm start
    moved stays free, not fixed where the warm start no longer has it), each with every host it
    may use up to ``WIDE_SCOPE_MAX_PAIRS`` (VM, host) pairs (candidate sets above). Returns
    (problem, complete)."""
    wide_free = may_move
    pairs = int((prep.allowed[wide_free] & prep.usable[None, :]).sum())
    k = prep.instance.num_hosts if pairs <= WIDE_SCOPE_MAX_PAIRS else 2 * options.candidate_hosts
    problem = _replace_scope(problem, wide_free, k, prep.usable, coldness, rng)
    if options.host_symmetry:
        problem = _with_host_order(problem)
    return problem, k == prep.instance.num_hosts


def _finish(
    prep: Prepared,
    today: _Today,
    scope: _Scope,
    solved: _Solved,
    notes: Sequence[str],
    options: SolveOptions,
    started: float,
) -> OptimizeResult:
    """The plan from the solve, with ``notes`` and what the solve adds to them; today's placement
    instead when the plan moves VMs for balance alone and gains less than threshold 5's minimum
    goodness."""
    instance, problem, outcome = prep.instance, solved.problem, solved.outcome
    notes = [*notes, *_forced_moves_notes(problem, outcome, options)]
    not_worth = _not_worth_its_moves(prep, today, outcome, started)
    if not_worth is not None:
        return not_worth
    if outcome.interrupted:
        notes.append("search stopped early (Ctrl-C): this is the best plan found so far")
    assignment, levels = outcome.assignment, outcome.levels
    if today.band is not None:
        assignment, levels, balance_notes = _balance_finish(prep, today.band, problem, outcome)
        notes += balance_notes
    # Levels proven optimal over a restricted scope are optimal for those VMs only.
    status = SolveStatus.OPTIMAL if outcome.all_optimal and solved.complete else SolveStatus.FEASIBLE
    if outcome.all_optimal and not solved.complete:
        notes.append(
            f"every level is optimal over the {len(problem.free)} VMs given a choice of hosts "
            f"(of {len(scope.may_move)} that may move); the plan is feasible, not proven optimal"
        )
    return OptimizeResult(
        status=status,
        placement=_placement(instance, assignment),
        host_states=_host_states(instance, outcome.on_mask),
        levels=levels,
        free_vms=len(problem.free),
        candidate_pairs=problem.num_candidate_pairs,
        solve_time_s=time.monotonic() - started,
        interrupted=outcome.interrupted,
        notes=tuple(notes),
        forced_moves=outcome.forced_moves,
        unsafe_moves=prep.unsafe,
    )


def _forced_moves_notes(problem: Problem, outcome: StagedOutcome, options: SolveOptions) -> tuple[str, ...]:
    """Under a move budget, the moves capacity forces, which the budget does not count."""
    if options.max_migrations is None or outcome.forced_moves <= 0:
        return ()
    fewest = "" if outcome.forced_proven else " (the fewest found, not proven)"
    limits = "capacity" if problem.dpm_high is None else "capacity and DPM's high target"
    return (
        f"{outcome.forced_moves} move(s) are needed to bring hosts within {limits}{fewest}: "
        f"--max-migrations {options.max_migrations} counts the moves beyond them "
        f"(at most {outcome.forced_moves + options.max_migrations} optional move(s) in all)",
    )


def _not_worth_its_moves(
    prep: Prepared, today: _Today, outcome: StagedOutcome, started: float
) -> OptimizeResult | None:
    """Today's placement, kept with the reason, when the plan moves VMs for balance alone and
    lowers the imbalance by less than threshold 5's minimum goodness; None otherwise."""
    instance = prep.instance
    # A plan that powers, places, evacuates and repairs nothing (rules that cannot be kept stay
    # broken as they were) moves VMs for balance alone, so the minimum goodness applies to it.
    for_balance_alone = (
        today.min_gain > 0
        and today.nothing_forced
        and np.array_equal(outcome.on_mask, prep.up_now & prep.usable)
        and np.array_equal(rule_members_in_violation(instance, outcome.assignment), today.broken)
        and not _mends_rules(instance, outcome.assignment)
    )
    if for_balance_alone:
        after = imbalance(LoadState(instance, outcome.assignment), prep.resources, outcome.on_mask)
        gain = float((today.imbalance - after).max())
        if gain < today.min_gain:
            return _unchanged(
                instance,
                started,
                unsafe=prep.unsafe,
                note=f"the best plan found lowers the imbalance by {max(gain, 0.0):.4f} at most, less than "
                f"{MIN_GOODNESS} {today.min_gain:.4f}: not worth its moves",
            )
    return None


def _mends_rules(instance: Instance, assignment: IntArray) -> bool:
    """Whether ``assignment`` leaves fewer VMs breaking some soft rule than today does: a rule
    still broken can be mended in part (one VM of two sent to the side its ``should`` rule asks
    for, under a move budget), and such a plan is a repair, not a move for balance alone."""
    soft = [r for r in instance.rules if r.priority > 1]
    if not soft:
        return False

    def breaking(at: IntArray) -> list[int]:
        placement = _placement(instance, at)
        return [len(check_rule(rule, placement).violating_vms) for rule in soft]

    return any(
        after < before
        for before, after in zip(breaking(instance.current_host), breaking(assignment), strict=True)
    )


def _balance_finish(
    prep: Prepared, band: DrsBand, problem: Problem, outcome: StagedOutcome
) -> tuple[IntArray, tuple[LevelOutcome, ...], list[str]]:
    """With DRS balancing: the note on the floor compatibility islands set, the moves the
    balance did not need sent home (a level added for the cost after that), and the note on the
    CPU peak cap. Returns (assignment, levels, notes)."""
    instance = prep.instance
    notes: list[str] = []
    assignment, levels = outcome.assignment, outcome.levels
    if any(f > 0 for f in band.floors(outcome.on_mask)):
        notes.append(
            "compatibility islands keep the imbalance from going lower than "
            f"{_floor_note(band, outcome.on_mask)}; the threshold's tolerance "
            f"{band.tolerance(outcome.on_mask):.4f} applies beyond that"
        )
    assignment, sent_home = _send_home_unneeded(problem, assignment, outcome.on_mask, band)
    if sent_home:
        # In the cost level's own units (whole units per move, rounded up), so the two compare.
        placed = instance.current_host != NO_HOST
        moved = placed & (assignment != instance.current_host)
        notes.append(f"{sent_home} move(s) the balance did not need were dropped (DRS level unchanged)")
        levels = (
            *levels,
            LevelOutcome(
                "migration cost after dropping unneeded moves",
                int(cost_units(prep.costs.seconds)[moved].sum()),
                0.0,
                False,
                0.0,
                COST_UNIT,
            ),
        )
    if "cpu" in band.resources:
        notes.append(_peak_note(instance, band, outcome.on_mask, assignment))
    return assignment, levels, notes


def _placement(instance: Instance, assignment: IntArray) -> dict[str, str]:
    """VM name → host name, for the VMs ``assignment`` places."""
    return {
        vm.name: instance.hosts[int(h)].name
        for vm, h in zip(instance.vms, assignment, strict=True)
        if h != NO_HOST
    }


def _host_states(instance: Instance, on_mask: BoolArray) -> dict[str, str]:
    """Host name → the state the plan leaves it in."""
    return {host.name: _final_state(host.state, bool(on_mask[h])) for h, host in enumerate(instance.hosts)}


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


def _infeasible(instance: Instance, conflicts: Sequence[Conflict], started: float) -> OptimizeResult:
    return OptimizeResult(
        SolveStatus.INFEASIBLE,
        placement={},
        host_states={h.name: h.state.value for h in instance.hosts},
        conflicts=tuple(conflicts),
        solve_time_s=time.monotonic() - started,
    )

"""Lexicographic solving: each level minimized, then fixed, before the next (DPM > rules > DRS).

Levels, in order (docs/optimizer.md, the objective order):
    (a) priority-2 rules broken, (b) hosts powered on (DPM), (c) priority-3 rules broken,
    (d) DRS imbalance outside the tolerance band, (e) estimated migration seconds.
Each level's optimum (or, when time runs out, the best value found) becomes a constraint
``level ≤ value`` for all later levels, so a level never gets worse to improve a later one.

Under a move budget (``SolveOptions.max_migrations``) a first solve finds the fewest optional
moves any placement within the hard constraints needs (a host over capacity must shed a VM, however
small the budget); the budget is counted on top of them.

The incumbent is carried from level to level as a complete hint. When CP-SAT finds nothing
strictly better for a level, the incumbent is kept (CP-SAT would return an arbitrary equally
good solution, which drifts away from today's placement and the greedy warm start); when it
finds nothing at all in time, the level is fixed at the incumbent's value and solving goes on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from scheduler.errors import InconsistentSolutionError
from scheduler.interrupt import stop_requested
from scheduler.model import NO_HOST, HostState
from scheduler.solver.balance import BalancePenalty, DrsBand
from scheduler.solver.cpmodel import LevelExpr, PlacementModel
from scheduler.solver.lns import LocalSearch, reproducible_budget
from scheduler.solver.options import SolveOptions
from scheduler.solver.problem import POWER_OFF, Problem, settled_for_balance
from scheduler.solver.result import COST_UNIT, DRS_LEVEL, DRS_RELATIVE_GAP, LevelOutcome, level_amount
from scheduler.solver.sat import new_solver, solve_stoppable

# Relative share of the time budget per level; time a level leaves unused flows to the later ones.
# DPM, first in the product's order and the hardest to improve on its greedy start, gets the most
# when it is on.
LEVEL_SHARES = {"p2": 0.12, "dpm": 0.45, "p3": 0.20, "drs": 0.33, "cost": 0.23}
MIN_LEVEL_S = 0.5  # CP-SAT needs a moment for presolve even on a small level
TIE_BREAK_TO_INCUMBENT = ("p2", "dpm", "p3")  # levels whose optima are many: keep close to the incumbent
# The DRS level is proven optimal within this relative gap, and an incumbent is replaced only by a
# solution better by more than it: a plan's own target, fed back, is then kept as it is.
RELATIVE_GAP = {"drs": DRS_RELATIVE_GAP}
BOUND_EPSILON = 1e-6  # float noise on CP-SAT's integral objective bound
# Under a move budget, the share of the time left for finding the fewest moves capacity forces.
FORCED_MOVES_SHARE = 0.1


class NoSolutionError(RuntimeError):
    """CP-SAT found no solution in time and the warm start was not feasible."""


class IncumbentRejectedError(InconsistentSolutionError):
    """A level's model is infeasible although the incumbent meets every level fixed before it:
    the model and the levels' own evaluation disagree about some placement (a bug)."""


@dataclass(frozen=True, slots=True)
class StagedOutcome:
    """The levels' result. ``forced_moves``: under a move budget, the optional moves capacity
    forces, which the budget does not count (proven the fewest when ``forced_proven``)."""

    feasible: bool
    assignment: npt.NDArray[np.int64]
    on_mask: npt.NDArray[np.bool_]
    levels: tuple[LevelOutcome, ...]
    all_optimal: bool
    interrupted: bool
    forced_moves: int = 0
    forced_proven: bool = True


@dataclass(frozen=True, slots=True)
class ForcedMoves:
    """The fewest optional moves the hard constraints force (``count``, proven when ``proven``),
    and a placement (assignment, power) making that many: None when the count is the incumbent's."""

    count: int
    proven: bool
    placement: tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]] | None = None


def solve_staged(
    problem: Problem,
    options: SolveOptions,
    band: DrsBand | None,
    started: float | None = None,
    *,
    local_search: bool = False,
) -> StagedOutcome:
    """Run the levels until ``started + options.time_limit_s``; ``band`` None skips the DRS level.

    ``started`` is when the caller's clock began (preparation counts against the limit). With
    ``local_search`` the DRS and cost levels run as a large-neighbourhood search (``lns.py``)
    instead of one CP model, which is what makes 10,000-VM clusters tractable.
    """
    started = time.monotonic() if started is None else started
    deadline = started + options.time_limit_s
    pm = PlacementModel(problem)
    assignment, on_mask = problem.warm.copy(), problem.warm_on.copy()
    outcomes: list[LevelOutcome] = []
    interrupted = False

    builders: list[tuple[str, Callable[[], LevelExpr]]] = [
        ("p2", pm.priority2_level),
        ("dpm", pm.dpm_level),
        ("p3", pm.priority3_level),
    ]
    if band is not None:
        builders.append(("drs", lambda: pm.drs_level(on_mask, band)))
    builders.append(("cost", pm.cost_level))
    # Build the static levels first: they add variables the first solve must see.
    static = {key: build() for key, build in builders if key != "drs"}
    forced = ForcedMoves(0, True)
    if options.max_migrations is not None:
        least = forced_moves(pm, list(static.values()), assignment, on_mask, options, deadline)
        if least is None:
            return StagedOutcome(False, assignment, on_mask, (), False, False)
        forced = least
        pm.limit_moves(options.max_migrations + forced.count)
        if not pm.is_feasible(assignment, on_mask) and forced.placement is not None:
            # The warm start spends more moves than that (greedy repair is not the fewest, DPM's
            # emptying is not budgeted): start from the placement that makes only the forced ones.
            assignment, on_mask = forced.placement[0].copy(), forced.placement[1].copy()
    have_solution = pm.is_feasible(assignment, on_mask)
    # A budget counted beyond more moves than capacity forces is looser than asked for.
    all_optimal = forced.proven
    built: list[LevelExpr] = []
    fixed: list[tuple[LevelExpr, float]] = []
    pending = [key for key, _ in builders]
    current = problem.instance.current_host
    current_on = problem.power != POWER_OFF
    current_on &= np.array([h.state is HostState.UP for h in problem.instance.hosts])
    current_ok = not np.any(current == NO_HOST) and pm.is_feasible(current, current_on)
    for key, build in builders:
        # Today's placement costs nothing to reach: whenever it is lexicographically as good as
        # the incumbent (the DRS level within its gap), it is the incumbent. This is also what
        # makes a plan's own target, fed back, come out unchanged.
        if current_ok and _lex_as_good(problem, static, band, current, current_on, assignment, on_mask):
            assignment, on_mask = current.copy(), current_on.copy()
        if stop_requested() and have_solution:
            interrupted = True
            break
        if local_search and key in ("drs", "cost"):
            return _finish_with_local_search(
                problem, options, band, assignment, on_mask, outcomes, deadline, pm.max_migrations, forced
            )
        pending.remove(key)
        if key == "drs":
            pm.fix_power(on_mask)  # DPM has decided; balance is measured on the hosts left on
        level = static[key] if key in static else build()
        if key == "drs":
            static["drs"] = level
        built.append(level)
        incumbent_value = level.evaluate(assignment, on_mask)
        if have_solution and (level.trivial or incumbent_value <= level.lower_bound):
            outcomes.append(LevelOutcome(level.name, incumbent_value, incumbent_value, True, 0.0, level.unit))
            pm.model.add(level.expr <= incumbent_value)
            fixed.append((level, incumbent_value))
            continue
        # Levels still to come share the time left, except those with nothing to decide.
        later = sum(LEVEL_SHARES[k] for k in pending if not (k in static and static[k].trivial))
        share = LEVEL_SHARES[key] / (LEVEL_SHARES[key] + later)
        budget = max(MIN_LEVEL_S, (deadline - time.monotonic()) * share)
        if key in TIE_BREAK_TO_INCUMBENT and have_solution:
            # Exact lexicographic tie-break: weight > the largest number of changes, so the
            # level's value dominates and, among its optima, the one closest to the incumbent wins.
            changes, most = pm.changes_from(assignment)
            weight = most + 1
            pm.model.minimize(cp_model.LinearExpr.weighted_sum([level.expr, changes], [weight, 1]))
        else:
            weight = 1
            pm.model.minimize(level.expr)
        pm.hint(assignment, on_mask, built)
        solver = new_solver(budget, options.workers, options.seed, reproducible=options.reproducible)
        gap = RELATIVE_GAP.get(key, 0.0)
        solver.parameters.relative_gap_limit = gap
        if options.progress:
            start = level_amount(incumbent_value, level.unit)
            options.progress(level.name, f"solving from {start} ({budget:.1f} s budget)")
        status = solve_stoppable(solver, pm.model)
        wall = solver.wall_time
        if status == cp_model.INFEASIBLE:
            if have_solution:
                raise IncumbentRejectedError(
                    f"level {level.name} infeasible although the incumbent satisfies it"
                )
            return StagedOutcome(False, assignment, on_mask, tuple(outcomes), False, False)
        solved = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        if not solved and not have_solution:
            raise _no_solution(options, f"level {level.name}")
        value = incumbent_value
        # CP-SAT reports integer objectives as doubles that may fall just short (18.999…): truncating
        # one would fix the level below what any solution reaches, and the next level's model
        # would reject its own incumbent. Round first, then undo the tie-break weight.
        found = round(solver.objective_value) // weight if solved else incumbent_value
        # The objective is integral, so its bound may be rounded up, short of float noise.
        proven = math.ceil(solver.best_objective_bound - BOUND_EPSILON)
        bound = max(proven // weight, level.lower_bound) if solved else level.lower_bound
        # A solution less than the gap better leaves the incumbent in place only while the
        # incumbent is itself within the gap of the bound: kept beyond it, the incumbent could sit
        # up to twice the gap above the optimum, and a rerun from the plan would find the rest.
        incumbent_proven = incumbent_value * (1 - gap) <= bound
        if solved and (
            not have_solution
            or found < incumbent_value * (1 - gap)
            or (found < incumbent_value and not incumbent_proven)
        ):
            assignment, on_mask = pm.extract(solver)
            value = found
        have_solution = True
        # A level whose value meets its bound is proven, even when the time ran out while CP-SAT
        # still sought the optimum closest to the incumbent (the tie-break is no level of its own).
        optimal = status == cp_model.OPTIMAL or value <= bound
        all_optimal = all_optimal and optimal
        outcomes.append(LevelOutcome(level.name, value, bound, optimal, wall, level.unit))
        if options.progress:
            options.progress(
                level.name,
                f"{level_amount(value, level.unit)} (bound {level_amount(bound, level.unit, named=False)})",
            )
        pm.model.add(level.expr <= value)
        fixed.append((level, value))
        if stop_requested():
            # Ctrl-C during the solve (``solve_stoppable`` stopped it) or before: nothing further
            # starts, the best so far is returned. A solve that ends early by itself is no such
            # request: CP-SAT may stop after presolve when too little of its share is left.
            interrupted = True
            break
    return StagedOutcome(
        True, assignment, on_mask, tuple(outcomes), all_optimal, interrupted, forced.count, forced.proven
    )


def _no_solution(options: SolveOptions, where: str) -> NoSolutionError:
    if stop_requested():
        return NoSolutionError(f"stopped (Ctrl-C) before any placement was found ({where})")
    return NoSolutionError(
        f"no placement found within {options.time_limit_s:.0f} s ({where}); raise --time-limit"
    )


def forced_moves(
    pm: PlacementModel,
    levels: list[LevelExpr],
    assignment: npt.NDArray[np.int64],
    on_mask: npt.NDArray[np.bool_],
    options: SolveOptions,
    deadline: float,
) -> ForcedMoves | None:
    """The fewest optional moves (``PlacementModel.optional_moves``) of any placement within the
    model's hard constraints: what capacity, and with DPM on its high target, force. None when no
    placement meets them.

    ``assignment`` is the warm start. When nothing but the VMs that must move changes and that
    holds, the answer is 0 without a solve; otherwise CP-SAT minimizes the moves, and when time
    runs out first its best count (or, having found none, the warm start's) stands, unproven.
    """
    problem = pm.problem
    home = np.where(problem.mandatory, assignment, problem.instance.current_host)
    home_on = on_mask.copy()
    home_on[home[home != NO_HOST]] = True
    if pm.is_feasible(home, home_on):
        return ForcedMoves(0, True, (home, home_on))
    warm_holds = pm.is_feasible(assignment, on_mask)
    pm.model.minimize(pm.optional_moves())
    pm.hint(assignment, on_mask, levels)
    budget = max(MIN_LEVEL_S, (deadline - time.monotonic()) * FORCED_MOVES_SHARE)
    if options.progress:
        options.progress("forced moves", f"fewest moves capacity needs ({budget:.1f} s budget)")
    solver = new_solver(budget, options.workers, options.seed, reproducible=options.reproducible)
    status = solve_stoppable(solver, pm.model)
    if status == cp_model.INFEASIBLE:
        if warm_holds:
            raise IncumbentRejectedError("the move count's model is infeasible although the warm start holds")
        return None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        found, found_on = pm.extract(solver)
        count, proven = pm.count_optional_moves(found), status == cp_model.OPTIMAL
        if options.progress:
            options.progress("forced moves", f"{count}{'' if proven else ' (not proven the fewest)'}")
        return ForcedMoves(count, proven, (found, found_on))
    if warm_holds:
        return ForcedMoves(pm.count_optional_moves(assignment), False)
    raise _no_solution(options, "fewest forced moves")


def _finish_with_local_search(
    problem: Problem,
    options: SolveOptions,
    band: DrsBand | None,
    assignment: npt.NDArray[np.int64],
    on_mask: npt.NDArray[np.bool_],
    outcomes: list[LevelOutcome],
    deadline: float,
    max_moves: int | None,
    forced: ForcedMoves,
) -> StagedOutcome:
    """DRS and cost levels by large-neighbourhood search; earlier levels stay as fixed.
    ``max_moves``: the optional moves allowed in all (the budget plus the forced ones)."""
    locked = settled_for_balance(problem)
    budget = reproducible_budget(options.time_limit_s, options.workers) if options.reproducible else None
    search = LocalSearch(problem, on_mask, band, locked, max_moves, options.seed, options.workers, budget)
    started = time.monotonic()
    balance_before, cost_before = search.balance_value(assignment), search.cost_value(assignment)
    if options.progress:
        balance = level_amount(balance_before, "variance units beyond tolerance")
        options.progress("local search", f"from {balance}, {level_amount(cost_before, COST_UNIT)}")
    assignment = search.run(assignment, deadline)
    wall = time.monotonic() - started
    if band is not None:
        outcomes.append(
            LevelOutcome(
                DRS_LEVEL,
                search.balance_value(assignment),
                0.0,
                False,
                wall,
                "variance units beyond tolerance",
            )
        )
    cost = search.cost_value(assignment)
    outcomes.append(LevelOutcome("migration cost", cost, 0.0, False, wall, COST_UNIT))
    if options.progress:
        options.progress(
            "local search",
            f"{search.stats.neighbourhoods} neighbourhoods, {search.stats.improvements} improvements"
            + (
                f" (grown to {search.stats.growth}× the first size after stalls)"
                if search.stats.growth > 1
                else ""
            ),
        )
    return StagedOutcome(
        True, assignment, on_mask, tuple(outcomes), False, search.interrupted, forced.count, forced.proven
    )


def _lex_as_good(
    problem: Problem,
    levels: dict[str, LevelExpr],
    band: DrsBand | None,
    candidate: npt.NDArray[np.int64],
    candidate_on: npt.NDArray[np.bool_],
    incumbent: npt.NDArray[np.int64],
    incumbent_on: npt.NDArray[np.bool_],
) -> bool:
    """Whether ``candidate`` is at least as good as ``incumbent``, level by level in order."""
    for key in ("p2", "dpm", "p3", "drs", "cost"):
        if key == "drs":
            if band is None:
                continue
            a = BalancePenalty.build(problem.instance, problem.resources, candidate_on, band).excess(
                candidate
            )
            b = BalancePenalty.build(problem.instance, problem.resources, incumbent_on, band).excess(
                incumbent
            )
            if a > b * (1 + RELATIVE_GAP["drs"]):
                return False
            if a < b:
                return True
            continue
        a, b = levels[key].evaluate(candidate, candidate_on), levels[key].evaluate(incumbent, incumbent_on)
        if a != b:
            return a < b
    return True

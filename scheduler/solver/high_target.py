"""Whether DPM's high target is what breaks priority-2 rules.

The levels are solved with DPM's high target as a constraint on every host left on, from the
priority-2 level down. That is right when the target costs the rules nothing, but the objective
order puts priority-2 rules before DPM: when some placement within capacity breaks fewer of them
than any placement within the target, the target has to give way, not the rules. The caller then
plans again without the target, as it does when no placement keeps it at all: the hosts up stay
on (VMware's DPM powers no host off while one is above its high target), and a standby host comes
back only where capacity needs it (powering one on would relieve nothing the rules hold).
"""

from __future__ import annotations

import time
from dataclasses import replace

from ortools.sat.python import cp_model

from scheduler.solver.cpmodel import PlacementModel
from scheduler.solver.options import SolveOptions
from scheduler.solver.problem import Problem
from scheduler.solver.sat import new_solver, solve_stoppable
from scheduler.solver.staged import StagedOutcome, forced_moves

PRIORITY2_LEVEL = "priority-2 rules"
# The check's share of the time left, and its least time: it runs only when rules stay broken.
CHECK_SHARE = 0.1
CHECK_LEAST_S = 0.5


def high_target_breaks_rules(
    problem: Problem, outcome: StagedOutcome, options: SolveOptions, deadline: float
) -> str | None:
    """Why the high target must give way (for the plan's notes), or None when it costs no rule.

    ``outcome``: the solve under the target. Only a placement found without the target that
    breaks fewer priority-2 rules, and is itself outside the target, proves it: one within the
    target would only say that the first solve ran short of time. Under a move budget both sides
    count their optional moves beyond the fewest their own hard limits force, as the levels do:
    the target may force moves that capacity alone does not.
    """
    if problem.dpm_high is None:
        return None
    level = next((lv for lv in outcome.levels if lv.name == PRIORITY2_LEVEL), None)
    if level is None or level.value <= 0:
        return None
    free_problem = replace(problem, dpm_high=None)
    budget = max(CHECK_LEAST_S, (deadline - time.monotonic()) * CHECK_SHARE)
    without = PlacementModel(free_problem)
    within = PlacementModel(problem)
    if options.max_migrations is not None:
        forced = forced_moves(
            PlacementModel(free_problem), [], problem.warm, problem.warm_on, options, deadline
        )
        if forced is None:
            return None
        without.limit_moves(options.max_migrations + forced.count)
        within.limit_moves(options.max_migrations + outcome.forced_moves)
    p2 = without.priority2_level()
    without.model.add(p2.expr <= int(level.value) - 1)
    without.model.minimize(p2.expr)
    solver = new_solver(budget, options.workers, options.seed, reproducible=options.reproducible)
    if solve_stoppable(solver, without.model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    assignment, on_mask = without.extract(solver)
    if within.is_feasible(assignment, on_mask):
        return None
    fewer = round(solver.objective_value)
    return (
        f"keeping every host within the DPM high target of {problem.dpm_high:.0%} would break "
        f"{int(level.value)} priority-2 rule(s), and capacity alone allows {fewer}: rules come "
        "before DPM"
    )

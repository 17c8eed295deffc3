"""One place that creates CP-SAT solvers, with the parameters every solve here shares."""

from __future__ import annotations

from ortools.sat.python import cp_model

from scheduler.interrupt import on_sigint


def new_solver(time_limit_s: float, workers: int, seed: int) -> cp_model.CpSolver:
    """A CP-SAT solver bounded in time.

    CP-SAT's own SIGINT handling is off: it puts the default handler back after a solve, so a
    later Ctrl-C would kill the process instead of reaching ``scheduler.interrupt``, which lets
    the optimizer stop and return the best plan found so far. Long solves go through
    ``solve_stoppable``, which stops them at a Ctrl-C.
    """
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit_s, 0.01)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    solver.parameters.catch_sigint_signal = False
    return solver


def solve_stoppable(solver: cp_model.CpSolver, model: cp_model.CpModel) -> cp_model.CpSolverStatus:
    """``solver.solve(model)``, stopped at once by a Ctrl-C during the optimizer's search (its
    best solution so far is kept, and the stop is requested for the rest of the search)."""
    with on_sigint(solver.stop_search):
        return solver.solve(model)

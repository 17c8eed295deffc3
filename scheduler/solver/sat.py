"""One place that creates CP-SAT solvers, with the parameters every solve here shares."""

from __future__ import annotations

from ortools.sat.python import cp_model

from scheduler.interrupt import on_sigint


def new_solver(
    time_limit_s: float, workers: int, seed: int, *, reproducible: bool = False
) -> cp_model.CpSolver:
    """A CP-SAT solver bounded in time.

    Several workers race in CP-SAT's default parallel search, and whichever reports first picks
    among equal optima and within a level's relative gap: the bundled demo, planned six times
    with the same seed on two workers, gave two different plans, both "optimal". With
    ``reproducible`` the same subsolvers run interleaved, in batches in an order the seed fixes,
    so a solve that ends on its proof before the time limit gives the same answer on every run.
    It is not the default because it costs: an 8-host level proven in 2.2 s instead of 0.3 s,
    the demo planned in about 8 s instead of 4, and at the quick suite's 5 s limit one DPM
    instance ended 0.0002 above its DRS tolerance where the racing search got within it
    (docs/optimizer.md, reproducibility).

    CP-SAT's own SIGINT handling is off: it puts the default handler back after a solve, so a
    later Ctrl-C would kill the process instead of reaching ``scheduler.interrupt``, which lets
    the optimizer stop and return the best plan found so far. Long solves go through
    ``solve_stoppable``, which stops them at a Ctrl-C.
    """
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit_s, 0.01)
    solver.parameters.num_workers = workers
    solver.parameters.interleave_search = reproducible and workers > 1
    solver.parameters.random_seed = seed
    solver.parameters.catch_sigint_signal = False
    return solver


def solve_stoppable(solver: cp_model.CpSolver, model: cp_model.CpModel) -> cp_model.CpSolverStatus:
    """``solver.solve(model)``, stopped at once by a Ctrl-C during the optimizer's search (its
    best solution so far is kept, and the stop is requested for the rest of the search)."""
    with on_sigint(solver.stop_search):
        return solver.solve(model)

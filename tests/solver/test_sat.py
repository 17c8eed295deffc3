"""Ctrl-C stops a CP-SAT solve at once, with its best solution kept, during the optimizer's search."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
from ortools.sat.python import cp_model

from scheduler.interrupt import on_sigint, stop_requested, stop_requested_on_sigint
from scheduler.solver.sat import new_solver, solve_stoppable

TIME_LIMIT_S = 60.0


def hard_knapsack() -> cp_model.CpModel:
    """500 items, five capacity rows, values tied to weights: CP-SAT finds good solutions at
    once but does not prove optimality within 10 s on two cores."""
    rng = np.random.default_rng(0)
    weights = rng.integers(10, 1_000, size=(5, 500))
    values = weights.sum(axis=0) // 5 + 97
    model = cp_model.CpModel()
    take = [model.new_bool_var(f"take{j}") for j in range(500)]
    for row in weights:
        model.add(cp_model.LinearExpr.weighted_sum(take, row.tolist()) <= int(row.sum() // 2))
    model.maximize(cp_model.LinearExpr.weighted_sum(take, values.tolist()))
    return model


def test_ctrl_c_stops_a_long_solve_at_once_and_keeps_its_best_solution() -> None:
    solver = new_solver(TIME_LIMIT_S, 2, 0)
    with stop_requested_on_sigint():
        ctrl_c = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
        ctrl_c.start()
        started = time.monotonic()
        status = solve_stoppable(solver, hard_knapsack())
        elapsed = time.monotonic() - started
        ctrl_c.cancel()  # should the solve end first, no stray Ctrl-C reaches the test run
        assert stop_requested()
    assert status == cp_model.FEASIBLE  # stopped with a solution, not run out nor proven
    assert elapsed < TIME_LIMIT_S / 3
    assert signal.set_wakeup_fd(-1) == -1  # the wake-up descriptor was given back


def test_outside_the_search_a_solve_is_left_alone() -> None:
    """Without ``stop_requested_on_sigint`` (a library caller's own code) nothing listens for
    the signal: the wake-up descriptor stays unset and the action is never called."""
    called: list[bool] = []
    with on_sigint(lambda: called.append(True)):
        assert signal.set_wakeup_fd(-1) == -1
    assert not called

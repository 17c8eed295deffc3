"""Lexicographic solving: only a real stop request (Ctrl-C) ends the search early."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ortools.sat.python import cp_model

import scheduler.solver.staged as staged_module
from scheduler.model import Instance
from scheduler.pipeline import PlanOutcome

Planner = Callable[..., PlanOutcome]


def test_a_solve_that_ends_early_by_itself_is_not_taken_for_ctrl_c(
    plan_of: Planner, hot_pair: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CP-SAT may return before its time share without a proof, e.g. after presolve when too
    little time is left to search. That is no stop request: the plan must not say the search
    was stopped, and the levels after it are still solved (here every solve stops after
    presolve, so each level keeps the warm start's value)."""
    real_new_solver = staged_module.new_solver
    made: list[cp_model.CpSolver] = []

    def stopping_after_presolve(time_limit_s: float, workers: int, seed: int) -> cp_model.CpSolver:
        solver = real_new_solver(time_limit_s, workers, seed)
        solver.parameters.stop_after_presolve = True
        made.append(solver)
        return solver

    monkeypatch.setattr(staged_module, "new_solver", stopping_after_presolve)
    outcome = plan_of(hot_pair)
    assert made, "no level was solved by CP-SAT"
    assert not outcome.result.interrupted
    assert not any("stopped early" in note for note in outcome.result.notes)
    assert outcome.result.levels[-1].name == "migration cost"

"""Lexicographic solving: a Ctrl-C ends the search at once with the best plan so far, and only a
real Ctrl-C does."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import pytest
from ortools.sat.python import cp_model

import scheduler.solver.staged as staged_module
from scheduler.model import Instance
from scheduler.pipeline import PlanOutcome, with_what_if
from scheduler.synth import SynthSpec, synthesize

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

    def stopping_after_presolve(
        time_limit_s: float, workers: int, seed: int, *, reproducible: bool = False
    ) -> cp_model.CpSolver:
        solver = real_new_solver(time_limit_s, workers, seed, reproducible=reproducible)
        solver.parameters.stop_after_presolve = True
        made.append(solver)
        return solver

    monkeypatch.setattr(staged_module, "new_solver", stopping_after_presolve)
    outcome = plan_of(hot_pair)
    assert made, "no level was solved by CP-SAT"
    assert not outcome.result.interrupted
    assert not any("stopped early" in note for note in outcome.result.notes)
    assert outcome.result.levels[-1].name == "migration cost"


def test_ctrl_c_during_a_level_returns_the_best_plan_so_far_at_once(plan_of: Planner) -> None:
    """At threshold 5 (tolerance 0) the DRS level of 8 hosts x 80 VMs is not proven within its
    share of a 60 s limit (over half a minute). A Ctrl-C two seconds in stops that solve: the
    plan comes back within seconds, verified (``make_plan`` checks every plan it returns), and
    says the search was stopped."""
    instance = with_what_if(synthesize(SynthSpec(hosts=8, vms=80, seed=0)), threshold=5)
    ctrl_c = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT))
    ctrl_c.start()
    started = time.monotonic()
    outcome = plan_of(instance, time_limit_s=60.0)
    ctrl_c.cancel()  # should the plan come back first, no stray Ctrl-C reaches the test run
    assert time.monotonic() - started < 20.0
    assert outcome.result.interrupted
    assert any("stopped early" in note for note in outcome.result.notes)


def test_a_level_whose_value_meets_its_bound_is_proven_when_time_runs_out(
    plan_of: Planner, hot_pair: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CP-SAT may prove a level's value and still be looking, when its share ends, for the
    optimum closest to the incumbent (the tie-break of the rule and DPM levels). Simulated here:
    every solve runs to the end but reports FEASIBLE. A level whose value meets its proven bound
    is optimal all the same, and so is a plan made of such levels."""
    real_solve = staged_module.solve_stoppable
    statuses: list[cp_model.CpSolverStatus] = []

    def out_of_time(solver: cp_model.CpSolver, model: cp_model.CpModel) -> cp_model.CpSolverStatus:
        status = real_solve(solver, model)
        statuses.append(status)
        return cp_model.FEASIBLE if status == cp_model.OPTIMAL else status

    monkeypatch.setattr(staged_module, "solve_stoppable", out_of_time)
    outcome = plan_of(hot_pair)
    assert cp_model.OPTIMAL in statuses  # some level was solved, and to the end
    levels = outcome.plan.metrics["levels"]
    assert all(level["value"] == level["bound"] and level["optimal"] for level in levels)
    assert outcome.plan.status.value == "optimal"

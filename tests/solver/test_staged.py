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

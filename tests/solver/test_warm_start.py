"""The warm start: today's placement repaired for the power decision, and the better balanced start."""

from __future__ import annotations

import functools
import time

import numpy as np
import numpy.typing as npt
import pytest
from check.factories import host, make_instance, vm

from scheduler.check.metrics import drs_tolerance
from scheduler.compat import compatibility
from scheduler.heuristics.balance import imbalance
from scheduler.heuristics.state import LoadState
from scheduler.model import DpmPolicy, Instance
from scheduler.pipeline import with_what_if
from scheduler.solver import warm_start
from scheduler.solver.balance import BalancePenalty, DrsBand
from scheduler.solver.options import SolveOptions
from scheduler.solver.prepare import prepare
from scheduler.solver.problem import POWER_DECIDE, POWER_ON
from scheduler.synth import SynthSpec, synthesize


def test_dpm_start_empties_a_host_within_the_high_target():
    """h1 and h2 run a and b (2,000 MHz each): both fit on one host within DPM's high target, so
    the repaired start empties one host and DPM keeps deciding the power."""
    instance = make_instance(
        [host("h1"), host("h2")], [vm("a", "h1", 2_000), vm("b", "h2", 2_000)], dpm=DpmPolicy(enabled=True)
    )
    start = warm_start.repaired_warm_start(prepare(instance), None)
    assert start.within_high
    assert start.dpm_high == instance.policy.dpm.target_utilization[1]
    assert int(start.warm_on.sum()) == 1
    assert len(set(start.warm.tolist())) == 1
    assert np.all(start.power == POWER_DECIDE)
    assert start.notes == ()


def test_demand_beyond_the_high_target_of_every_host_keeps_them_all_on():
    """17,000 MHz of demand against 16,200 within the 81 % target on both hosts: no search, every
    host on, and the note says why."""
    instance = make_instance(
        [host("h1"), host("h2")], [vm("a", "h1", 9_000), vm("b", "h2", 8_000)], dpm=DpmPolicy(enabled=True)
    )
    start = warm_start.repaired_warm_start(prepare(instance), None)
    assert not start.within_high
    assert start.dpm_high is None
    assert np.all(start.power == POWER_ON)
    assert start.notes == (
        "the cluster's demand exceeds the DPM high target of all its hosts together: hosts stay on",
    )


def test_a_missed_high_target_passed_in_keeps_every_host_on():
    """The retry after CP-SAT found no placement within the target: repaired at full capacity."""
    instance = make_instance(
        [host("h1"), host("h2")], [vm("a", "h1", 2_000), vm("b", "h2", 2_000)], dpm=DpmPolicy(enabled=True)
    )
    start = warm_start.repaired_warm_start(prepare(instance), "no placement found")
    assert start.notes == ("no placement found: hosts stay on",)
    assert start.dpm_high is None
    assert np.all(start.power == POWER_ON)
    assert start.warm.tolist() == instance.current_host.tolist()


def test_without_a_greedy_repair_the_start_is_todays_placement():
    """h1 is over capacity (10,200 MHz) and only an exact packing ({a, d}, {b, c, e}) fits, which
    greedy repair misses: CP-SAT starts from today's placement, and the note says so."""
    vms = [
        vm("a", "h1", 4_000),
        vm("b", "h1", 4_000),
        vm("e", "h1", 2_200),
        vm("c", "h2", 3_800, 7_000),
        vm("d", "h2", 6_000, 7_000),
    ]
    instance = make_instance([host("h1"), host("h2")], vms)
    start = warm_start.repaired_warm_start(prepare(instance), None)
    assert start.warm.tolist() == instance.current_host.tolist()
    assert start.notes == (
        "greedy repair found no feasible warm start; CP-SAT starts from today's placement",
    )


def _balanced_cluster() -> tuple[Instance, DrsBand, npt.NDArray[np.bool_]]:
    """4 hosts × 40 VMs placed evenly today (threshold 3: allowance 0.1 per resource)."""
    instance = with_what_if(
        synthesize(SynthSpec(hosts=4, vms=40, seed=0, cpu_generations=1, rule_density="none", skew="none")),
        threshold=3,
    )
    movable = np.ones(instance.num_vms, dtype=np.bool_)
    resources = instance.policy.drs.measure.resources
    band = DrsBand(
        instance, resources, functools.partial(drs_tolerance, 3), compatibility(instance).allowed, movable
    )
    return instance, band, np.ones(instance.num_hosts, dtype=np.bool_)


def test_a_start_drs_calls_balanced_wins_on_seconds_though_the_level_counts_an_excess(
    monkeypatch: pytest.MonkeyPatch,
):
    """The level's penalty lies a little above the variance between its breakpoints, so a start
    within the allowance may still count an excess: it is kept when it costs fewer seconds."""
    instance, band, on = _balanced_cluster()
    today = instance.current_host.copy()
    one_move = today.copy()
    one_move[0] = (today[0] + 1) % instance.num_hosts
    resources = band.resources
    assert np.all(imbalance(LoadState(instance, one_move), resources, on) <= band.allowance(on))
    excess_of = BalancePenalty.excess

    def counted(penalty: BalancePenalty, assignment: npt.NDArray[np.int64]) -> int:
        return 500 if np.array_equal(assignment, today) else excess_of(penalty, assignment)

    monkeypatch.setattr(BalancePenalty, "excess", counted)
    cost_s = np.ones(instance.num_vms)
    finished = {"greedy": one_move, "LP-guided": today}
    kept = warm_start._better_warm_start(instance, finished, on, band, cost_s, SolveOptions())
    assert kept is today


def test_a_start_beyond_the_allowance_loses_to_a_balanced_one_however_cheap():
    instance, band, on = _balanced_cluster()
    today = instance.current_host.copy()
    piled = np.zeros_like(today)  # every VM on the first host: free in seconds here, far from balanced
    cost_s = np.where(today != piled, 0.0, 1.0)
    moved = today.copy()
    moved[0] = (today[0] + 1) % instance.num_hosts
    cost_s[0] = 5.0
    finished = {"greedy": moved, "LP-guided": piled}
    kept = warm_start._better_warm_start(instance, finished, on, band, cost_s, SolveOptions())
    assert kept is moved


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


@pytest.mark.parametrize(("greedy_s", "guided"), [(3.0, True), (6.0, False)])
def test_the_guided_start_runs_only_when_the_budget_left_covers_what_the_greedy_took(
    monkeypatch: pytest.MonkeyPatch, greedy_s: float, guided: bool
):
    """The guided start (relaxation, landing, the greedy's finish) takes about as long as the
    greedy alone: with 10 s of budget, a greedy of 3 s leaves room for it, one of 6 s does not,
    and the progress says why it was skipped."""
    instance, band, on = _balanced_cluster()
    clock = _Clock()
    monkeypatch.setattr(warm_start, "time", clock)
    monkeypatch.setattr(warm_start, "LOCAL_SEARCH_PAIRS", 0)
    calls: list[str] = []

    def greedy(_instance: Instance, start: npt.NDArray[np.int64], *args: object) -> npt.NDArray[np.int64]:
        clock.now += greedy_s if not calls else 0.0
        calls.append("greedy")
        return start

    def guide(*args: object) -> None:
        calls.append("guided")

    monkeypatch.setattr(warm_start, "_balance_warm_start", greedy)
    monkeypatch.setattr(warm_start, "guided_start", guide)
    told: list[str] = []
    options = SolveOptions(progress=lambda level, message: told.append(message))
    movable = np.ones(instance.num_vms, dtype=np.bool_)
    allowed = compatibility(instance).allowed
    cost_s = np.ones(instance.num_vms)

    warm_start.balanced_warm_start(
        instance, instance.current_host, on, allowed, movable, band, cost_s, None, options, clock.now + 10.0
    )

    assert calls == (["greedy", "guided"] if guided else ["greedy"])
    skipped = [m for m in told if m.startswith("LP-guided start skipped")]
    assert skipped == (
        [] if guided else ["LP-guided start skipped: 4.0 s left of the budget, the greedy alone took 6.0 s"]
    )


def test_the_guided_start_is_skipped_where_the_greedy_stops_short_of_the_balance(
    monkeypatch: pytest.MonkeyPatch,
):
    """The guided start is finished by the same greedy: where the greedy's own start is not
    balanced (here every VM piled on one host), it is not tried, whatever the time left."""
    instance, band, on = _balanced_cluster()
    monkeypatch.setattr(warm_start, "LOCAL_SEARCH_PAIRS", 0)
    piled = np.zeros_like(instance.current_host)
    calls: list[str] = []
    monkeypatch.setattr(warm_start, "_balance_warm_start", lambda *args: piled)
    monkeypatch.setattr(warm_start, "guided_start", lambda *args: calls.append("guided"))
    told: list[str] = []
    options = SolveOptions(progress=lambda level, message: told.append(message))
    movable = np.ones(instance.num_vms, dtype=np.bool_)
    allowed = compatibility(instance).allowed

    kept = warm_start.balanced_warm_start(
        instance,
        instance.current_host,
        on,
        allowed,
        movable,
        band,
        np.ones(instance.num_vms),
        None,
        options,
        time.monotonic() + 600.0,
    )

    assert calls == []
    assert kept is piled
    assert any(m.startswith("LP-guided start skipped: the greedy stopped short of the balance") for m in told)

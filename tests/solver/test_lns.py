"""Large-neighbourhood search on tiny clusters: the balance phase reaches the band, and moves the
balance does not need are sent home before the cost phase."""

from __future__ import annotations

import functools
import itertools
import threading
import time
from concurrent.futures import Executor, Future
from dataclasses import replace

import numpy as np
import pytest
from check.factories import host, make_instance, vm
from ortools.sat.python import cp_model

from scheduler.check.metrics import drs_tolerance
from scheduler.model import Instance
from scheduler.solver import lns
from scheduler.solver.balance import DrsBand
from scheduler.solver.lns import LocalSearch
from solver.problems import RESOURCES, whole_problem


def search_of(instance: Instance, warm: np.ndarray) -> LocalSearch:
    """Every VM free on every host, all hosts on, threshold 3, no rule locks."""
    problem = whole_problem(instance, warm=warm)
    everyone = np.ones(instance.num_vms, dtype=np.bool_)
    on = np.ones(instance.num_hosts, dtype=np.bool_)
    band = DrsBand(instance, RESOURCES, functools.partial(drs_tolerance, 3), problem.allowed, everyone)
    return LocalSearch(problem, on, band, ~everyone, None, seed=0)


def test_a_move_the_balance_does_not_need_goes_home_before_any_neighbourhood() -> None:
    """h1 runs a and x (1,000 MHz each), h2 and h3 one each: CPU (0.2, 0.1, 0.1), std 0.047,
    within threshold 3's 0.1155 on three hosts. The warm start moves a to h3 (0.1, 0.1, 0.2):
    the same balance for a migration. With no time for a single neighbourhood, a still goes
    home."""
    inst = make_instance(
        [host("h1"), host("h2"), host("h3")],
        [vm("a", "h1"), vm("x", "h1"), vm("y", "h2"), vm("z", "h3")],
    )
    warm = inst.current_host.copy()
    warm[inst.vm_index["a"]] = inst.host_index["h3"]
    search = search_of(inst, warm)
    assert search.cost_value(warm) > 0

    result = search.run(warm, deadline=time.monotonic())

    assert np.array_equal(result, inst.current_host)
    assert search.stats.neighbourhoods == 0


def test_balance_phase_brings_a_hot_host_within_the_band() -> None:
    """h1 runs six 1,000 MHz VMs (0.6), h2 and h3 none: std 0.28 against 0.1155. Moving two
    VMs to each cold host gives (0.2, 0.2, 0.2); one each leaves (0.4, 0.1, 0.1), std 0.14."""
    inst = make_instance([host("h1"), host("h2"), host("h3")], [vm(f"v{i}", "h1") for i in range(6)])
    warm = inst.current_host.copy()
    search = search_of(inst, warm)
    assert search.balance_value(warm) > 0

    result = search.run(warm, deadline=time.monotonic() + 3.0)

    assert search.balance_value(result) == 0
    cpu = np.bincount(result, inst.vm_cpu_demand_mhz, inst.num_hosts) / 10_000
    assert float(cpu.std()) <= drs_tolerance(3, 3)


class _HintAudit(cp_model.CpSolver):
    """A solver that, before each solve, records whether the model's hint covers every variable
    and whether the hinted values on their own satisfy the model."""

    def __init__(self, audits: list[tuple[bool, bool]]) -> None:
        super().__init__()
        self.audits = audits

    def solve(self, model: cp_model.CpModel, *args: object, **kwargs: object) -> cp_model.CpSolverStatus:
        proto = model.Proto()
        covers_all = len(proto.solution_hint.vars) == len(proto.variables)
        check = cp_model.CpSolver()
        check.parameters.fix_variables_to_their_hinted_value = True
        check.parameters.max_time_in_seconds = 5.0
        holds = check.solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        self.audits.append((covers_all, holds))
        return super().solve(model, *args, **kwargs)


@pytest.mark.parametrize("balance", [True, False])
def test_every_neighbourhood_starts_from_a_complete_feasible_hint(
    monkeypatch: pytest.MonkeyPatch, balance: bool
) -> None:
    """The hint gives every variable (placement, deviations, segments, overshoot, excess) its
    value at the current assignment, and those values satisfy the model: the sub-solve starts
    from the current solution instead of having to rebuild it within its 0.2 s."""
    inst = make_instance(
        [host("h1"), host("h2"), host("h3")],
        [*(vm(f"v{i}", "h1") for i in range(6)), vm("w", "h2")],
    )
    warm = inst.current_host.copy()
    if not balance:
        warm[inst.vm_index["v0"]] = inst.host_index["h2"]
        warm[inst.vm_index["v1"]] = inst.host_index["h3"]
    search = search_of(inst, warm)
    original = lns.new_solver
    audits: list[tuple[bool, bool]] = []

    def audited(time_limit_s: float, workers: int, seed: int) -> cp_model.CpSolver:
        solver = _HintAudit(audits)
        solver.parameters.copy_from(original(time_limit_s, workers, seed).parameters)
        return solver

    monkeypatch.setattr(lns, "new_solver", audited)

    search._solve(warm, np.arange(inst.num_hosts), 2.0, seed=0, growth=1, balance=balance)

    assert audits, "no neighbourhood was solved"
    assert all(covers_all and holds for covers_all, holds in audits), audits


def _room_for_one_move_home() -> tuple[Instance, np.ndarray]:
    """Four hosts of 10,000 MiB; h1 and h3 run VMs of 2,000, 1,200 and 1,200 MiB, h2 and h4 one
    of 2,000 (every VM 100 MHz). The warm start moves a1 to h2 and b1 to h4: every host's memory
    at 0.32. Sending either home costs nothing and leaves a standard deviation of 0.085, within
    threshold 3's 0.1 on four hosts; sending both home leaves 0.12. (Memory, which has no peak
    cap: a host 0.12 above the mean would be over the CPU one.)"""
    sizes = {"x": ("h1", 2_000), "a1": ("h1", 1_200), "a2": ("h1", 1_200), "y": ("h2", 2_000)}
    sizes |= {"z": ("h3", 2_000), "b1": ("h3", 1_200), "b2": ("h3", 1_200), "w": ("h4", 2_000)}
    inst = make_instance(
        [host(f"h{i}", 10_000, 10_000) for i in range(1, 5)],
        [vm(name, on, 100, mib, memory_demand_mib=mib) for name, (on, mib) in sizes.items()],
    )
    warm = inst.current_host.copy()
    warm[inst.vm_index["a1"]] = inst.host_index["h2"]
    warm[inst.vm_index["b1"]] = inst.host_index["h4"]
    return inst, warm


def test_two_sub_solves_spending_the_same_room_are_not_both_kept() -> None:
    """Sub-solves run in parallel from the same assignment: each may use the room left under the
    tolerance, and the second to end is judged against the assignment the first left."""
    inst, warm = _room_for_one_move_home()
    search = search_of(inst, warm)
    a_home, b_home = warm.copy(), warm.copy()
    a_home[inst.vm_index["a1"]] = inst.host_index["h1"]
    b_home[inst.vm_index["b1"]] = inst.host_index["h3"]
    assert search._accepts(a_home, warm, balance=False)
    assert search._accepts(b_home, warm, balance=False)

    after_a = LocalSearch._applied(warm, warm, a_home)
    both = LocalSearch._applied(after_a, warm, b_home)

    assert search.balance_value(both) > 0
    assert not search._accepts(both, after_a, balance=False)


def test_parallel_sub_solves_run_at_once_and_keep_the_balance(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two hot hosts of six 500 MHz VMs each and six hosts of one: with two workers, two neighbourhoods
    on disjoint hosts are solved at the same time, and what the search keeps is within the band
    and within every host's capacity."""
    inst = make_instance(
        [host(f"h{i}") for i in range(8)],
        [
            *(vm(f"v{i}", f"h{i % 2}", 500) for i in range(12)),
            *(vm(f"w{i}", f"h{2 + i}", 500) for i in range(6)),
        ],
    )
    warm = inst.current_host.copy()
    search = search_of(inst, warm)
    search.workers = 2
    in_flight, most = [0], [0]
    original = LocalSearch._solve

    def observed(self: LocalSearch, *args: object, **kwargs: object) -> np.ndarray | None:
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        time.sleep(0.05)  # long enough for the other worker's sub-solve to start meanwhile
        try:
            return original(self, *args, **kwargs)  # type: ignore[arg-type]
        finally:
            in_flight[0] -= 1

    monkeypatch.setattr(LocalSearch, "_solve", observed)
    result = search.run(warm, deadline=time.monotonic() + 3.0)

    assert most[0] == 2
    assert search.balance_value(result) == 0
    assert np.bincount(result, inst.vm_cpu_demand_mhz, inst.num_hosts).max() <= 10_000


class _AtOnce(Executor):
    """An executor that runs each job as it is submitted: every job of a round is done together."""

    def __init__(self, workers: int) -> None:
        del workers

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        job: Future[object] = Future()
        job.set_result(fn(*args, **kwargs))
        return job


def test_sub_solves_that_end_together_are_all_settled_before_moves_go_home(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two cost neighbourhoods, {h1, h2} and {h3, h4}, end at once: each sends its VM home, and
    the first brings the pass that sends moves home due. Both are settled first, the second
    against what the first left (no room for it under the tolerance), and then the pass runs."""
    inst, warm = _room_for_one_move_home()
    search = search_of(inst, warm)
    search.workers = 2
    hoods = itertools.cycle([np.array([0, 1]), np.array([2, 3])])
    monkeypatch.setattr(search, "_cost_hosts", lambda assignment: next(hoods))
    passes: list[int] = []
    monkeypatch.setattr(search, "_drop_unneeded", lambda assignment: passes.append(1) or assignment)
    monkeypatch.setattr(lns, "ThreadPoolExecutor", _AtOnce)
    monkeypatch.setattr(lns, "DROP_EVERY", 1)

    result = search.run(warm, deadline=time.monotonic() + 1.0)

    home = [int(result[inst.vm_index[v]] == inst.current_host[inst.vm_index[v]]) for v in ("a1", "b1")]
    assert sum(home) == 1
    assert search.balance_value(result) == 0
    assert len(passes) >= 2  # before the cost phase, and after the first improvement


class _SecondEndsLater(Executor):
    """An executor whose every second job ends a moment after it is submitted, the others at once:
    the search sees one neighbourhood end while the other is still in flight."""

    def __init__(self, workers: int) -> None:
        del workers
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        job: Future[object] = Future()
        result = fn(*args, **kwargs)
        self.submitted += 1
        if self.submitted % 2:
            job.set_result(result)
        else:
            threading.Timer(0.1, job.set_result, (result,)).start()
        return job


def test_a_sub_solve_in_flight_when_moves_go_home_is_settled_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pointless swaps, q1 ↔ q2 on {h1, h2} and q3 ↔ q4 on {h3, h4}, each undone by its own
    neighbourhood. The first to end brings the pass that sends moves home due while the second is
    still in flight: the second is waited for and kept, so the pass starts from both undone."""
    inst = make_instance(
        [host(f"h{i}", 10_000, 10_000) for i in range(1, 5)],
        [
            vm(f"{kind}{i}", f"h{i}", 100, 1_000, memory_demand_mib=1_000)
            for i in range(1, 5)
            for kind in "pq"
        ],
    )
    warm = inst.current_host.copy()
    for a, b in (("q1", "q2"), ("q3", "q4")):
        warm[inst.vm_index[a]], warm[inst.vm_index[b]] = (
            inst.current_host[inst.vm_index[b]],
            inst.current_host[inst.vm_index[a]],
        )
    search = search_of(inst, warm)
    search.workers = 2
    hoods = itertools.cycle([np.array([0, 1]), np.array([2, 3])])
    monkeypatch.setattr(search, "_cost_hosts", lambda assignment: next(hoods))
    passes: list[np.ndarray] = []
    monkeypatch.setattr(
        search, "_drop_unneeded", lambda assignment: passes.append(assignment.copy()) or assignment
    )
    monkeypatch.setattr(lns, "ThreadPoolExecutor", _SecondEndsLater)
    monkeypatch.setattr(lns, "DROP_EVERY", 1)

    search.run(warm, deadline=time.monotonic() + 1.0)

    assert len(passes) >= 2  # before the cost phase, and after the first improvement
    assert passes[1].tolist() == inst.current_host.tolist()


class _LastFirst(Executor):
    """An executor that starts each job on a thread and lets later jobs of a round end first (the
    first job sleeps longest): the order sub-solves end in is not the order they were drawn in."""

    def __init__(self, workers: int) -> None:
        del workers
        self.delay = [0.06, 0.0]

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        job: Future[object] = Future()
        delay = self.delay[0]
        self.delay.reverse()

        def run() -> None:
            time.sleep(delay)
            job.set_result(fn(*args, **kwargs))

        threading.Thread(target=run).start()
        return job


def _hot_cluster() -> tuple[Instance, np.ndarray]:
    """Three hot hosts of eight 500 MHz VMs and nine hosts of one: much to balance, many ways."""
    inst = make_instance(
        [host(f"h{i}") for i in range(12)],
        [
            *(vm(f"v{i}", f"h{i % 3}", 500) for i in range(24)),
            *(vm(f"w{i}", f"h{3 + i}", 500) for i in range(9)),
        ],
    )
    return inst, inst.current_host.copy()


def test_reproducible_rounds_give_one_answer_whichever_sub_solve_ends_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a neighbourhood budget the search runs in rounds settled in the order they were drawn:
    the same assignment whether a round's first or second sub-solve ends first, within the budget."""
    inst, warm = _hot_cluster()
    results = []
    for pool in (_AtOnce, _LastFirst):
        monkeypatch.setattr(lns, "ThreadPoolExecutor", pool)
        search = search_of(inst, warm)
        search.workers = 2
        search.neighbourhood_budget = 24
        results.append((search.run(warm, deadline=time.monotonic() + 60.0), search.stats))
    (first, first_stats), (second, second_stats) = results
    assert np.array_equal(first, second)
    assert first_stats == second_stats
    assert 0 < first_stats.neighbourhoods <= 24
    assert search.balance_value(first) == 0


def test_reproducible_sub_solves_are_bounded_in_deterministic_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each sub-solve of a reproducible search stops on CP-SAT's deterministic time (work done, the
    same on every machine); the clock's limit is only a distant guard."""
    inst, warm = _hot_cluster()
    solvers: list[cp_model.CpSolver] = []
    original = lns.new_solver

    def recorded(*args: object, **kwargs: object) -> cp_model.CpSolver:
        solver = original(*args, **kwargs)  # type: ignore[arg-type]
        solvers.append(solver)
        return solver

    monkeypatch.setattr(lns, "new_solver", recorded)
    search = search_of(inst, warm)
    search.neighbourhood_budget = 6
    search.run(warm, deadline=time.monotonic() + 60.0)
    assert solvers
    for solver in solvers:
        assert 0 < solver.parameters.max_deterministic_time <= lns.SUB_SOLVE_DETERMINISTIC
        assert solver.parameters.max_time_in_seconds >= lns.SUB_SOLVE_S
    assert lns.reproducible_budget(30.0, 2) == 150


@pytest.mark.parametrize("pool", [_AtOnce, _LastFirst])
def test_reproducible_rounds_settle_sub_solves_in_the_order_they_were_drawn(
    monkeypatch: pytest.MonkeyPatch, pool: type[Executor]
) -> None:
    """{h1, h2} is drawn first and {h3, h4} second; each sends its VM home, with room under the
    tolerance for one only. Whichever ends first, the first drawn is kept: a1 goes home, b1 stays."""
    inst, warm = _room_for_one_move_home()
    monkeypatch.setattr(lns, "ThreadPoolExecutor", pool)
    search = search_of(inst, warm)
    search.workers = 2
    search.neighbourhood_budget = 2
    hoods = itertools.cycle([np.array([0, 1]), np.array([2, 3])])
    monkeypatch.setattr(search, "_cost_hosts", lambda assignment: next(hoods))
    monkeypatch.setattr(search, "_drop_unneeded", lambda assignment: assignment)

    result = search.run(warm, deadline=time.monotonic() + 60.0)

    assert result[inst.vm_index["a1"]] == inst.host_index["h1"]
    assert result[inst.vm_index["b1"]] == inst.host_index["h4"]
    assert search.stats.neighbourhoods == 2


def _swap_needs_two_free_vms() -> tuple[Instance, np.ndarray]:
    """h1 ran a, b, c, d, e (1,000 MHz each) and h2 f: CPU (0.5, 0.1), std 0.2, beyond threshold
    3's 0.141 on two hosts. The warm start moved a (dirtying memory fast, so dear to migrate) to
    h2: (0.4, 0.2), std 0.1. a alone cannot go home; a home and b (cheap, same size) to h2 balance
    alike."""
    vms = [vm(name, "h1" if name in "abcde" else "h2") for name in "abcdef"]
    vms[0] = replace(vms[0], dirty_rate_mibps=400.0)
    inst = make_instance([host("h1"), host("h2")], vms)
    warm = inst.current_host.copy()
    warm[inst.vm_index["a"]] = inst.host_index["h2"]
    return inst, warm


@pytest.mark.parametrize("budget", [None, 20])
def test_a_stalled_phase_grows_its_neighbourhoods_before_it_ends(
    monkeypatch: pytest.MonkeyPatch, budget: int | None
) -> None:
    """With one free VM per neighbourhood, the cost phase can only offer a its way home, which
    breaks the balance: it stalls. Grown to two (a and the cheapest VM still at home), it finds
    the swap. Streaming or in reproducible rounds (where a grown neighbourhood counts double)."""
    inst, warm = _swap_needs_two_free_vms()
    monkeypatch.setattr(lns, "MAX_FREE_VMS", 1)
    monkeypatch.setattr(lns, "STALL_ROUNDS", 3)
    monkeypatch.setattr(lns, "MAX_GROWTH", 2)
    search = search_of(inst, warm)
    search.neighbourhood_budget = budget
    assert search.balance_value(warm) == 0

    result = search.run(warm, deadline=time.monotonic() + 60.0)

    assert result[inst.vm_index["a"]] == inst.host_index["h1"]
    assert result[inst.vm_index["b"]] == inst.host_index["h2"]
    assert search.balance_value(result) == 0
    assert search.cost_value(result) < search.cost_value(warm)
    assert search.stats.growth == 2
    if budget is not None:
        assert search.stats.neighbourhoods < budget  # grown ones count twice


def test_without_growth_the_stalled_phase_ends_where_it_stalled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same cluster with the neighbourhoods held at one free VM: the swap is never found."""
    inst, warm = _swap_needs_two_free_vms()
    monkeypatch.setattr(lns, "MAX_FREE_VMS", 1)
    monkeypatch.setattr(lns, "STALL_ROUNDS", 3)
    monkeypatch.setattr(lns, "MAX_GROWTH", 1)
    search = search_of(inst, warm)

    result = search.run(warm, deadline=time.monotonic() + 60.0)

    assert np.array_equal(result, warm)
    assert search.stats.growth == 1
    assert search.stats.neighbourhoods == 3


def test_a_pass_sending_moves_home_waits_for_neighbourhoods_in_proportion_to_the_moves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pass tries every moved VM while no sub-solve runs: after DROP_EVERY gains it is due only
    once the neighbourhoods since the last pass, times MOVES_PER_NEIGHBOURHOOD, reach the moves."""
    inst, warm = _hot_cluster()
    moved = warm.copy()
    for i in range(8):  # eight VMs of the hot hosts moved to the cold ones
        moved[inst.vm_index[f"v{i}"]] = inst.host_index[f"h{3 + i}"]
    monkeypatch.setattr(lns, "MOVES_PER_NEIGHBOURHOOD", 2)
    search = search_of(inst, warm)

    search._since_drop = lns.SearchStats(neighbourhoods=3, improvements=lns.DROP_EVERY)
    assert not search._drop_due(moved)  # 3 × 2 < 8 moves
    search._since_drop = lns.SearchStats(neighbourhoods=4, improvements=lns.DROP_EVERY)
    assert search._drop_due(moved)
    search._since_drop = lns.SearchStats(neighbourhoods=40, improvements=lns.DROP_EVERY - 1)
    assert not search._drop_due(moved)

    search._drop_unneeded(moved)
    assert search._since_drop == lns.SearchStats()

"""Large-neighbourhood search on tiny clusters: the balance phase reaches the band, and moves the
balance does not need are sent home before the cost phase."""

from __future__ import annotations

import functools
import time

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

    search._solve(warm, np.arange(inst.num_hosts), 2.0, balance=balance)

    assert audits, "no neighbourhood was solved"
    assert all(covers_all and holds for covers_all, holds in audits), audits

"""The optimizer's scope: every VM gets variables on small clusters, and "optimal" means the cluster."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from check.factories import host, make_instance, vm

import scheduler.solver.optimize as optimize_module
from scheduler.model import Instance
from scheduler.pipeline import PlanOutcome
from scheduler.solver.costs import move_costs
from scheduler.solver.result import SolveStatus
from scheduler.synth import SynthSpec, synthesize

Planner = Callable[..., PlanOutcome]


def test_small_cluster_gives_every_movable_vm_variables(plan_of: Planner):
    """3 hosts × 295 VMs is 885 (VM, host) pairs: the model is the whole problem."""
    instance = synthesize(SynthSpec(hosts=3, vms=295, seed=154, cpu_generations=1, immobile_fraction=0.05))
    # VMs whose live migration never converges keep their host unless they must move (none must).
    converges = move_costs(instance).converges
    may_move = sum(
        1 for v, ok in zip(instance.vms, converges, strict=True) if ok and not v.immobility_reasons()
    )
    result = plan_of(instance).result
    assert result.free_vms == may_move
    assert result.status is SolveStatus.OPTIMAL


def test_restricted_scope_is_not_called_optimal(
    plan_of: Planner, hot_pair: Instance, monkeypatch: pytest.MonkeyPatch
):
    """With repair mode forced, every level is still optimal over the VMs it frees, but the plan
    is reported feasible, with a note saying what was proven."""
    monkeypatch.setattr(optimize_module, "COMPLETE_SCOPE_MAX_PAIRS", 0)
    result = plan_of(hot_pair).result
    assert result.status is SolveStatus.FEASIBLE
    assert all(level.optimal for level in result.levels)
    assert any(note.startswith("every level is optimal over the") for note in result.notes)


def test_complete_scope_is_called_optimal(plan_of: Planner, hot_pair: Instance):
    result = plan_of(hot_pair).result
    assert result.status is SolveStatus.OPTIMAL
    assert not any(note.startswith("every level is optimal over the") for note in result.notes)


def test_vm_the_repair_moves_gets_variables_even_if_its_migration_never_converges(plan_of: Planner):
    """h1 holds 9,728 MiB configured on 8,192. Only ``hot`` (4,096 MiB, dirtying 120 MiB/s, so
    its live migration never converges) and ``light`` (512 MiB) may leave, and only ``hot``
    leaving is enough. The repair moves it, so the complete scope must give it variables, or
    the model pins it home and rejects its own warm start.

    Found by the property test: "level migration cost infeasible although the incumbent
    satisfies it"."""
    hot = replace(vm("hot", "h1", 100, 4_096, memory_demand_mib=0), dirty_rate_mibps=120.0)
    pinned = [vm(f"p{i}", "h1", 100, 512, memory_demand_mib=0, pinned=True) for i in range(10)]
    light = vm("light", "h1", 100, 512, memory_demand_mib=0)
    instance = make_instance([host("h1", 8_000, 8_192), host("h2", 8_000, 8_192)], [hot, light, *pinned])
    outcome = plan_of(instance)
    assert outcome.result.status is SolveStatus.OPTIMAL
    assert outcome.result.free_vms == 2
    assert [m.vm for m in outcome.plan.migrations] == ["hot"]

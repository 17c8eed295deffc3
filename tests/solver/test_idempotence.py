"""A plan's target, fed back as the inventory, is already the answer: ``unchanged``, no moves.

Feeding back = every VM's host replaced by ``plan.placement`` and every host's state by
``plan.host_states``; everything else (sizes, rules, policy) stays. A second run that moved
anything would mean the first plan stopped short of its own optimum, or that the optimizer
drifts between equally good placements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from check.entries import host_entry, vm_entry
from check.factories import affinity, host, make_instance, vm
from hypothesis import HealthCheck, assume, given, settings

from scheduler.io import parse_inventory, read_inventory
from scheduler.model import DpmPolicy, HostState, Instance, Plan, PlanStatus
from scheduler.pipeline import PlanOutcome, make_plan, with_what_if
from scheduler.solver.costs import move_costs
from scheduler.synth import SynthSpec, synthesize
from solver.test_properties import OPTIONS, inventories

Planner = Callable[..., PlanOutcome]

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "demo.yaml"
SWEEP_TIME_LIMIT_S = 8.0


def fed_back(instance: Instance, plan: Plan) -> Instance:
    """The inventory after the plan has run: VMs where the plan puts them, hosts in their final state."""
    assert plan.status is not PlanStatus.INFEASIBLE
    vms = tuple(replace(v, host=plan.placement[v.name]) for v in instance.vms)
    hosts = tuple(replace(h, state=HostState(plan.host_states[h.name])) for h in instance.hosts)
    return replace(instance, vms=vms, hosts=hosts)


def holds_what_it_placed(instance: Instance, plan: Plan) -> bool:
    """Whether the plan places or moves a VM that, once there, can no longer move: a new VM that
    is pinned or whose migration would never converge, or one evacuated although its migration
    never converges. The DRS level counts such a VM as free in the first run and as held in the
    second, so the two runs measure balance against different floors and peaks
    (docs/optimizer.md, Known limits), and the second may move."""
    converges = move_costs(instance).converges
    for v, ok in zip(instance.vms, converges, strict=True):
        target = plan.placement.get(v.name)
        if v.host is None and (v.immobility_reasons() or not ok):
            return True
        if v.host is not None and target != v.host and not ok:
            return True
    return False


def assert_idempotent(plan_of: Planner, instance: Instance, **options: object) -> Plan:
    """Plan, feed the target back, plan again: the second plan changes nothing. Returns the first."""
    first = plan_of(instance, **options).plan
    second = plan_of(fed_back(instance, first), **options).plan
    why = {
        "second run moves": [(m.vm, m.source, m.target) for m in second.migrations],
        "first run levels": first.metrics.get("levels"),
        "second run levels": second.metrics.get("levels"),
    }
    assert second.status is PlanStatus.UNCHANGED, why
    assert second.migrations == ()
    assert second.power_actions == ()
    assert second.placement == first.placement
    assert second.host_states == first.host_states
    return first


# The demo's target as the optimizer produced it (26 moves; cna-07 emptied): the VMs that moved,
# with their new host. Its DRS level is 18,017 units, 0.57 % above the proven bound of 17,915.
DEMO_TARGET_MOVES = {
    "app-01": "cna-04", "cache-01": "cna-04", "web-01": "cna-03", "web-03": "cna-04",
    "web-04": "cna-04", "web-05": "cna-04", "web-08": "cna-02", "web-10": "cna-03",
    "web-11": "cna-04", "batch-05": "cna-05", "backup-01": "cna-03", "svc-01": "cna-06",
    "svc-02": "cna-06", "svc-03": "cna-06", "svc-04": "cna-06", "svc-05": "cna-04",
    "svc-06": "cna-03", "svc-08": "cna-03", "svc-09": "cna-04", "svc-12": "cna-04",
    "svc-22": "cna-03", "svc-25": "cna-04", "svc-31": "cna-02", "svc-42": "cna-03",
    "svc-45": "cna-03", "svc-46": "cna-04",
}  # fmt: skip


def test_demo_target_fed_back_is_unchanged(plan_of: Planner):
    """The demo after its own plan has run: nothing left to do.

    Regression: the DRS level's relative gap once protected the greedy warm start instead of
    today's placement, so a fed-back target got a 0.16 % swap (svc-13 / svc-41).
    """
    demo = read_inventory(DEMO)
    target = {**demo.current_placement(), **DEMO_TARGET_MOVES}
    states = {h.name: h.state.value for h in demo.hosts}
    after = fed_back(demo, Plan(demo.name, PlanStatus.FEASIBLE, target, states))
    plan = plan_of(after, time_limit_s=5.0).plan
    assert plan.status is PlanStatus.UNCHANGED, [(m.vm, m.source, m.target) for m in plan.migrations]
    assert plan.migrations == ()


@pytest.mark.parametrize("seed", [1, 2])
def test_synthetic_plan_fed_back_is_unchanged(plan_of: Planner, seed: int):
    instance = synthesize(SynthSpec(hosts=12, vms=150, seed=seed))
    first = assert_idempotent(plan_of, instance)
    assert first.migrations, "the synthetic instance needs moves: the test would prove nothing"


@pytest.mark.parametrize(
    "spec",
    [
        # Threshold 5 tolerates no imbalance: without the minimum goodness the second run found
        # slivers of balance and moved 73 VMs (7 hosts) or 5 (13 hosts) to get them.
        SynthSpec(
            hosts=7, vms=132, seed=994, load=0.3, rule_density="dense", cpu_generations=1, vendors=2,
            new_vms=5, drs_threshold=5,
        ),
        SynthSpec(
            hosts=13, vms=130, seed=35, load=0.82, skew="none", standby_hosts=1, immobile_fraction=0.0,
            drs_threshold=5,
        ),
        # Repair mode once gave only some VMs variables on a cluster this small and called the
        # result optimal; the second run then fixed a priority-3 rule and the balance with 3 moves.
        SynthSpec(
            hosts=3, vms=295, seed=154, load=0.5, skew="after_maintenance", cpu_generations=1,
            immobile_fraction=0.05, dpm_enabled=True,
        ),
    ],
    ids=["t5-7-hosts", "t5-13-hosts", "small-cluster-complete-scope"],
)  # fmt: skip
def test_sweep_findings_fed_back_are_unchanged(plan_of: Planner, spec: SynthSpec):
    # Threshold 5 never proves its DRS level, so the first plan is only as good as its time: on a
    # loaded 2-core machine 3 s can stop it short of where a rerun goes on, which is not the
    # drift this test guards against.
    first = assert_idempotent(plan_of, synthesize(spec), time_limit_s=SWEEP_TIME_LIMIT_S)
    assert first.migrations, "the synthetic instance needs moves: the test would prove nothing"


def test_dpm_plan_fed_back_is_unchanged(plan_of: Planner):
    """h1 and h2 run 2,000 MHz each; DPM consolidates onto one host, and then has nothing left to do."""
    instance = make_instance(
        [host("h1"), host("h2")], [vm("a", "h1", 2_000), vm("b", "h2", 2_000)], dpm=DpmPolicy(enabled=True)
    )
    first = assert_idempotent(plan_of, instance)
    assert "standby" in first.host_states.values()


def test_maintenance_plan_fed_back_is_unchanged(plan_of: Planner):
    """h1 goes into maintenance with an affinity pair on it; after the evacuation it stays empty."""
    instance = make_instance(
        [host("h1"), host("h2"), host("h3")],
        [vm("a", "h1"), vm("b", "h1"), vm("c", "h2", 3_000)],
        [affinity("ab", "a", "b")],
    )
    first = assert_idempotent(plan_of, with_what_if(instance, maintenance=("h1",)))
    assert first.host_states["h1"] == "maintenance"
    assert len(first.migrations) == 2


def test_an_incumbent_kept_at_the_drs_level_is_within_its_gap_of_the_optimum(plan_of: Planner):
    """Found by the property below (a random seed): the DRS level keeps the incumbent over a
    solution less than 1 % better. CP-SAT's solution was itself within 1 % of the bound, so the
    kept incumbent stood 1.5 % above it, and a rerun from the plan found the optimum and moved two
    VMs. Now the incumbent is kept only while it is within the gap of the bound. Memory balance
    at threshold 4 on three hosts of 16, 32 and 8 GiB; pinned VMs and rules fix most of it."""

    def machine(name: str, memory_mib: int) -> dict[str, Any]:
        return host_entry(name, cpu_mhz=8000, memory_mib=memory_mib)

    def guest(name: str, on: str | None, memory_mib: int, demand_mib: int, pinned: bool) -> dict[str, Any]:
        return vm_entry(
            name,
            on,
            100,
            memory_mib=memory_mib,
            memory_demand_mib=demand_mib,
            dirty_rate_mibps=0.0,
            pinned=pinned,
        )

    data = {
        "name": "gap",
        "policy": {"drs": {"threshold": 4, "measure": "memory"}},
        "hosts": [machine("h0", 16_384), machine("h1", 32_768), machine("h2", 8_192)],
        "vms": [
            guest("v1", "h0", 512, 407, True),
            guest("v2", None, 512, 281, False),
            guest("v3", "h0", 2_048, 1_548, False),
            guest("v5", "h0", 4_096, 2_529, False),
            guest("v6", None, 512, 1, False),
            guest("v8", "h1", 512, 325, False),
            guest("v11", "h1", 512, 119, True),
            guest("v12", "h2", 512, 380, True),
        ],
        "rules": [
            {"name": "apart", "kind": "anti_affinity", "vms": ["v12", "v2", "v3"]},
            {"name": "prefer", "kind": "vm_host", "mode": "should", "vms": ["v3"], "hosts": ["h1"]},
            {"name": "avoid", "kind": "vm_host", "mode": "should_not", "vms": ["v5"], "hosts": ["h0", "h1"]},
        ],
    }
    first = assert_idempotent(plan_of, parse_inventory(data, "gap"))
    drs = next(level for level in first.metrics["levels"] if level["level"] == "drs imbalance")
    assert drs["value"] * (1 - 0.01) <= drs["bound"]


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(inventories())
def test_any_proven_plan_fed_back_is_unchanged(data: dict[str, Any]):
    """A plan whose every level is proven over the whole model (status ``optimal``) leaves nothing
    for a rerun on its own target: the property behind the sweep findings above, on random
    inventories of every rule kind, threshold and DPM setting.

    Derandomized: a fixed set of examples, so that CI stays reproducible on time-limited solves;
    drop ``derandomize`` and pass ``--hypothesis-seed`` to explore further."""
    instance = parse_inventory(data, "generated")
    first = make_plan(instance, OPTIONS).plan
    assume(first.status is PlanStatus.OPTIMAL)
    assume(not holds_what_it_placed(instance, first))
    second = make_plan(fed_back(instance, first), OPTIONS).plan
    assert second.status is PlanStatus.UNCHANGED, [(m.vm, m.source, m.target) for m in second.migrations]
    assert second.migrations == ()
    assert second.power_actions == ()

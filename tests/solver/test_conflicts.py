"""Infeasible instances give ``status: infeasible`` and the right, minimal conflict set.

docs/plan.md: an infeasible inventory gives a ``conflicts`` list naming the smallest set of rules
and hosts that cannot hold together, instead of a placement. Each instance below is infeasible
for one reason, which the conflicts must name (and nothing unrelated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from check.factories import host, make_instance, vm, vm_host

from scheduler.check import verify_plan
from scheduler.compat import compatibility
from scheduler.model import VM, Host, HostState, Instance, Plan, PlanStatus, Rule
from scheduler.pipeline import PlanOutcome
from scheduler.solver.conflicts import explain_infeasibility
from scheduler.solver.optimize import optimize
from scheduler.solver.options import SolveOptions
from scheduler.solver.problem import POWER_ON
from scheduler.solver.result import SolveStatus

Planner = Callable[..., PlanOutcome]


def infeasible_plan(plan_of: Planner, instance: Instance) -> Plan:
    """Plan ``instance``, check the infeasible-plan shape every conflict test relies on."""
    plan = plan_of(instance).plan
    assert plan.status is PlanStatus.INFEASIBLE
    assert plan.conflicts
    assert plan.placement == {}
    assert plan.migrations == ()
    assert verify_plan(instance, plan).valid
    return plan


def named_rules(plan: Plan) -> set[str]:
    return {r for c in plan.conflicts for r in c.rules}


def named_hosts(plan: Plan) -> set[str]:
    return {h for c in plan.conflicts for h in c.hosts}


def named_vms(plan: Plan) -> set[str]:
    return {v for c in plan.conflicts for v in c.vms}


@pytest.fixture
def disjoint_must_rules() -> Instance:
    """a (on h1) must run on h1 (``on-h1``) and must run on h2 (``on-h2``): no host satisfies both.

    A third must rule about b (``b-on-h3``) holds and is unrelated: it must not be named.
    """
    rules = [
        vm_host("on-h1", "must", ["a"], ["h1"]),
        vm_host("on-h2", "must", ["a"], ["h2"]),
        vm_host("b-on-h3", "must", ["b"], ["h3"]),
    ]
    return make_instance([host("h1"), host("h2"), host("h3")], [vm("a", "h1"), vm("b", "h3")], rules)


def test_two_must_rules_to_disjoint_host_groups_conflict(plan_of: Planner, disjoint_must_rules: Instance):
    plan = infeasible_plan(plan_of, disjoint_must_rules)
    assert named_rules(plan) == {"on-h1", "on-h2"}
    assert "a" in named_vms(plan)
    assert "b" not in named_vms(plan)


def test_pinned_vm_on_a_maintenance_host_conflicts(plan_of: Planner):
    """p is pinned to h1, which goes into maintenance: p can neither stay nor leave.

    a, also on h1, can leave for h2: it is not part of the conflict.
    """
    instance = make_instance(
        [host("h1", state=HostState.MAINTENANCE), host("h2")], [vm("p", "h1", pinned=True), vm("a", "h1")]
    )
    plan = infeasible_plan(plan_of, instance)
    assert named_hosts(plan) == {"h1"}
    assert named_vms(plan) == {"p"}
    assert any(c.kind == "maintenance" for c in plan.conflicts)


@pytest.mark.parametrize(
    "flag",
    [{"devices": ("usb-dongle",)}, {"drs_enabled": False}, {"linked_clone": True}],
    ids=["devices", "drs-disabled", "linked-clone"],
)
def test_immobile_vm_on_a_maintenance_host_conflicts(plan_of: Planner, flag: dict[str, object]):
    """Every immobility reason (devices, DRS off, linked clone) blocks evacuation like pinning does."""
    stuck = replace(vm("s", "h1"), **flag)
    instance = make_instance([host("h1", state=HostState.MAINTENANCE), host("h2")], [stuck])
    plan = infeasible_plan(plan_of, instance)
    assert named_hosts(plan) == {"h1"}
    assert named_vms(plan) == {"s"}


def test_vms_that_cannot_move_overfilling_their_host_conflict(plan_of: Planner):
    """p (pinned) and q (DRS off) need 12,000 MHz on h1's 10,000: no plan relieves h1. a could
    leave for h2, but that does not help, so it is not named."""
    instance = make_instance(
        [host("h1"), host("h2")],
        [vm("p", "h1", 6_000, pinned=True), vm("q", "h1", 6_000, drs_enabled=False), vm("a", "h1")],
    )
    plan = infeasible_plan(plan_of, instance)
    assert [c.kind for c in plan.conflicts] == ["capacity"]
    assert named_hosts(plan) == {"h1"}
    assert named_vms(plan) == {"p", "q"}
    assert "12,000 MHz of CPU against its 10,000 MHz" in plan.conflicts[0].explanation


def test_vms_that_cannot_move_off_a_maintenance_host_are_no_capacity_conflict(plan_of: Planner):
    """p and q (8,000 MHz) overfill h1 (4,000), which leaves service, so its capacity does not
    matter: the conflict is the evacuation."""
    instance = make_instance(
        [host("h1", 4_000, state=HostState.MAINTENANCE), host("h2")],
        [vm("p", "h1", 4_000, pinned=True), vm("q", "h1", 4_000, pinned=True)],
    )
    plan = infeasible_plan(plan_of, instance)
    assert {c.kind for c in plan.conflicts} == {"maintenance"}


def test_demand_beyond_cluster_capacity_is_a_capacity_conflict(plan_of: Planner):
    """Four VMs of 6,000 MHz (24,000) on two hosts of 10,000 MHz (20,000)."""
    instance = make_instance([host("h1"), host("h2")], [vm(x, "h1", 6_000) for x in "abcd"])
    plan = infeasible_plan(plan_of, instance)
    assert [c.kind for c in plan.conflicts] == ["capacity"]
    assert "24000" in plan.conflicts[0].explanation
    assert "20000" in plan.conflicts[0].explanation


def test_new_vm_that_fits_nowhere_is_a_capacity_conflict(plan_of: Planner):
    """h1 and h2 run 9,000 MHz each; a new VM of 3,000 MHz has no room anywhere."""
    vms = [vm("a", "h1", 9_000), vm("b", "h2", 9_000), vm("n", None, 3_000)]
    plan = infeasible_plan(plan_of, make_instance([host("h1"), host("h2")], vms))
    assert {c.kind for c in plan.conflicts} == {"capacity"}


TWO_HOSTS = [host("h1"), host("h2")]


@pytest.mark.parametrize(
    ("big", "hosts", "rules", "needs"),
    [
        pytest.param(vm("big", None, 12_000), TWO_HOSTS, [], "12,000 MHz of CPU", id="new-cpu"),
        pytest.param(
            vm("big", None, 1_000, 20_000),
            TWO_HOSTS,
            [],
            "20,000 MiB of configured memory",
            id="new-memory",
        ),
        pytest.param(vm("big", "h1", 12_000), TWO_HOSTS, [], "12,000 MHz of CPU", id="running"),
        pytest.param(
            vm("big", "h2", 12_000),
            [host("h1"), host("h2", 20_000)],
            [vm_host("big-on-h1", "must", ["big"], ["h1"])],
            "12,000 MHz of CPU",
            id="must-rule-to-the-small-host",
        ),
    ],
)
def test_vm_larger_than_every_host_it_may_use_is_named(
    plan_of: Planner, big: VM, hosts: list[Host], rules: list[Rule], needs: str
):
    """big needs more than h1 (10,000 MHz, 16,384 MiB) holds, and h1 is the largest host it may
    use (in the last case a must rule keeps it off h2, twice as large). a (1,000 MHz) runs on h1."""
    instance = make_instance(hosts, [vm("a", "h1"), big], rules)
    plan = infeasible_plan(plan_of, instance)
    named = [c for c in plan.conflicts if c.name == "big"]
    assert [(c.kind, c.vms) for c in named] == [("capacity", ("big",))]
    assert named[0].explanation.startswith(f"VM big needs {needs}; the largest host it may use has ")
    assert named[0].hosts == ("h1",)


def test_conflict_search_that_finds_the_groups_satisfiable_does_not_claim_a_timeout():
    """Every group holds (a fits on h1): the search finishes at once, and says so."""
    instance = make_instance([host("h1")], [vm("a", "h1")])
    compat = compatibility(instance)
    conflicts = explain_infeasibility(instance, compat, np.full(1, POWER_ON))
    assert [c.kind for c in conflicts] == ["unknown"]
    assert "can all hold together" in conflicts[0].explanation
    assert "did not finish" not in conflicts[0].explanation


def test_must_rule_to_a_host_too_small_names_the_rule_and_the_host(plan_of: Planner):
    """a and b (6,000 MHz each, on h2 and h3) must run on h1 (10,000 MHz): 12,000 > 10,000.

    Each of the two hosts it leaves has room, and the cluster as a whole has room (30,000 MHz); the
    minimal conflict is the rule together with h1's capacity.
    """
    instance = make_instance(
        [host("h1"), host("h2"), host("h3")],
        [vm("a", "h2", 6_000), vm("b", "h3", 6_000)],
        [vm_host("licence", "must", ["a", "b"], ["h1"])],
    )
    plan = infeasible_plan(plan_of, instance)
    assert named_rules(plan) == {"licence"}
    capacity = [c for c in plan.conflicts if c.kind == "capacity"]
    assert [c.hosts for c in capacity] == [("h1",)]
    assert "10000 MHz" in capacity[0].explanation
    assert named_hosts(plan) == {"h1"}


def test_optimize_reports_infeasible_without_a_placement(disjoint_must_rules: Instance):
    result = optimize(disjoint_must_rules, SolveOptions(time_limit_s=2, num_workers=2))
    assert result.status is SolveStatus.INFEASIBLE
    assert result.placement == {}
    assert {r for c in result.conflicts for r in c.rules} == {"on-h1", "on-h2"}


def test_dropping_one_contradicting_rule_makes_the_instance_feasible(
    plan_of: Planner, disjoint_must_rules: Instance
):
    """Dropping the contradicting rule makes the same instance feasible: the conflict was the rule."""
    feasible = replace(disjoint_must_rules, rules=disjoint_must_rules.rules[1:])
    plan = plan_of(feasible).plan
    assert plan.status is not PlanStatus.INFEASIBLE
    assert plan.placement["a"] == "h2"


@pytest.mark.parametrize(
    ("state", "rules"),
    [
        pytest.param(HostState.MAINTENANCE, [], id="maintenance"),
        pytest.param(HostState.UP, [vm_host("x-on-h2", "must", ["x"], ["h2"])], id="must-rule"),
    ],
)
def test_vm_that_must_move_but_cannot_converge_makes_the_plan_infeasible(
    plan_of: Planner, state: HostState, rules: list[Rule]
):
    """h1 holds x (4,000 MHz, dirtying 5,000 MiB/s: no 10 Gbit/s pre-copy converges); h2 is empty.

    maintenance: x must leave h1; must-rule: x must run on h2. The move can never complete, so the
    instance is infeasible and the conflict names x and h1.
    """
    instance = make_instance(
        [host("h1", state=state), host("h2")],
        [replace(vm("x", "h1", 4_000), dirty_rate_mibps=5_000.0)],
        rules,
    )
    plan = infeasible_plan(plan_of, instance)
    assert named_vms(plan) == {"x"}
    assert "h1" in named_hosts(plan)
    assert "5000 MiB/s dirtied" in plan.conflicts[0].explanation


def test_a_move_the_timeout_ends_is_blamed_on_the_timeout(plan_of: Planner):
    """x (1 GiB, an idle guest) must leave h1 under QEMU's 128 MiB/s cap and a 5 s timeout: the
    copy needs 8 s, so the timeout, not the dirty rate, is what stops it."""
    instance = make_instance([host("h1", state=HostState.MAINTENANCE), host("h2")], [vm("x", "h1")])
    migration = replace(instance.policy.migration, hypervisor="qemu", timeout_s=5.0)
    instance = replace(instance, policy=replace(instance.policy, migration=migration))
    plan = infeasible_plan(plan_of, instance)
    (conflict,) = plan.conflicts
    assert "cannot finish within the 5 s migration timeout under qemu" in conflict.explanation
    assert "1,024 MiB at 128 MiB/s" in conflict.explanation


def test_host_over_capacity_whose_vms_cannot_converge_makes_the_plan_infeasible(plan_of: Planner):
    """h1 holds x, y, z (4,000 MHz each: 12,000 > 10,000 MHz), each dirtying 5,000 MiB/s; h2 is empty.

    One of them must leave h1, and none of their migrations can complete: infeasible, naming h1.
    """
    instance = make_instance(
        [host("h1"), host("h2")],
        [replace(vm(name, "h1", 4_000), dirty_rate_mibps=5_000.0) for name in ("x", "y", "z")],
    )
    plan = infeasible_plan(plan_of, instance)
    assert "h1" in named_hosts(plan)


def test_infeasible_instance_with_a_new_pinned_vm_names_its_conflict(plan_of: Planner):
    """h1 and h2 (10,000 MHz) each run a pinned 6,000 MHz VM; new VM n (6,000 MHz, pinned) fits nowhere."""
    vms = [
        vm("a", "h1", 6_000, pinned=True),
        vm("b", "h2", 6_000, pinned=True),
        vm("n", None, 6_000, pinned=True),
    ]
    plan = infeasible_plan(plan_of, make_instance([host("h1"), host("h2")], vms))
    assert {c.kind for c in plan.conflicts} == {"capacity"}
    assert named_hosts(plan) == {"h1", "h2"}


@pytest.mark.parametrize("dirty_rate_mibps", [120.0, 5_000.0], ids=["high-risk", "never-completes"])
def test_room_for_a_new_vm_that_only_a_non_converging_move_could_make(
    plan_of: Planner, dirty_rate_mibps: float
):
    """h1 runs x (6,000 MHz, 1,024 MiB); new VM n (6,000 MHz) must run on h1; h2 is empty.

    n fits on h1 only once x has left for h2. At 120 MiB/s x's pre-copy is high-risk but completes
    (about 24 s); at 5,000 MiB/s it never completes. Either the plan moves x and places n on h1, or
    it is infeasible and its conflicts name x (the move it refuses) — never an unexplained conflict.
    """
    instance = make_instance(
        [host("h1"), host("h2")],
        [replace(vm("x", "h1", 6_000), dirty_rate_mibps=dirty_rate_mibps), vm("n", None, 6_000)],
        [vm_host("n-on-h1", "must", ["n"], ["h1"])],
    )
    plan = plan_of(instance).plan
    if plan.status is PlanStatus.INFEASIBLE:
        assert "x" in named_vms(plan), plan.conflicts
    else:
        assert plan.placement == {"x": "h2", "n": "h1"}


def test_a_vm_too_large_for_the_hosts_its_rules_leave_names_the_rule(plan_of: Planner):
    """big (12,000 MHz) fits h2 (20,000 MHz), but its must rule keeps it to h1 (10,000 MHz): the
    rule is part of the contradiction, so the conflict names it."""
    instance = make_instance(
        [host("h1"), host("h2", 20_000)],
        [vm("a", "h1"), vm("big", "h2", 12_000)],
        [vm_host("big-on-h1", "must", ["big"], ["h1"])],
    )
    [conflict] = [c for c in infeasible_plan(plan_of, instance).conflicts if c.name == "big"]
    assert conflict.rules == ("big-on-h1",)
    assert conflict.explanation.endswith("priority-1 rule big-on-h1 keeping it off every host large enough")


def test_a_vm_with_no_host_names_the_fewest_rules_that_leave_it_none(plan_of: Planner):
    """a may use h2 and h3 by its storage; a-on-h1h2 with a-not-h2 already leave it nothing, so
    a-not-h3 is no part of the conflict (all three were named)."""
    hosts = [host("h1", datastores=["ds1"]), host("h2", datastores=["ds2"]), host("h3", datastores=["ds2"])]
    rules = [
        vm_host("a-on-h1h2", "must", ["a"], ["h1", "h2"]),
        vm_host("a-not-h2", "must_not", ["a"], ["h2"]),
        vm_host("a-not-h3", "must_not", ["a"], ["h3"]),
    ]
    instance = make_instance(hosts, [vm("a", "h2", datastores=["ds2"])], rules)
    plan = infeasible_plan(plan_of, instance)
    assert named_rules(plan) == {"a-on-h1h2", "a-not-h2"}


def test_an_evacuation_names_the_one_rule_that_holds_the_vm_to_its_host(plan_of: Planner):
    """a must run on h1, which goes into maintenance: that rule alone is the conflict, not the
    must_not rules that also keep a off h2 and h3."""
    rules = [
        vm_host("a-h1", "must", ["a"], ["h1"]),
        vm_host("a-not-h3", "must_not", ["a"], ["h3"]),
        vm_host("a-not-h2", "must_not", ["a"], ["h2"]),
    ]
    instance = make_instance(
        [host("h1", state=HostState.MAINTENANCE), host("h2"), host("h3")],
        [vm("a", "h1"), vm("b", "h2")],
        rules,
    )
    plan = infeasible_plan(plan_of, instance)
    assert [(c.kind, c.rules, c.hosts) for c in plan.conflicts] == [("maintenance", ("a-h1",), ("h1",))]


def test_demand_beyond_the_hosts_that_can_take_it_names_only_those(plan_of: Planner):
    """The Intel VMs need 24,000 MHz against the 20,000 of h1 and h2; the AMD host h3 takes none
    of them and is no part of the conflict (the cluster-wide check named it too)."""
    hosts = [host("h1"), host("h2"), host("h3", vendor="amd")]
    vms = [vm("a", "h1", 8_000), vm("b", "h2", 8_000), vm("c", "h1", 8_000), vm("d", "h3", 7_000)]
    plan = infeasible_plan(plan_of, make_instance(hosts, vms))
    assert [(c.kind, c.hosts) for c in plan.conflicts] == [("capacity", ("h1", "h2"))]
    assert (
        "24000 MHz exceeds the 20000 MHz of the hosts that may take them (h1, h2)"
        in plan.conflicts[0].explanation
    )


def test_an_immobile_vm_on_a_host_its_must_rule_forbids_says_it_cannot_move(plan_of: Planner):
    """a is a linked clone on h1 and must run on h2, which is compatible: what keeps it off h2 is
    that it cannot move, not a lack of hosts."""
    instance = make_instance(
        [host("h1"), host("h2")], [vm("a", "h1", linked_clone=True)], [vm_host("a-h2", "must", ["a"], ["h2"])]
    )
    [conflict] = infeasible_plan(plan_of, instance).conflicts
    assert (conflict.kind, conflict.rules, conflict.hosts) == ("rule", ("a-h2",), ("h1",))
    assert conflict.explanation.startswith("VM a cannot move (linked clone")
    assert conflict.explanation.endswith("priority-1 rule a-h2 forbids its host h1")


def test_room_a_must_rule_needs_from_a_vm_that_cannot_migrate_names_the_rule(plan_of: Planner):
    """w must run on h1, where only v's leaving makes room, and v dirties 3,000 MiB/s: its
    migration never completes. The conflicts name v's migration, and why holding v is no way
    out: the rule and h1's capacity (the plan blamed v's migration alone, naming no rule)."""
    v = replace(vm("v", "h1", 6_000, 16_384), dirty_rate_mibps=3_000.0)
    instance = make_instance(
        [host("h1", memory_mib=65_536), host("h2", memory_mib=65_536)],
        [v, vm("w", "h2", 6_000, 4_096)],
        [vm_host("w-h1", "must", ["w"], ["h1"])],
    )
    plan = infeasible_plan(plan_of, instance)
    assert named_rules(plan) == {"w-h1"}
    assert [(c.kind, c.name) for c in plan.conflicts] == [
        ("migration", "schedule"),
        ("rule", "w-h1"),
        ("capacity", "h1"),
    ]
    assert plan.conflicts[0].vms == ("v",)


def test_a_new_vm_whose_only_hosts_are_in_standby_with_dpm_off_says_so(plan_of: Planner):
    instance = make_instance([host("h1", state=HostState.STANDBY)], [vm("n", None)])
    [conflict] = infeasible_plan(plan_of, instance).conflicts
    assert conflict.explanation.endswith("in standby, and stay off with DPM off")

"""Each rule kind changes the optimum of a tiny instance, and a lower priority yields to a higher one.

docs/inventory.md: priority 1 = ``vm_host`` must / must_not (hard), 2 = affinity / anti-affinity,
3 = ``vm_host`` should / should_not; objective order P2 > DPM > P3 > DRS > migration cost. Each
test runs the same instance with the rule off and on and checks that the answer changes; the
priority tests check that the broken lower-priority rule is listed in ``plan.violations`` with a
detail naming what it yields to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from check.factories import affinity, anti_affinity, host, make_instance, vm, vm_host

from scheduler.model import DpmPolicy, Instance, MoveReason, Plan, PlanStatus, Rule
from scheduler.pipeline import PlanOutcome

Planner = Callable[..., PlanOutcome]


def with_rules(instance: Instance, *rules: Rule) -> Instance:
    return replace(instance, rules=tuple(rules))


def violation(plan: Plan, rule: str) -> str:
    """The detail of ``rule``'s entry in ``plan.violations`` (fails when it is not listed)."""
    details = {v.rule: v.detail for v in plan.violations}
    assert rule in details, f"{rule} not among violations {sorted(details)}"
    return details[rule]


# -- one rule kind at a time: off vs on ---------------------------------------------------------


def test_affinity_keeps_a_hot_pair_together_that_drs_would_split(plan_of: Planner, hot_pair: Instance):
    """Without the rule DRS moves a or b to h2 (80 % / 0 %); with affinity both stay on h1."""
    free = plan_of(hot_pair).plan
    assert len(free.migrations) == 1
    assert free.placement["a"] != free.placement["b"]

    bound = plan_of(with_rules(hot_pair, affinity("together", "a", "b"))).plan
    assert bound.status is PlanStatus.UNCHANGED
    assert bound.migrations == ()
    assert bound.placement == {"a": "h1", "b": "h1"}
    assert bound.violations == ()


def test_anti_affinity_separates_a_pair_that_drs_leaves_together(plan_of: Planner, cool_pair: Instance):
    """cool_pair is within the DRS tolerance, so nothing moves; anti-affinity sends one VM to h2."""
    free = plan_of(cool_pair).plan
    assert free.status is PlanStatus.UNCHANGED
    assert free.migrations == ()

    bound = plan_of(with_rules(cool_pair, anti_affinity("apart", "a", "b"))).plan
    assert len(bound.migrations) == 1
    assert {bound.placement["a"], bound.placement["b"]} == {"h1", "h2"}
    assert bound.violations == ()


@pytest.mark.parametrize(
    ("mode", "hosts", "priority"),
    [
        pytest.param("must", ["h2"], 1, id="must"),
        pytest.param("must_not", ["h1"], 1, id="must_not"),
        pytest.param("should", ["h2"], 3, id="should"),
        pytest.param("should_not", ["h1"], 3, id="should_not"),
    ],
)
def test_vm_host_rule_moves_a_vm_that_drs_leaves_alone(
    plan_of: Planner, cool_pair: Instance, mode: str, hosts: list[str], priority: int
):
    """a on h1 breaks a rule that wants it on h2 (or off h1): it moves there, for the rule's sake.

    Without the rule the cluster is balanced and nothing moves (see ``cool_pair``).
    """
    rule = vm_host("place-a", mode, ["a"], hosts)
    assert rule.priority == priority
    assert plan_of(cool_pair).plan.migrations == ()

    plan = plan_of(with_rules(cool_pair, rule)).plan
    assert plan.placement == {"a": "h2", "b": "h1"}
    assert [(m.vm, m.source, m.target, m.reason) for m in plan.migrations] == [
        ("a", "h1", "h2", MoveReason.RULE)
    ]
    assert plan.violations == ()


@pytest.mark.parametrize("mode", ["must", "should"])
def test_vm_host_rule_keeps_a_hot_pair_where_drs_would_split_it(
    plan_of: Planner, hot_pair: Instance, mode: str
):
    """a, b bound to h1 by a must (P1) or should (P3) rule stay on h1 although DRS wants to split them."""
    plan = plan_of(with_rules(hot_pair, vm_host("stay", mode, ["a", "b"], ["h1"]))).plan
    assert plan.migrations == ()
    assert plan.placement == {"a": "h1", "b": "h1"}
    assert plan.violations == ()


# -- priority pairs ---------------------------------------------------------------------------


@pytest.fixture
def must_vs_anti_affinity() -> Instance:
    """P2 vs P1: a (h1) and b (h2) must both run on h1 (licence), yet anti-affinity wants them apart.

    Only h1 is allowed for both, so the anti-affinity rule cannot hold: b moves to h1 (P1 repair) and
    ``apart`` is reported broken, yielding to the priority-1 rule.
    """
    hosts = [host("h1"), host("h2"), host("h3")]
    rules = [vm_host("licence", "must", ["a", "b"], ["h1"]), anti_affinity("apart", "a", "b")]
    return make_instance(hosts, [vm("a", "h1"), vm("b", "h2")], rules)


@pytest.fixture
def anti_affinity_vs_should() -> Instance:
    """P3 vs P2: a (h1) and b (h2) should both run on h1, and must be apart (anti-affinity).

    Keeping them apart wins: one of them stays off h1, so ``prefer-h1`` stays broken for one VM
    (the P3 level counts VM-rule pairs: one pair broken is the best the P2 level allows).
    """
    hosts = [host("h1"), host("h2"), host("h3")]
    rules = [anti_affinity("apart", "a", "b"), vm_host("prefer-h1", "should", ["a", "b"], ["h1"])]
    return make_instance(hosts, [vm("a", "h1"), vm("b", "h2")], rules)


@pytest.fixture
def must_not_vs_should() -> Instance:
    """P3 vs P1: a (on h1) must not run on h2 but should run on h2: it stays on h1, ``prefer-h2`` broken."""
    rules = [vm_host("never-h2", "must_not", ["a"], ["h2"]), vm_host("prefer-h2", "should", ["a"], ["h2"])]
    return make_instance([host("h1"), host("h2")], [vm("a", "h1")], rules)


@pytest.fixture
def dpm_vs_should() -> Instance:
    """DPM vs P3: h1 runs pinned p and a (1,000 MHz each), h2 is empty; a should run on h2; DPM on.

    p keeps h1 on; everything fits on h1 (20 %), so DPM needs one host and h2 goes to standby,
    leaving ``prefer-h2`` broken. With DPM off, a moves to h2 (P3 beats DRS, which is balanced).
    """
    vms = [vm("p", "h1", pinned=True), vm("a", "h1")]
    rules = [vm_host("prefer-h2", "should", ["a"], ["h2"])]
    return make_instance([host("h1"), host("h2")], vms, rules, dpm=DpmPolicy(enabled=True))


def test_anti_affinity_yields_to_a_must_rule_confining_both_vms_to_one_host(
    plan_of: Planner, must_vs_anti_affinity: Instance
):
    plan = plan_of(must_vs_anti_affinity).plan
    assert plan.placement == {"a": "h1", "b": "h1"}
    assert [v.rule for v in plan.violations] == ["apart"]
    assert plan.violations[0].priority == 2
    assert "priority-1" in violation(plan, "apart")


def test_should_rule_yields_to_anti_affinity(plan_of: Planner, anti_affinity_vs_should: Instance):
    plan = plan_of(anti_affinity_vs_should).plan
    assert plan.placement["a"] != plan.placement["b"]
    assert sorted(plan.placement.values()).count("h1") == 1
    assert [v.rule for v in plan.violations] == ["prefer-h1"]
    assert plan.violations[0].priority == 3
    assert len(plan.violations[0].vms) == 1
    assert "priority-2" in violation(plan, "prefer-h1")


def test_should_rule_yields_to_a_must_not_rule(plan_of: Planner, must_not_vs_should: Instance):
    plan = plan_of(must_not_vs_should).plan
    assert plan.status is PlanStatus.UNCHANGED
    assert plan.placement == {"a": "h1"}
    assert [v.rule for v in plan.violations] == ["prefer-h2"]
    assert "priority-1" in violation(plan, "prefer-h2")


def test_should_rule_needing_an_extra_host_stays_broken_under_dpm(plan_of: Planner, dpm_vs_should: Instance):
    """With DPM on, h2 goes to standby and ``prefer-h2`` stays broken; with DPM off, a moves to h2."""
    plan = plan_of(dpm_vs_should).plan
    assert plan.host_states == {"h1": "up", "h2": "standby"}
    assert plan.placement == {"p": "h1", "a": "h1"}
    assert [(p.host, p.action.value) for p in plan.power_actions] == [("h2", "power_off")]
    assert [v.rule for v in plan.violations] == ["prefer-h2"]

    no_dpm = replace(dpm_vs_should, policy=replace(dpm_vs_should.policy, dpm=DpmPolicy(enabled=False)))
    plan_off = plan_of(no_dpm).plan
    assert plan_off.placement == {"p": "h1", "a": "h2"}
    assert plan_off.violations == ()


def test_should_rule_broken_by_dpm_says_it_yields_to_dpm(plan_of: Planner, dpm_vs_should: Instance):
    detail = violation(plan_of(dpm_vs_should).plan, "prefer-h2")
    assert "DPM" in detail
    assert "priority-1" not in detail


@pytest.mark.parametrize(
    ("instance_name", "broken", "winner"),
    [
        pytest.param("must_vs_anti_affinity", "apart", "licence", id="P2-vs-P1"),
        pytest.param("anti_affinity_vs_should", "prefer-h1", "apart", id="P3-vs-P2"),
        pytest.param("must_not_vs_should", "prefer-h2", "never-h2", id="P3-vs-P1"),
    ],
)
def test_violation_detail_names_the_rule_it_yields_to(
    plan_of: Planner, request: pytest.FixtureRequest, instance_name: str, broken: str, winner: str
):
    plan = plan_of(request.getfixturevalue(instance_name)).plan
    assert winner in violation(plan, broken)


HIGH_TARGET_GIVES_WAY = "rules come before DPM"


def test_affinity_outranks_the_dpm_high_target(plan_of: Planner):
    """P2 > DPM: a and b (4,500 MHz each) together put h1 at 90 %, above DPM's 81 % high target,
    but within capacity. The pair stays together; the target gives way, not the rule (it was
    split and the rule said to yield to capacity), and no host is powered off while h1 is above it."""
    vms = [vm("a", "h1", 4_500), vm("b", "h1", 4_500), vm("c", "h2", 1_000)]
    instance = make_instance(
        [host("h1"), host("h2"), host("h3")],
        vms,
        [affinity("together", "a", "b")],
        dpm=DpmPolicy(enabled=True),
    )
    plan = plan_of(instance).plan
    assert plan.migrations == ()
    assert plan.violations == ()
    assert plan.host_states == {"h1": "up", "h2": "up", "h3": "up"}
    assert any(HIGH_TARGET_GIVES_WAY in note for note in plan.metrics["notes"])


def test_new_affinity_pair_above_the_high_target_is_placed_together_without_waking_a_host(plan_of: Planner):
    """Two new VMs of one affinity rule need 90 % of h1: placed together there, and h2 stays in
    standby (powering it on would relieve nothing the rule holds on h1)."""
    instance = make_instance(
        [host("h1"), host("h2", state="standby")],
        [vm("a", None, 4_500), vm("b", None, 4_500)],
        [affinity("together", "a", "b")],
        dpm=DpmPolicy(enabled=True),
    )
    plan = plan_of(instance).plan
    assert plan.placement == {"a": "h1", "b": "h1"}
    assert plan.violations == ()
    assert plan.power_actions == ()
    assert plan.host_states == {"h1": "up", "h2": "standby"}


def test_a_standby_host_still_comes_back_when_capacity_needs_it(plan_of: Planner):
    """As above with c (4,000 MHz) on h1 already: the pair fits only on a host of its own, so one
    standby host is powered on for it, and the other stays in standby."""
    instance = make_instance(
        [host("h1"), host("h2", state="standby"), host("h3", state="standby")],
        [vm("a", None, 4_500), vm("b", None, 4_500), vm("c", "h1", 4_000)],
        [affinity("together", "a", "b")],
        dpm=DpmPolicy(enabled=True),
    )
    plan = plan_of(instance).plan
    assert plan.violations == ()
    assert plan.placement["a"] == plan.placement["b"] != "h1"
    assert [a.host for a in plan.power_actions] == [plan.placement["a"]]
    assert sorted(plan.host_states.values()) == ["standby", "up", "up"]


def test_under_a_move_budget_the_high_target_gives_way_when_its_forced_moves_break_a_rule(plan_of: Planner):
    """h3 runs the affinity pair v1 + v4 and pinned v3: 99.5 % of its CPU, above DPM's 90 % target.
    Under the target one move is forced (the budget of 0 does not count it), and with one move the
    pair must split: the rule broke to keep the target. Without the target today's placement
    keeps it with no move at all, so the target gives way (the check counts each side's own
    forced moves; it compared against unlimited moves and found nothing to say)."""
    hosts = [host("h2", 16_000), host("h3", 20_000), host("h4", 20_000)]
    vms = [vm("v1", "h3", 8_300), vm("v4", "h3", 7_100), vm("v3", "h3", 4_500, pinned=True)]
    dpm = DpmPolicy(enabled=True, target_utilization=(0.45, 0.9), min_hosts_on=0)
    instance = make_instance(hosts, vms, [affinity("pair", "v1", "v4")], dpm=dpm)
    plan = plan_of(instance, max_migrations=0).plan
    assert plan.violations == ()
    assert plan.migrations == ()
    assert any(HIGH_TARGET_GIVES_WAY in note for note in plan.metrics["notes"])


def test_anti_affinity_outranks_dpm(plan_of: Planner):
    """P2 > DPM: a and b (2,000 MHz each) fit on one host, but anti-affinity keeps two hosts on.

    The same instance without the rule consolidates onto one host (see test_levels).
    """
    vms = [vm("a", "h1", 2_000), vm("b", "h2", 2_000)]
    instance = make_instance(
        [host("h1"), host("h2")], vms, [anti_affinity("apart", "a", "b")], dpm=DpmPolicy(enabled=True)
    )
    plan = plan_of(instance).plan
    assert plan.host_states == {"h1": "up", "h2": "up"}
    assert plan.migrations == ()
    assert plan.violations == ()
    assert plan_of(with_rules(instance)).plan.host_states != {"h1": "up", "h2": "up"}


def test_affinity_outranks_drs_and_the_plan_says_why_the_pair_stays(plan_of: Planner, hot_pair: Instance):
    """Rules > DRS: the pair stays on h1, the cluster stays outside the DRS tolerance, and the plan
    lists both VMs as ones the balancer wanted to move but kept with their affinity group."""
    plan = plan_of(with_rules(hot_pair, affinity("together", "a", "b"))).plan
    assert plan.placement == {"a": "h1", "b": "h1"}
    assert plan.metrics["after"]["drs_balanced"] is False
    kept = {u.vm: " ".join(u.reasons) for u in plan.unmovable}
    assert set(kept) == {"a", "b"}
    assert all("together" in why for why in kept.values())


def test_with_drs_off_no_vm_is_listed_as_one_the_balancer_wanted_to_move(
    plan_of: Planner, hot_pair: Instance
):
    """DRS off: the hot pair stays, and nothing says a balancer wanted it moved (none ran)."""
    drs_off = replace(
        hot_pair, policy=replace(hot_pair.policy, drs=replace(hot_pair.policy.drs, enabled=False))
    )
    plan = plan_of(drs_off).plan
    assert plan.migrations == ()
    assert plan.metrics["after"]["drs_balanced"] is False  # measured against the threshold all the same
    assert plan.unmovable == ()


def test_should_rule_outranks_drs(plan_of: Planner, hot_pair: Instance):
    """P3 > DRS: both VMs should run on h1, so the balancing move DRS wants is not made."""
    plan = plan_of(with_rules(hot_pair, vm_host("prefer-h1", "should", ["a", "b"], ["h1"]))).plan
    assert plan.migrations == ()
    assert plan.violations == ()


def test_move_that_repairs_anti_affinity_has_reason_rule(plan_of: Planner, cool_pair: Instance):
    """b is pinned, so a is the one to leave h1 for the anti-affinity rule's sake: reason ``rule``."""
    pinned = replace(cool_pair, vms=(cool_pair.vms[0], replace(cool_pair.vms[1], pinned=True)))
    plan = plan_of(with_rules(pinned, anti_affinity("apart", "a", "b"))).plan
    assert [(m.vm, m.reason) for m in plan.migrations] == [("a", MoveReason.RULE)]

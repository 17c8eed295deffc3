"""``make_plan`` and ``with_what_if``: every plan is verified, survives a write/read round trip, and
the what-if flags change exactly what they name.

Instances are written as inventory mappings and read through ``parse_inventory``, the way the CLI
reads them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from check.entries import host_entry, vm_entry
from migration.planner_cases import drain_and_swap_at_four_per_host

from scheduler import pipeline
from scheduler.check import check_rule, verify_plan
from scheduler.io import parse_inventory, read_plan, write_plan
from scheduler.model import BALANCER_WISH, Instance, Plan, PlanStatus
from scheduler.pipeline import make_plan, plan_from_target, policy_record, with_what_if
from scheduler.solver.options import SolveOptions
from scheduler.solver.staged import NoSolutionError
from scheduler.synth import SynthSpec, synthesize

OPTIONS = SolveOptions(time_limit_s=3.0, num_workers=2, seed=0)


def inventory(
    hosts: list[dict[str, Any]],
    vms: list[dict[str, Any]],
    rules: list[dict[str, Any]] | None = None,
    **policy: Any,
) -> Instance:
    data = {"name": "pipeline", "policy": policy, "hosts": hosts, "vms": vms, "rules": rules or []}
    return parse_inventory(data, "test inventory")


@pytest.fixture
def busy() -> Instance:
    """h1 runs a, b, c (3,000 MHz each: 90 %), h2 and h3 are empty, h4 is in standby; DPM on.

    DPM's high target (81 %) forces load off h1; DRS spreads it. At least one migration, and the
    standby host stays off (two up hosts are enough).
    """
    hosts = [host_entry("h1"), host_entry("h2"), host_entry("h3"), host_entry("h4", "standby")]
    vms = [
        vm_entry("a", "h1", 3_000, dirty_rate_mibps=30.0),
        vm_entry("b", "h1", 3_000),
        vm_entry("c", "h1", 3_000),
    ]
    return inventory(hosts, vms, dpm={"enabled": True})


@pytest.fixture
def yielding() -> Instance:
    """a (h1) and b (h2) must both run on h1 but are anti-affine: ``apart`` is a reported violation."""
    rules = [
        {"name": "licence", "kind": "vm_host", "mode": "must", "vms": ["a", "b"], "hosts": ["h1"]},
        {"name": "apart", "kind": "anti_affinity", "vms": ["a", "b"]},
    ]
    return inventory([host_entry("h1"), host_entry("h2")], [vm_entry("a", "h1"), vm_entry("b", "h2")], rules)


@pytest.fixture
def impossible() -> Instance:
    """a must run on h1 and on h2 at once: infeasible."""
    rules = [
        {"name": "on-h1", "kind": "vm_host", "mode": "must", "vms": ["a"], "hosts": ["h1"]},
        {"name": "on-h2", "kind": "vm_host", "mode": "must", "vms": ["a"], "hosts": ["h2"]},
    ]
    return inventory([host_entry("h1"), host_entry("h2")], [vm_entry("a", "h1")], rules)


def replayed_placement(instance: Instance, plan: Plan) -> dict[str, str]:
    """Where the VMs are once the plan's migrations have run, in end-time order."""
    where = instance.current_placement()
    for m in sorted(plan.migrations, key=lambda m: m.end_s):
        assert where[m.vm] == m.source
        where[m.vm] = m.target
    return where


def test_plan_names_every_vm_and_host_and_its_moves_reach_the_placement(busy: Instance):
    plan = make_plan(busy, OPTIONS).plan
    assert plan.status in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE)
    assert set(plan.placement) == {v.name for v in busy.vms}
    assert set(plan.host_states) == {h.name for h in busy.hosts}
    assert plan.migrations
    assert replayed_placement(busy, plan) == plan.placement
    for m in plan.migrations:
        assert m.end_s - m.start_s == pytest.approx(m.estimate.total_s)
    assert plan.host_states["h4"] == "standby"
    assert {"before", "after", "lower_bounds", "solve_time_s"} <= set(plan.metrics)


def test_plan_records_the_broken_soft_rule_with_what_it_yields_to(yielding: Instance):
    plan = make_plan(yielding, OPTIONS).plan
    assert [(v.rule, v.priority) for v in plan.violations] == [("apart", 2)]
    assert "yields to" in plan.violations[0].detail
    assert check_rule(yielding.rules[0], plan.placement).satisfied


@pytest.mark.parametrize("name", ["busy", "yielding", "impossible"])
def test_written_plan_reads_back_equal_and_still_verifies(
    request: pytest.FixtureRequest, tmp_path: Path, name: str
):
    """write_plan / read_plan keep everything the checker looks at, for feasible and infeasible plans."""
    instance: Instance = request.getfixturevalue(name)
    plan = make_plan(instance, OPTIONS).plan
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    back = read_plan(path)
    assert verify_plan(instance, back).valid, str(verify_plan(instance, back))
    assert back.status == plan.status
    assert back.placement == plan.placement
    assert back.host_states == plan.host_states
    assert [(m.vm, m.source, m.target) for m in back.migrations] == [
        (m.vm, m.source, m.target) for m in plan.migrations
    ]
    for got, sent in zip(back.migrations, plan.migrations, strict=True):
        assert got.start_s == pytest.approx(sent.start_s)
        assert got.end_s == pytest.approx(sent.end_s)
    assert back.power_actions == plan.power_actions
    assert [v.rule for v in back.violations] == [v.rule for v in plan.violations]
    assert [(c.kind, c.name, c.rules, c.hosts, c.vms) for c in back.conflicts] == [
        (c.kind, c.name, c.rules, c.hosts, c.vms) for c in plan.conflicts
    ]


def test_synthetic_plan_round_trip_verifies(tmp_path: Path):
    """A 12-host, 150-VM synthetic cluster with a maintenance host and new VMs: verified after I/O."""
    instance = synthesize(SynthSpec(hosts=12, vms=150, seed=5, maintenance_hosts=1, new_vms=4))
    plan = make_plan(instance, OPTIONS).plan
    assert plan.status is not PlanStatus.INFEASIBLE
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    assert verify_plan(instance, read_plan(path)).valid


def test_infeasible_plan_has_conflicts_and_no_placement(impossible: Instance):
    plan = make_plan(impossible, OPTIONS).plan
    assert plan.status is PlanStatus.INFEASIBLE
    assert {r for c in plan.conflicts for r in c.rules} == {"on-h1", "on-h2"}
    assert plan.placement == {}
    assert verify_plan(impossible, plan).valid


# -- with_what_if ---------------------------------------------------------------------------------


def test_plan_records_the_policy_it_was_made_under(busy: Instance, tmp_path: Path):
    """What-if flags change the policy, not the inventory: the plan keeps what it was made under
    (``metrics.policy``, docs/plan.md), through a write and read, for the report to describe."""
    what_if = with_what_if(busy, threshold=4, measure="cpu", dpm=False)
    plan = make_plan(what_if, OPTIONS).plan
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    assert read_plan(path).metrics["policy"] == {
        "drs": {"enabled": True, "threshold": 4, "measure": "cpu"},
        "dpm": {
            "enabled": False,
            "threshold": busy.policy.dpm.threshold,
            "target_utilization": list(busy.policy.dpm.target_utilization),
            "min_hosts_on": busy.policy.dpm.min_hosts_on,
        },
    }


def test_what_if_maintenance_plan_evacuates_the_host(busy: Instance):
    plan = make_plan(with_what_if(busy, maintenance=("h1",)), OPTIONS).plan
    assert "h1" not in plan.placement.values()
    assert plan.host_states["h1"] == "maintenance"
    assert {m.vm for m in plan.migrations if m.source == "h1"} == {"a", "b", "c"}


def test_what_if_dpm_off_keeps_the_standby_host_off_and_the_up_hosts_up(busy: Instance):
    plan = make_plan(with_what_if(busy, dpm=False), OPTIONS).plan
    assert plan.host_states == {"h1": "up", "h2": "up", "h3": "up", "h4": "standby"}
    assert plan.power_actions == ()


def test_moves_onto_a_host_dpm_powers_on_are_labelled_dpm():
    """h1 runs 9,000 MHz (90 %), above DPM's 81 % target; h2, in standby, must come back and take
    load: the move onto it is DPM's doing, and the power-on precedes it."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2", "standby")],
        [vm_entry("a", "h1", 3_000), vm_entry("b", "h1", 3_000), vm_entry("c", "h1", 3_000)],
        dpm={"enabled": True},
    )
    plan = make_plan(instance, OPTIONS).plan
    assert plan.host_states == {"h1": "up", "h2": "up"}
    assert [(p.host, p.action.value) for p in plan.power_actions] == [("h2", "power_on")]
    assert plan.migrations
    assert {m.reason.value for m in plan.migrations} == {"dpm"}


def test_vms_the_plan_moves_are_never_listed_as_left_on_a_hot_host():
    """h1 and h2 carry pinned VMs at 70 %; m must leave h3 (maintenance) and only h1 or h2 see its
    datastore, so it lands on a host that ends hot (90 % against a mean of 53 % over h1, h2, h4 and
    a tolerance of 0.1155), and the cluster stays outside the tolerance. The balancer did move m:
    it is not one it "wanted off a hot host", and every VM that is listed so stays where it was."""
    on_ds1 = {"datastores": ["ds-1"]}
    instance = inventory(
        [
            host_entry("h1", **on_ds1),
            host_entry("h2", **on_ds1),
            host_entry("h3", "maintenance", **on_ds1),
            host_entry("h4", datastores=["ds-2"]),
        ],
        [
            vm_entry("p", "h1", 7_000, pinned=True, **on_ds1),
            vm_entry("q", "h2", 7_000, pinned=True, **on_ds1),
            vm_entry("m", "h3", 2_000, **on_ds1),
            vm_entry("r", "h1", 100, **on_ds1),
        ],
    )
    plan = make_plan(instance, OPTIONS).plan
    assert plan.metrics["after"]["drs_balanced"] is False
    assert [m.vm for m in plan.migrations] == ["m"]
    wished = {u.vm: u.reasons for u in plan.unmovable if any(r.startswith(BALANCER_WISH) for r in u.reasons)}
    assert "m" not in wished
    for name, reasons in wished.items():
        assert f"{BALANCER_WISH} {plan.placement[name]}: " in reasons[0]
        assert plan.placement[name] == instance.vms[instance.vm_index[name]].host


@pytest.fixture
def apart_on_one_host() -> Instance:
    """a and b (1,000 MHz each) share h1 but must run apart; h2 is in standby, DPM off."""
    return inventory(
        [host_entry("h1"), host_entry("h2", "standby"), host_entry("h3")],
        [vm_entry("a", "h1"), vm_entry("b", "h1")],
        [{"name": "apart", "kind": "anti_affinity", "vms": ["a", "b"]}],
    )


def test_a_rule_left_broken_under_a_spent_move_budget_yields_to_the_budget(apart_on_one_host: Instance):
    """h3 is up and could take a or b: only the budget of zero moves keeps the rule broken."""
    plan = make_plan(apart_on_one_host, replace(OPTIONS, max_migrations=0)).plan
    [violation] = plan.violations
    assert "yields to the migration budget (--max-migrations 0, all used)" in violation.detail
    assert "capacity" not in violation.detail
    assert "power" not in violation.detail


def test_a_rule_the_budget_left_cannot_mend_yields_to_the_budget_not_capacity():
    """a, b and c of one affinity rule run on three roomy hosts: mending it takes two moves, one
    is allowed, and the plan makes none. Capacity is no reason (two moves would mend it)."""
    instance = inventory(
        [host_entry(h) for h in ("h1", "h2", "h3")],
        [vm_entry("a", "h1"), vm_entry("b", "h2"), vm_entry("c", "h3")],
        [{"name": "abc", "kind": "affinity", "vms": ["a", "b", "c"]}],
    )
    [violation] = make_plan(instance, replace(OPTIONS, max_migrations=1)).plan.violations
    assert violation.detail.endswith(
        "yields to the migration budget (--max-migrations 1: mending it takes at least 2 move(s), 1 left)"
    )
    assert make_plan(instance, replace(OPTIONS, max_migrations=2)).plan.violations == ()


def _yields(plan: Plan) -> dict[str, str]:
    return {v.rule: v.detail.split("; yields to ", 1)[1] for v in plan.violations}


CAPACITY = "capacity (no placement within capacity breaks fewer priority-2 rules)"
NO_ROOM = "capacity (no host it could hold on has room for its VMs)"


def test_a_standby_host_too_small_for_the_group_is_not_what_the_rule_yields_to():
    """The must rules leave the affinity pair (8,000 MHz) only h3 in common, which is in standby
    but holds 5,000 MHz: powering it on would keep nothing, so host power is no reason; nor are
    the must rules, beside which the pair could hold on h3 but for its size."""
    rules = [
        {"name": "aff", "kind": "affinity", "vms": ["v1", "v2"]},
        {"name": "m1", "kind": "vm_host", "mode": "must", "vms": ["v1"], "hosts": ["h1", "h3"]},
        {"name": "m2", "kind": "vm_host", "mode": "must", "vms": ["v2"], "hosts": ["h2", "h3"]},
    ]
    hosts = [
        host_entry("h1", cpu_mhz=20_000),
        host_entry("h2", cpu_mhz=20_000),
        host_entry("h3", "standby", cpu_mhz=5_000),
    ]
    instance = inventory(hosts, [vm_entry("v1", "h1", 4_000), vm_entry("v2", "h2", 4_000)], rules)
    assert _yields(make_plan(instance, OPTIONS).plan) == {"aff": NO_ROOM}


def test_a_vm_the_plan_moves_is_not_one_that_cannot_move():
    """v1 (2,000 MiB/s dirtied: its migration is not safe) must leave maintenance host h3, and
    only h1, beside pinned v2, has room: the anti-affinity rule breaks for capacity. v1 was moved
    by the plan, so it is not among "VMs that cannot move" (it was named for its migration)."""
    hosts = [host_entry("h1"), host_entry("h2"), host_entry("h3", "maintenance")]
    vms = [
        vm_entry("v1", "h3", 4_000, dirty_rate_mibps=2_000.0),
        vm_entry("v2", "h1", 1_000, pinned=True),
        vm_entry("v3", "h2", 8_000, pinned=True),
    ]
    instance = inventory(
        hosts,
        vms,
        [{"name": "apart", "kind": "anti_affinity", "vms": ["v1", "v2"]}],
        migration={"hypervisor": "xen"},
    )
    plan = make_plan(instance, OPTIONS).plan
    assert plan.placement["v1"] == "h1"
    assert _yields(plan) == {"apart": f"{NO_ROOM[:-1]}, beside the VMs that cannot move)"}


def test_at_threshold_5_a_wish_names_the_minimum_goodness():
    """h1 runs v1, v2, v3 (6,000 MHz of 20,000), h2 runs v4 (5,000): moving v2 to h2 would even
    the CPU out, but by less than threshold 5's minimum goodness, so the cluster is left as it is.
    The balancer's wishes say so, not that no move lowers the imbalance."""
    hosts = [
        host_entry("h1", cpu_mhz=20_000, memory_mib=32_768),
        host_entry("h2", cpu_mhz=20_000, memory_mib=32_768),
    ]
    vms = [
        vm_entry("v1", "h1", 5_000),
        vm_entry("v2", "h1", 500),
        vm_entry("v3", "h1", 500),
        vm_entry("v4", "h2", 5_000),
    ]
    instance = inventory(hosts, vms, drs={"threshold": 5, "measure": "cpu"})
    plan = make_plan(instance, OPTIONS).plan
    assert plan.status is PlanStatus.UNCHANGED
    wishes = [r for u in plan.unmovable for r in u.reasons if r.startswith(BALANCER_WISH)]
    assert wishes
    assert all(
        r.endswith("lowers the imbalance by threshold 5's minimum goodness (see the notes)") for r in wishes
    )


def test_a_rule_only_a_standby_host_could_keep_yields_to_host_power(apart_on_one_host: Instance):
    """Without h3 the only other host is h2, in standby, and DPM off keeps it there."""
    instance = with_what_if(apart_on_one_host, maintenance=("h3",))
    [violation] = make_plan(instance, OPTIONS).plan.violations
    assert violation.detail.endswith("yields to host power (DPM off: h2 stays in standby)")


def test_a_swap_no_safe_order_reaches_is_planned_around_not_declared_infeasible():
    """h1 runs a1, a2 (4,000 MHz, 8 GiB each) and h2 runs b1, b2 (500 MHz, 8 GiB each): memory is
    full on both. Balancing wants a swap, and no host has room to park a VM on the way. Today's
    placement breaks nothing, so the plan keeps the blocked VMs where they are (with a note),
    instead of calling a valid cluster infeasible."""
    instance = _full_swap()
    plan = make_plan(instance, OPTIONS).plan
    assert plan.status is PlanStatus.UNCHANGED
    assert any("where they are: the first target needed no order" in n for n in plan.metrics["notes"])
    assert verify_plan(instance, plan).valid


def _full_swap() -> Instance:
    """h1 runs a1, a2 (4,000 MHz, 8 GiB each) and h2 runs b1, b2 (500 MHz, 8 GiB each): memory is
    full on both, so the swap balancing wants has no safe order."""
    full = {"memory_mib": 8_192, "memory_demand_mib": 512}
    return inventory(
        [host_entry("h1"), host_entry("h2")],
        [
            vm_entry("a1", "h1", 4_000, **full),
            vm_entry("a2", "h1", 4_000, **full),
            vm_entry("b1", "h2", 500, **full),
            vm_entry("b2", "h2", 500, **full),
        ],
    )


def test_a_retry_that_finds_no_placement_in_its_share_reports_the_blocked_moves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The retries around an unreachable target have a share of the time limit; one that finds
    no placement in it ends the retries with the first target's blocked moves as the conflict,
    where it escaped as "no placement found within the time limit" (exit 3, nothing written)."""
    real = pipeline.optimize
    calls: list[int] = []

    def first_only(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > 1:
            raise NoSolutionError("no solution in the retry's share")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "optimize", first_only)
    plan = make_plan(_full_swap(), OPTIONS).plan
    assert len(calls) == 2
    assert plan.status is PlanStatus.INFEASIBLE
    [conflict] = plan.conflicts
    assert conflict.kind == "migration"
    assert set(conflict.vms) <= {"a1", "a2", "b1", "b2"}


def test_after_a_ctrl_c_the_retries_around_a_blocked_target_are_short(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Ctrl-C during the first search asks for the plan now: a retry around its unreachable
    target gets the least time a retry has, not its share of the limit."""
    real = pipeline.optimize
    limits: list[float] = []

    def interrupted_first(instance: Instance, options: SolveOptions) -> Any:
        limits.append(options.time_limit_s)
        result = real(instance, options)
        return replace(result, interrupted=True) if len(limits) == 1 else result

    monkeypatch.setattr(pipeline, "optimize", interrupted_first)
    plan = make_plan(_full_swap(), replace(OPTIONS, time_limit_s=30)).plan
    assert plan.status is PlanStatus.UNCHANGED
    assert limits[0] == 30
    assert len(limits) > 1
    assert all(limit <= pipeline.RETRY_LEAST_S for limit in limits[1:])


def test_a_blocked_target_is_planned_around_even_when_a_blocked_vm_sits_on_an_overfull_host():
    """h1 holds 12 GiB configured on 8 GiB, so some VM must leave it. The first target swaps VMs
    between full hosts with no safe order; v2, blocked, sits on h1 and may not be held, but v3
    and v4 may: holding them gives a plan (it was declared infeasible when one blocked VM could
    not be held)."""
    memory = {"v0": 2_048, "v1": 4_096, "v2": 4_096, "v3": 6_144, "v4": 6_144, "v5": 6_144}
    cpu = {"v0": 1_500, "v1": 500, "v2": 1_500, "v3": 1_500, "v4": 3_000, "v5": 500}
    on = {"v0": "h1", "v1": "h2", "v2": "h1", "v3": "h0", "v4": "h2", "v5": "h1"}
    instance = inventory(
        [host_entry("h0", memory_mib=8_192), host_entry("h1", memory_mib=8_192), host_entry("h2")],
        [vm_entry(v, on[v], cpu[v], memory_mib=memory[v], memory_demand_mib=500) for v in on],
        [
            {"name": "r0", "kind": "anti_affinity", "vms": ["v4", "v2"]},
            {"name": "r1", "kind": "affinity", "vms": ["v3", "v0"]},
            {"name": "r2", "kind": "vm_host", "mode": "should", "vms": ["v2", "v3"], "hosts": ["h1", "h2"]},
        ],
        drs={"threshold": 4},
        dpm={"enabled": True, "min_hosts_on": 1},
    )
    plan = make_plan(instance, OPTIONS).plan
    assert plan.status is not PlanStatus.INFEASIBLE, plan.conflicts
    assert verify_plan(instance, plan).valid
    assert any("where they are: the first target needed" in note for note in plan.metrics["notes"])


def test_a_schedule_run_fewer_moves_per_host_at_once_says_so_in_the_plan():
    instance, target = drain_and_swap_at_four_per_host()
    states = {h.name: h.state.value for h in instance.hosts}
    plan, _ = plan_from_target(instance, target, states)
    assert plan.metrics["schedule"]["concurrency_limit"] == 2
    assert any("at most 2 per host at once, not the policy's 4" in n for n in plan.metrics["notes"])
    assert verify_plan(instance, plan).valid


def test_a_priority_one_repair_does_not_spend_the_move_budget():
    """a must run on h2 (it is on h1): that repair is not optional. b should run on h2 too but
    does not fit next to a, so it yields to capacity, not to a budget of one move."""
    rules = [
        {"name": "a-h2", "kind": "vm_host", "mode": "must", "vms": ["a"], "hosts": ["h2"]},
        {"name": "b-h2", "kind": "vm_host", "mode": "should", "vms": ["b"], "hosts": ["h2"]},
    ]
    instance = inventory(
        [host_entry("h1"), host_entry("h2")], [vm_entry("a", "h1", 1_000), vm_entry("b", "h1", 9_500)], rules
    )
    [violation] = make_plan(instance, replace(OPTIONS, max_migrations=1)).plan.violations
    assert violation.rule == "b-h2"
    assert "budget" not in violation.detail
    assert violation.detail.endswith(
        "yields to capacity (no placement within capacity and --max-migrations 1 leaves fewer VMs "
        "breaking priority-3 rules)"
    )


def test_a_vm_whose_migration_is_not_safe_is_listed_with_that_reason():
    """hot dirties 1,000 MiB/s against a 10 Gbit/s link (about 1,120 MiB/s): pre-copy cannot get
    under the downtime limit, so it stays on h1, and the plan says why."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2")],
        [
            vm_entry("hot", "h1", 6_000, dirty_rate_mibps=1_000.0),
            vm_entry("y", "h1", 2_000),
            vm_entry("x", "h2", 500),
        ],
    )
    plan = make_plan(instance, OPTIONS).plan
    assert plan.placement["hot"] == "h1"
    reasons = {u.vm: u.reasons[0] for u in plan.unmovable}
    assert reasons["hot"].startswith("its live migration would not converge safely")


def test_vms_that_cannot_move_are_named_as_what_a_broken_rule_yields_to():
    """p1 and p2 are pinned on h1 and must run apart; h2 has plenty of room."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2")],
        [vm_entry("p1", "h1", pinned=True), vm_entry("p2", "h1", pinned=True), vm_entry("x", "h2")],
        [{"name": "apart", "kind": "anti_affinity", "vms": ["p1", "p2"]}],
    )
    [violation] = make_plan(instance, OPTIONS).plan.violations
    assert violation.detail.endswith(
        "yields to VMs that cannot move (p1: pinned to its host, p2: pinned to its host)"
    )


@pytest.mark.parametrize(
    ("rule", "blamed"),
    [
        (
            {"name": "r", "kind": "affinity", "vms": ["a", "b", "d"]},
            "a: pinned to its host, b: linked clone (its parent volume cannot move)",
        ),
        (
            {"name": "r", "kind": "anti_affinity", "vms": ["a", "c"]},
            "a: pinned to its host, c: has devices: gpu",
        ),
    ],
)
def test_vms_that_cannot_move_are_blamed_when_they_alone_keep_a_rule_broken(
    rule: dict[str, Any], blamed: str
):
    """a (pinned) and c (a GPU) on h1, b (a linked clone) and d on h2. Affinity cannot bring a
    and b together, anti-affinity cannot part a and c: those VMs are why, not capacity, though
    d could move."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2")],
        [
            vm_entry("a", "h1", pinned=True),
            vm_entry("b", "h2", linked_clone=True),
            vm_entry("c", "h1", devices=["gpu"]),
            vm_entry("d", "h2"),
        ],
        [rule],
    )
    [violation] = make_plan(instance, OPTIONS).plan.violations
    assert violation.detail.endswith(f"yields to VMs that cannot move ({blamed})")


def test_a_partial_rule_repair_under_a_budget_is_no_move_for_balance_alone():
    """Threshold 5, one move allowed: a, b, c share h1 (anti-affinity needs two moves) and a, b
    should not run there. Moving one of them mends part of both rules; on hosts this large it
    gains far less balance than threshold 5's minimum goodness, which applies only to moves made
    for balance alone (the plan was left unchanged, the rules said to yield to capacity)."""
    big = {"cpu_mhz": 270_400, "memory_mib": 524_288}
    instance = inventory(
        [host_entry(h, **big) for h in ("h1", "h2", "h3")],
        [vm_entry(v, "h1", 2_647) for v in "abc"] + [vm_entry("d", "h2", 2_647), vm_entry("e", "h3", 2_647)],
        [
            {"name": "apart", "kind": "anti_affinity", "vms": ["a", "b", "c"]},
            {"name": "off-h1", "kind": "vm_host", "mode": "should_not", "vms": ["a", "b"], "hosts": ["h1"]},
        ],
        drs={"threshold": 5},
    )
    plan = make_plan(instance, replace(OPTIONS, max_migrations=1)).plan
    [move] = plan.migrations
    assert move.vm in ("a", "b")
    assert move.reason.value == "rule"
    for violation in plan.violations:
        assert violation.detail.endswith("the migration budget (--max-migrations 1, all used)")


def test_a_should_rule_dpm_breaks_yields_to_dpm_when_the_vms_other_rules_rule_out_the_hosts_up():
    """17,000 MHz need three hosts within DPM's 81 % target, so one of four goes off: h1, the only
    one DPM can empty (the others hold pinned VMs). x may keep ``not-h2`` on h3 or h4 only by
    breaking ``not-h34`` (both priority 3): only h1 keeps both, so what x breaks yields to DPM
    and to the other rule (it was said to yield to capacity)."""
    others = [vm_entry(v, h, 5_000, pinned=True) for v, h in zip("yzw", ("h2", "h3", "h4"), strict=True)]
    instance = inventory(
        [host_entry(h) for h in ("h1", "h2", "h3", "h4")],
        [vm_entry("x", "h1", 2_000), *others],
        [
            {"name": "not-h2", "kind": "vm_host", "mode": "should_not", "vms": ["x"], "hosts": ["h2"]},
            {"name": "not-h34", "kind": "vm_host", "mode": "should_not", "vms": ["x"], "hosts": ["h3", "h4"]},
        ],
        dpm={"enabled": True},
        drs={"threshold": 1},
    )
    plan = make_plan(instance, OPTIONS).plan
    assert plan.host_states["h1"] == "standby"
    [violation] = plan.violations
    assert violation.detail.endswith(
        "yields to priority-3 rule not-h34 (same priority); DPM (host h1 powered off)"
    ), violation.detail


def test_an_affinity_partner_following_a_rule_repair_moves_for_the_rule():
    """a (pinned) and b share h1 against ``apart``; b must go, and c, kept with b by ``pair``,
    goes along. Threshold 1 makes no move for balance, so c's move is a rule move (it was
    labelled drs)."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2")],
        [vm_entry("a", "h1", pinned=True), vm_entry("b", "h1"), vm_entry("c", "h1")],
        [
            {"name": "apart", "kind": "anti_affinity", "vms": ["a", "b"]},
            {"name": "pair", "kind": "affinity", "vms": ["b", "c"]},
        ],
        drs={"threshold": 1},
    )
    plan = make_plan(instance, OPTIONS).plan
    assert {(m.vm, m.target, m.reason.value) for m in plan.migrations} == {
        ("b", "h2", "rule"),
        ("c", "h2", "rule"),
    }


def test_a_rule_that_gives_way_to_one_of_its_own_priority_says_so():
    """An affinity and an anti-affinity on the same pair: one must break, and the broken one
    yields to the other, not to capacity."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2")],
        [vm_entry("a", "h1"), vm_entry("b", "h2")],
        [
            {"name": "together", "kind": "affinity", "vms": ["a", "b"]},
            {"name": "apart", "kind": "anti_affinity", "vms": ["a", "b"]},
        ],
    )
    [violation] = make_plan(instance, OPTIONS).plan.violations
    other = {"together": "apart", "apart": "together"}[violation.rule]
    assert violation.detail.endswith(f"yields to priority-2 rule {other} (same priority)")


def test_a_host_with_spare_room_on_the_resource_its_neighbour_is_hot_on_counts_as_room():
    """Threshold 5 (tolerance 0): h1 at 35 % CPU is hot, h2–h4 at 30 % have room for CPU while
    memory is even everywhere. a stays (no move lowers the imbalance enough), and the reason must
    not claim there is no host with spare load."""
    instance = inventory(
        [host_entry(f"h{i}") for i in range(1, 5)],
        [
            vm_entry("a", "h1", 3_500),
            vm_entry("b", "h2", 3_000),
            vm_entry("c", "h3", 3_000),
            vm_entry("d", "h4", 3_000),
        ],
        drs={"threshold": 5},
    )
    reasons = {u.vm: u.reasons[0] for u in make_plan(instance, OPTIONS).plan.unmovable}
    why = "no move of it lowers the imbalance by threshold 5's minimum goodness (see the notes)"
    assert reasons["a"] == f"{BALANCER_WISH} h1: {why}"


def test_a_move_capacity_forces_does_not_spend_the_move_budget_in_the_attribution():
    """h1 is over capacity (a 1,000 + c 9,500 MHz): one move is forced, and the budget of one
    optional move comes on top. c should run on h3, where the pinned x leaves too little room:
    the rule yields to capacity, not to a budget that still had a move left; and no budget
    would mend it."""
    rules = [{"name": "c-h3", "kind": "vm_host", "mode": "should", "vms": ["c"], "hosts": ["h3"]}]
    instance = inventory(
        [host_entry("h1"), host_entry("h2"), host_entry("h3")],
        [vm_entry("a", "h1", 1_000), vm_entry("c", "h1", 9_500), vm_entry("x", "h3", 1_000, pinned=True)],
        rules,
    )
    [violation] = make_plan(instance, replace(OPTIONS, max_migrations=1)).plan.violations
    assert "budget" not in violation.detail
    assert violation.detail.endswith(
        "yields to capacity (no host it could hold on has room for its VMs, beside the VMs that cannot move)"
    )


def test_pinned_vms_not_the_budget_are_what_a_rule_yields_to_under_a_zero_budget():
    instance = inventory(
        [host_entry("h1"), host_entry("h2")],
        [vm_entry("p1", "h1", pinned=True), vm_entry("p2", "h1", pinned=True), vm_entry("x", "h2")],
        [{"name": "apart", "kind": "anti_affinity", "vms": ["p1", "p2"]}],
    )
    [violation] = make_plan(instance, replace(OPTIONS, max_migrations=0)).plan.violations
    assert violation.detail.endswith(
        "yields to VMs that cannot move (p1: pinned to its host, p2: pinned to its host)"
    )


def test_dpm_is_not_blamed_for_a_priority_two_rule_it_comes_after():
    """a and b must run apart but share h1, and neither can move safely (1,000 MiB/s dirtied); h2
    is in standby and DPM is on. Priority 2 is settled before DPM decides power: the rule yields
    to the VMs, not to DPM."""
    hot = {"dirty_rate_mibps": 1_000.0}
    instance = inventory(
        [host_entry("h1"), host_entry("h2", "standby")],
        [vm_entry("a", "h1", **hot), vm_entry("b", "h1", **hot)],
        [{"name": "apart", "kind": "anti_affinity", "vms": ["a", "b"]}],
        dpm={"enabled": True},
    )
    [violation] = make_plan(instance, OPTIONS).plan.violations
    assert "DPM" not in violation.detail
    assert (
        "yields to VMs that cannot move (a: its live migration would not converge safely" in violation.detail
    )


def test_a_blocked_swap_that_stays_blocked_leaves_the_first_solves_metrics(monkeypatch: pytest.MonkeyPatch):
    """Every target is unreachable (the planner is made to say so): after holding the blocked
    VMs gains nothing new, the plan is infeasible with the first solve's levels and notes, and no
    note claims VMs were kept."""
    import scheduler.pipeline as pipeline
    from scheduler.migration.planner import UnreachableTargetError

    def blocked(*args: object, **kwargs: object) -> None:
        raise UnreachableTargetError(["h1", "h2"], ["b"], "no order of migrations reaches the target")

    monkeypatch.setattr(pipeline, "plan_from_target", blocked)
    outcome = make_plan(with_what_if(pipeline_instance_with_a_move(), dpm=False), OPTIONS)
    assert outcome.plan.status is PlanStatus.INFEASIBLE
    assert not any(note.startswith("kept ") for note in outcome.plan.metrics["notes"])
    assert outcome.plan.metrics["levels"] == [level.to_dict() for level in outcome.result.levels]


def pipeline_instance_with_a_move() -> Instance:
    """h1 at 90 % CPU next to an empty h2: balancing moves something."""
    return inventory(
        [host_entry("h1"), host_entry("h2")],
        [vm_entry("a", "h1", 3_000), vm_entry("b", "h1", 3_000), vm_entry("c", "h1", 3_000)],
    )


def test_a_plan_made_from_a_given_target_records_its_policy(busy: Instance):
    """``schedule`` and the benchmark baselines go through ``plan_from_target``: their plans say
    which policy they were made under, as the optimizer's do."""
    plan, _ = plan_from_target(busy, busy.current_placement(), {h.name: h.state.value for h in busy.hosts})
    assert plan.metrics["policy"] == policy_record(busy)


def test_make_plan_computes_the_lower_bounds_once(busy: Instance, monkeypatch: pytest.MonkeyPatch):
    """The bounds take seconds on thousands of hosts: the plan's metrics reuse the optimizer
    side's, and ``plan_from_target`` computes them only for a caller that brings none."""
    from scheduler import pipeline

    calls: list[int] = []
    real = pipeline.lower_bounds

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "lower_bounds", counted)
    plan = make_plan(busy, SolveOptions(time_limit_s=2, num_workers=2)).plan
    assert len(calls) == 1
    assert plan.metrics["lower_bounds"] == real(busy)
    plan_from_target(busy, busy.current_placement(), {h.name: h.state.value for h in busy.hosts})
    assert len(calls) == 2

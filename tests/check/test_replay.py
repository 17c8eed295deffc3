"""Replaying a plan event by event (docs/plan.md), including the tie-breaking at equal times."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from scheduler.check import replay, replay_plan
from scheduler.check.findings import Finding
from scheduler.model import HostState, Instance

from .factories import host, make_instance, make_plan, move, power_off, power_on, vm, vm_host


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_sequential_plan_replays_cleanly(trio: Instance) -> None:
    """c to h3 over [0, 10), then a to h2 from 10: the end at 10 frees h2 for the start at 10."""
    plan = make_plan(trio, [move("c", "h2", "h3", 0.0), move("a", "h1", "h2", 10.0)])
    assert replay_plan(trio, plan) == []
    result = replay(trio, plan)
    assert result.placement == {"a": "h2", "b": "h1", "c": "h3"}


def test_overflow_mid_move_is_caught_at_its_start(trio: Instance) -> None:
    """a starts into h2 at 5 while c still holds h2 until 10: 11,000 MHz on 10,000; the end state is fine."""
    plan = make_plan(trio, [move("c", "h2", "h3", 0.0), move("a", "h1", "h2", 5.0)])
    found = replay_plan(trio, plan)
    assert codes(found) == ["capacity.cpu"]
    assert (found[0].at_s, found[0].host, found[0].vm) == (5.0, "h2", "a")
    assert "11000 MHz exceeds 10000 MHz" in found[0].message


def test_resources_are_held_on_both_hosts_until_the_end(trio: Instance) -> None:
    """a and b both into h3 at once fit (8,000 MHz); c into h1 while a is still leaving does not (15,000)."""
    ok = make_plan(trio, [move("a", "h1", "h3", 0.0), move("b", "h1", "h3", 0.0)])
    assert replay_plan(trio, ok) == []
    late = make_plan(trio, [move("a", "h1", "h3", 0.0), move("c", "h2", "h1", 5.0)])
    during = [f for f in replay_plan(trio, late) if f.at_s == 5.0]
    assert codes(during) == ["capacity.cpu"]
    assert "15000 MHz" in during[0].message  # a still counts on h1 until it ends at 10


def test_concurrency_cap_per_host(trio: Instance) -> None:
    """With a cap of 1, a and b leaving h1 at overlapping times is one migration too many for h1."""
    inst = make_instance(trio.hosts, trio.vms, max_concurrent_per_host=1)
    plan = make_plan(inst, [move("a", "h1", "h3", 0.0), move("b", "h1", "h3", 5.0)])
    found = replay_plan(inst, plan)
    assert sorted(codes(found)) == ["concurrency", "concurrency"]  # h1 and h3 both over
    assert {f.host for f in found} == {"h1", "h3"}
    back_to_back = make_plan(inst, [move("a", "h1", "h3", 0.0), move("b", "h1", "h3", 10.0)])
    assert replay_plan(inst, back_to_back) == []


def test_moving_a_pinned_vm_is_refused() -> None:
    """p is pinned to h1; a plan that moves it gets an ``immobile`` finding at the move."""
    inst = make_instance([host("h1"), host("h2")], [vm("p", "h1", pinned=True)])
    found = replay_plan(inst, make_plan(inst, [move("p", "h1", "h2", 0.0)]))
    assert "immobile" in codes(found)
    assert found[0].at_s == 0.0
    assert set(codes(found)) == {"immobile"}


def test_priority_one_rule_target(showcase: Instance) -> None:
    """d1 to h3 breaks ``licence``: a ``rule.p1`` finding naming the rule."""
    found = replay_plan(showcase, make_plan(showcase, [move("d1", "h1", "h3", 0.0)]))
    assert set(codes(found)) == {"rule.p1"}
    assert {f.rule for f in found} == {"licence"}


def test_incompatible_target() -> None:
    """x uses dvs-2, which h2 lacks."""
    inst = make_instance(
        [host("h1", networks=["dvs-1", "dvs-2"]), host("h2")], [vm("x", "h1", networks=["dvs-2"])]
    )
    found = replay_plan(inst, make_plan(inst, [move("x", "h1", "h2", 0.0)]))
    assert set(codes(found)) == {"compat"}
    assert "dvs-2" in found[0].message


def test_maintenance_host_left_occupied() -> None:
    """h1 is in maintenance; a plan with no move leaves x on it."""
    inst = make_instance([host("h1", state=HostState.MAINTENANCE), host("h2")], [vm("x", "h1")])
    assert codes(replay_plan(inst, make_plan(inst))) == ["maintenance"]
    assert replay_plan(inst, make_plan(inst, [move("x", "h1", "h2", 0.0)])) == []


def test_move_into_maintenance_host() -> None:
    """Nothing may move into a maintenance host."""
    inst = make_instance([host("h1"), host("h2", state=HostState.MAINTENANCE)], [vm("x", "h1")])
    found = replay_plan(inst, make_plan(inst, [move("x", "h1", "h2", 0.0)]))
    assert codes(found)[0] == "maintenance"
    assert found[0].at_s == 0.0


def test_power_off_of_a_non_empty_host(trio: Instance) -> None:
    """h2 powered off at 0 while c runs there."""
    found = replay_plan(trio, make_plan(trio, power_actions=[power_off("h2", 0.0)]))
    assert codes(found)[0] == "power.off_not_empty"
    assert found[0].host == "h2"


def test_power_off_right_when_the_last_vm_leaves(trio: Instance) -> None:
    """c leaves h2 over [0, 10); h2 may power off at 10 (ends come before power actions), not at 9."""
    ok = make_plan(trio, [move("c", "h2", "h3", 0.0)], [power_off("h2", 10.0)])
    assert replay_plan(trio, ok) == []
    early = make_plan(trio, [move("c", "h2", "h3", 0.0)], [power_off("h2", 9.0)])
    assert "power.off_not_empty" in codes(replay_plan(trio, early))


def test_powered_off_host_receives_nothing(trio: Instance) -> None:
    """h3 powered off at 0, then a moves into it at 5."""
    plan = make_plan(
        trio,
        [move("a", "h1", "h3", 5.0)],
        [power_off("h3", 0.0)],
        host_states={"h1": "up", "h2": "up", "h3": "standby"},
    )
    found = replay_plan(trio, plan)
    assert "power.off_target" in codes(found)


def test_power_on_waits_for_boot() -> None:
    """h2 in standby boots in 300 s: a move into it at 100 is too early, at 300 it is on time."""
    inst = make_instance([host("h1"), host("h2", state=HostState.STANDBY, boot_s=300.0)], [vm("x", "h1")])
    early = make_plan(inst, [move("x", "h1", "h2", 100.0)], [power_on("h2", 0.0)])
    assert codes(replay_plan(inst, early)) == ["boot"]
    on_time = make_plan(inst, [move("x", "h1", "h2", 300.0)], [power_on("h2", 0.0)])
    assert replay_plan(inst, on_time) == []
    never = make_plan(inst, [move("x", "h1", "h2", 0.0)], host_states={"h1": "up", "h2": "up"})
    assert "power.off_target" in codes(replay_plan(inst, never))


def test_invalid_power_actions(trio: Instance) -> None:
    """Powering on an up host, or off a host already off, is invalid."""
    found = replay_plan(
        trio,
        make_plan(
            trio, power_actions=[power_on("h3", 0.0)], host_states={"h1": "up", "h2": "up", "h3": "up"}
        ),
    )
    assert codes(found) == ["power.invalid"]


def test_plan_that_disagrees_with_its_replay(trio: Instance) -> None:
    """The plan claims a ends on h3 without moving it, and h3 in standby without powering it off."""
    plan = make_plan(
        trio,
        placement={"a": "h3", "b": "h1", "c": "h2"},
        host_states={"h1": "up", "h2": "up", "h3": "standby"},
    )
    found = replay_plan(trio, plan)
    assert codes(found)[:2] == ["replay.mismatch", "replay.mismatch"]
    assert "power.off_not_empty" in codes(found)  # the claimed state is itself invalid too


def test_duration_must_match_the_estimate(trio: Instance) -> None:
    """A move lasting 10 s whose estimate says 12 s."""
    m = move("a", "h1", "h3", 0.0, 10.0)
    bad = type(m)(m.vm, m.source, m.target, 0.0, 10.0, m.reason, type(m.estimate)(12.0, 1.0, 1.0, 1, True))
    assert codes(replay_plan(trio, make_plan(trio, [bad]))) == ["migration.duration"]


def test_a_move_whose_own_estimate_aborts_never_lands(trio: Instance) -> None:
    """The estimate says pre-copy gave up at its timeout: the VM keeps running on h1, so a plan
    that puts it on h3 claims a state the move never reaches."""
    m = move("a", "h1", "h3", 0.0, 60.0)
    aborted = replace(
        m,
        estimate=replace(m.estimate, converges=False, extra={"outcome": "aborted", "stop_reason": "timeout"}),
    )
    found = replay_plan(trio, make_plan(trio, [aborted]))
    assert codes(found)[0] == "migration.aborted"
    assert "a would stay on h1" in found[0].message
    assert "replay.mismatch" in codes(found)
    forced = replace(aborted, estimate=replace(aborted.estimate, extra={"outcome": "forced_stop"}))
    assert codes(replay_plan(trio, make_plan(trio, [forced]))) == []  # it lands, with a long downtime


def test_source_must_be_where_the_vm_is(trio: Instance) -> None:
    """a is on h1, not h2; and a second move of a may start only once its first has ended."""
    found = replay_plan(
        trio, make_plan(trio, [move("a", "h2", "h3", 0.0)], placement=trio.current_placement())
    )
    assert codes(found) == ["migration.source"]
    overlap = make_plan(
        trio,
        [move("a", "h1", "h3", 0.0), move("a", "h3", "h2", 5.0)],
        placement={"a": "h3", "b": "h1", "c": "h2"},
    )
    assert codes(replay_plan(trio, overlap)) == ["migration.overlap"]
    chained = make_plan(trio, [move("b", "h1", "h3", 0.0), move("b", "h3", "h1", 10.0)])
    assert replay_plan(trio, chained) == []


def test_inventory_over_capacity_may_only_shrink() -> None:
    """h1 starts at 12,000 of 10,000 MHz: y leaving is fine, z moving in while it is over is not."""
    inst = make_instance(
        [host("h1"), host("h2")], [vm("x", "h1", 6_000), vm("y", "h1", 6_000), vm("z", "h2", 100)]
    )
    out = make_plan(inst, [move("y", "h1", "h2", 0.0)])
    assert replay_plan(inst, out) == []
    into = make_plan(inst, [move("z", "h2", "h1", 0.0), move("y", "h1", "h2", 0.0)])
    found = replay_plan(inst, into)
    assert codes(found) == ["capacity.overloaded_target"]
    nothing = make_plan(inst)
    assert codes(replay_plan(inst, nothing)) == ["capacity.cpu"]  # the plan must end within capacity


def test_new_vms_are_placed_not_migrated() -> None:
    """A new VM appears in the placement only; a migration naming it is refused."""
    inst = make_instance([host("h1"), host("h2")], [vm("x", "h1"), vm("n", None)])
    assert replay_plan(inst, make_plan(inst, placement={"x": "h1", "n": "h2"})) == []
    found = replay_plan(inst, make_plan(inst, [move("n", "h1", "h2", 0.0)], placement={"x": "h1", "n": "h2"}))
    assert codes(found) == ["migration.new_vm"]


def test_replay_scales_to_thousands_of_moves() -> None:
    """1,500 moves on 128 hosts × 10,000 VMs replay in well under a second or two."""
    rng = np.random.default_rng(7)
    hosts = [host(f"h{i:03}", 1_000_000, 4_000_000) for i in range(128)]
    where = rng.integers(0, 128, 10_000)
    vms = [vm(f"v{k:05}", f"h{where[k]:03}", 500, 2_048) for k in range(10_000)]
    rules = [vm_host("keep", "must_not", [f"v{k:05}" for k in range(5)], ["h000"])]
    inst = make_instance(hosts, vms, rules)
    moves = []
    for i, k in enumerate(rng.choice(10_000, 1_500, replace=False)):
        target = (int(where[k]) + 1 + int(rng.integers(0, 127))) % 128
        if k < 5 and target == 0:
            target = 1
        # One 10 s slot per move keeps within the concurrency cap; the event count is what is measured.
        moves.append(move(f"v{k:05}", f"h{where[k]:03}", f"h{target:03}", 10.0 * i, 10.0))
    plan = make_plan(inst, moves)
    start = time.perf_counter()
    found = replay_plan(inst, plan)
    elapsed_s = time.perf_counter() - start
    assert found == []
    assert elapsed_s < 2.0


def test_zero_length_move_starts_then_ends(trio: Instance) -> None:
    """A move with end_s = start_s (estimate 0 s) still lands its VM on the target."""
    plan = make_plan(trio, [move("a", "h1", "h3", 5.0, 0.0)])
    assert replay_plan(trio, plan) == []
    assert replay(trio, plan).placement["a"] == "h3"

"""One checker per rule kind, on hand-checkable placements."""

from __future__ import annotations

from scheduler.check import (
    check_affinity,
    check_anti_affinity,
    check_vm_host,
    departures_to_keep,
    rule_status,
)
from scheduler.model import Instance

from .factories import affinity, anti_affinity, host, make_instance, vm, vm_host


def test_showcase_breaks_only_its_soft_host_rules(showcase: Instance) -> None:
    """In the current placement only ``prefer`` (P3) and ``avoid`` (P3) are broken."""
    statuses = {s.rule: s for s in rule_status(showcase, showcase.current_placement())}
    assert {name for name, s in statuses.items() if not s.satisfied} == {"prefer", "avoid"}
    assert {name: s.priority for name, s in statuses.items()} == {
        "web": 2,
        "db": 2,
        "licence": 1,
        "not-h3": 1,
        "prefer": 3,
        "avoid": 3,
    }
    assert statuses["prefer"].violating_vms == ("w1", "w2")
    assert statuses["avoid"].violating_vms == ("d1",)


def test_affinity_holds_on_one_host_and_names_the_fewest_to_move() -> None:
    """x, y on h1 and z on h2: z is the one off the majority host."""
    rule = affinity("r", "x", "y", "z")
    assert check_affinity(rule, {"x": "h1", "y": "h1", "z": "h1"}).satisfied
    status = check_affinity(rule, {"x": "h1", "y": "h1", "z": "h2"})
    assert not status.satisfied
    assert status.violating_vms == ("z",)
    assert "h1: 2, h2: 1" in status.detail


def test_affinity_tie_keeps_the_first_host_by_name() -> None:
    """One VM each on h2 and h1: keep h1 (sorted first), so the VM on h2 is named."""
    status = check_affinity(affinity("r", "x", "y"), {"x": "h2", "y": "h1"})
    assert status.violating_vms == ("x",)


def test_anti_affinity_needs_distinct_hosts() -> None:
    """x, y, z all on h1: y and z must move (x keeps h1); on three hosts the rule holds."""
    rule = anti_affinity("r", "x", "y", "z")
    status = check_anti_affinity(rule, {"x": "h1", "y": "h1", "z": "h1"})
    assert not status.satisfied
    assert status.violating_vms == ("y", "z")
    assert "h1" in status.detail
    assert check_anti_affinity(rule, {"x": "h1", "y": "h2", "z": "h3"}).satisfied


def test_vm_host_modes() -> None:
    """x on h1, y on h2 against the host group {h1}: must/should fail on y, must_not/should_not on x."""
    placement = {"x": "h1", "y": "h2"}
    for mode, bad, priority in [
        ("must", ("y",), 1),
        ("should", ("y",), 3),
        ("must_not", ("x",), 1),
        ("should_not", ("x",), 3),
    ]:
        status = check_vm_host(vm_host("r", mode, ["x", "y"], ["h1"]), placement)
        assert (status.satisfied, status.violating_vms, status.priority) == (False, bad, priority), mode
        assert mode in status.detail


def test_unplaced_vms_cannot_break_a_rule() -> None:
    """A VM the placement does not name (new, not placed yet) is ignored by every rule kind."""
    only_x = {"x": "h1"}
    assert check_affinity(affinity("r", "x", "y"), only_x).satisfied
    assert check_anti_affinity(anti_affinity("r", "x", "y"), {"x": "h1", "z": "h1"}).satisfied
    assert check_vm_host(vm_host("r", "must", ["x", "y"], ["h1"]), only_x).satisfied


def test_accepted_hosts_is_allows_host_as_a_mask(showcase: Instance) -> None:
    """For every mode, the instance's mask of accepted hosts agrees host by host with the rule."""
    names = [h.name for h in showcase.hosts]
    for mode in ("must", "must_not", "should", "should_not"):
        rule = vm_host("r", mode, ["x"], names[:2])
        assert showcase.accepted_hosts(rule).tolist() == [rule.allows_host(name) for name in names]


def test_keeping_every_rule_forces_these_departures() -> None:
    """a, b on h1 apart: one of them leaves; c on h1 and d on h2 together: one leaves; e on h2
    should be on h1: e leaves; f on h1 must not be: f leaves. The rules that hold (g with h, i
    on h1 as it should) force nothing."""
    on = {"a": "h1", "b": "h1", "c": "h1", "d": "h2", "e": "h2", "f": "h1", "g": "h2", "h": "h2", "i": "h1"}
    inst = make_instance(
        [host("h1", 100_000, 100_000), host("h2", 100_000, 100_000)],
        [vm(name, where) for name, where in on.items()],
        [
            anti_affinity("apart", "a", "b"),
            affinity("together", "c", "d"),
            vm_host("prefer", "should", ["e", "i"], ["h1"]),
            vm_host("avoid", "must_not", ["f"], ["h1"]),
            affinity("kept", "g", "h"),
        ],
    )
    assert departures_to_keep(inst, inst.current_placement()) == [("a", "b"), ("c", "d"), ("e",), ("f",)]


def test_departures_count_every_pair_and_skip_unplaced_vms() -> None:
    """Three of a kind on h1 kept apart: every pair of them; an unplaced member forces nothing."""
    inst = make_instance(
        [host("h1", 100_000, 100_000), host("h2", 100_000, 100_000)],
        [vm("x", "h1"), vm("y", "h1"), vm("z", "h1"), vm("new", None)],
        [anti_affinity("apart", "x", "y", "z", "new")],
    )
    assert departures_to_keep(inst, inst.current_placement()) == [("x", "y"), ("x", "z"), ("y", "z")]

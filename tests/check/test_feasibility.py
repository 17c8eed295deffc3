"""The final-state check: placement and host states at the end of a plan."""

from __future__ import annotations

from collections.abc import Mapping

from scheduler.check import check_placement
from scheduler.check.findings import Finding
from scheduler.model import DpmPolicy, HostState, Instance

from .factories import host, make_instance, vm

ALL_UP = {"h1": "up", "h2": "up", "h3": "up"}


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def states(instance: Instance, **changes: str) -> Mapping[str, str]:
    return {h.name: changes.get(h.name, h.state.value) for h in instance.hosts}


def test_current_state_of_a_healthy_cluster_passes(trio: Instance) -> None:
    """The inventory itself is a valid final state."""
    assert check_placement(trio, trio.current_placement(), ALL_UP) == []


def test_valid_rebalanced_state_passes(trio: Instance) -> None:
    """b to h3: h1 4,000, h2 7,000, h3 4,000 MHz."""
    assert check_placement(trio, {"a": "h1", "b": "h3", "c": "h2"}, ALL_UP) == []


def test_names_are_complete_and_known(trio: Instance) -> None:
    """c missing, a ghost VM, b on a ghost host, h3 missing from host_states, a ghost host state."""
    found = check_placement(trio, {"a": "h1", "b": "h9", "ghost": "h1"}, {"h1": "up", "h2": "up", "h0": "up"})
    assert sorted(codes(found)) == sorted(
        ["unknown.vm", "unknown.host", "placement.missing", "unknown.host", "host_states.missing"]
    )


def test_capacity_of_the_final_state(trio: Instance) -> None:
    """a, b, c on h1: 15,000 MHz on 10,000."""
    found = check_placement(trio, {"a": "h1", "b": "h1", "c": "h1"}, ALL_UP)
    assert codes(found) == ["capacity.cpu"]


def test_hosts_not_up_hold_nothing(trio: Instance) -> None:
    """h2 put in standby while c is still on it."""
    found = check_placement(trio, trio.current_placement(), {**ALL_UP, "h2": "standby"})
    assert codes(found) == ["power.off_not_empty"]
    assert found[0].host == "h2"


def test_maintenance_host_must_end_empty() -> None:
    """h1 in maintenance still holding x: a ``maintenance`` finding; moving x to h2 fixes it."""
    inst = make_instance([host("h1", state=HostState.MAINTENANCE), host("h2")], [vm("x", "h1")])
    found = check_placement(inst, {"x": "h1"}, {"h1": "maintenance", "h2": "up"})
    assert codes(found) == ["maintenance"]
    assert "x" in found[0].message
    assert check_placement(inst, {"x": "h2"}, {"h1": "maintenance", "h2": "up"}) == []


def test_state_transitions() -> None:
    """Maintenance and down hosts keep their state; up <-> standby is allowed both ways."""
    hosts = [host("m", state="maintenance"), host("d", state="down"), host("s", state="standby"), host("u")]
    inst = make_instance(hosts, [vm("x", "u")])
    ok = {"m": "maintenance", "d": "down", "s": "up", "u": "up"}
    assert check_placement(inst, {"x": "u"}, ok) == []
    bad = {"m": "up", "d": "up", "s": "standby", "u": "up"}
    found = check_placement(inst, {"x": "u"}, bad)
    assert codes(found) == ["host.state", "host.state"]
    assert codes(check_placement(inst, {"x": "u"}, {**ok, "u": "asleep"})) == ["host.state"]


def test_a_host_put_in_maintenance_hints_at_the_what_if_flag() -> None:
    """A plan made with ``--maintenance`` fails against the inventory it started from: say why."""
    inst = make_instance([host("u"), host("v")], [vm("x", "u")])
    found = check_placement(inst, {"x": "u"}, {"u": "up", "v": "maintenance"})
    assert codes(found) == ["host.state"]
    assert found[0].message == (
        "host v: cannot go from up to maintenance "
        "(a plan made with --maintenance is verified with the same flag)"
    )
    other = check_placement(inst, {"x": "u"}, {"u": "up", "v": "down"})
    assert [f.message for f in other] == ["host v: cannot go from up to down"]


def test_compat_is_checked_for_moved_vms_only() -> None:
    """x runs on h1, which lacks ds-2 that x uses: staying is fine, moving to h2 (also lacking it) is not."""
    hosts = [
        host("h1", datastores=["ds-1"]),
        host("h2", datastores=["ds-1"]),
        host("h3", datastores=["ds-1", "ds-2"]),
    ]
    inst = make_instance(hosts, [vm("x", "h1", datastores=["ds-1", "ds-2"])])
    assert check_placement(inst, {"x": "h1"}, ALL_UP) == []
    assert check_placement(inst, {"x": "h3"}, ALL_UP) == []
    found = check_placement(inst, {"x": "h2"}, ALL_UP)
    assert codes(found) == ["compat"]
    assert "storage not shared" in found[0].message


def test_immobile_vm_must_not_move() -> None:
    """A pinned VM on h1 that ends on h2 gives an ``immobile`` finding (not a ``compat`` one)."""
    inst = make_instance([host("h1"), host("h2")], [vm("p", "h1", pinned=True)])
    found = check_placement(inst, {"p": "h2"}, {"h1": "up", "h2": "up"})
    assert codes(found) == ["immobile"]
    assert "pinned" in found[0].message


def test_priority_one_rules_bind_the_final_state(showcase: Instance) -> None:
    """d1 on h3 breaks ``licence`` (must run on h1/h2); soft rules are not findings here."""
    placement = {**showcase.current_placement(), "d1": "h3"}
    found = check_placement(showcase, placement, ALL_UP)
    assert codes(found) == ["rule.p1"]
    assert found[0].rule == "licence"


def test_new_vm_must_be_placed_on_a_compatible_host() -> None:
    """A new VM using ds-2 may go to h2 (sees ds-2) but not to h1."""
    inst = make_instance(
        [host("h1"), host("h2", datastores=["ds-1", "ds-2"])], [vm("n", None, datastores=["ds-2"])]
    )
    hs = {"h1": "up", "h2": "up"}
    assert codes(check_placement(inst, {}, hs)) == ["placement.missing"]
    assert check_placement(inst, {"n": "h2"}, hs) == []
    assert codes(check_placement(inst, {"n": "h1"}, hs)) == ["compat"]


def test_dpm_keeps_min_hosts_on() -> None:
    """With DPM and min_hosts_on 2, powering off one of two hosts is not allowed."""
    inst = make_instance(
        [host("h1"), host("h2")], [vm("x", "h1")], dpm=DpmPolicy(enabled=True, min_hosts_on=2)
    )
    assert codes(check_placement(inst, {"x": "h1"}, {"h1": "up", "h2": "standby"})) == ["dpm.min_hosts_on"]
    assert check_placement(inst, {"x": "h1"}, {"h1": "up", "h2": "up"}) == []

"""Helpers the greedy heuristics share: what fits, rule groups and where anti-affinity partners sit."""

from __future__ import annotations

import numpy as np
from check.factories import anti_affinity, host, make_instance, vm

from scheduler.heuristics.state import LoadState, displaced, partner_hosts, rule_groups
from scheduler.model import RuleKind


def test_partner_hosts_are_where_the_other_members_run() -> None:
    """a, b, c apart; d in no rule; c is new (no host yet), so it rules out nothing."""
    inst = make_instance(
        [host("h1"), host("h2"), host("h3")],
        [vm("a", "h1"), vm("b", "h2"), vm("c", None), vm("d", "h3")],
        [anti_affinity("apart", "a", "b", "c")],
    )
    anti = rule_groups(inst, RuleKind.ANTI_AFFINITY)
    at = inst.current_host
    assert partner_hosts(anti, at, inst.vm_index["a"]).tolist() == [inst.host_index["h2"]]
    h1, h2 = inst.host_index["h1"], inst.host_index["h2"]
    assert sorted(partner_hosts(anti, at, inst.vm_index["c"]).tolist()) == [h1, h2]
    assert partner_hosts(anti, at, inst.vm_index["d"]).size == 0
    assert np.array_equal(anti == anti[inst.vm_index["a"]], np.array([True, True, True, False]))


def test_displaced_are_new_vms_and_vms_on_hosts_off_or_forbidden() -> None:
    """a stays; b's host goes off; c's host is forbidden to it; d is new; e sits where it may."""
    inst = make_instance(
        [host("h1"), host("h2"), host("h3")],
        [vm("a", "h1"), vm("b", "h2"), vm("c", "h1"), vm("d", None), vm("e", "h3")],
    )
    allowed = np.ones((5, 3), dtype=np.bool_)
    allowed[inst.vm_index["c"], inst.host_index["h1"]] = False
    on = np.array([True, False, True])
    assert displaced(inst, allowed, on).tolist() == [False, True, True, True, False]
    everywhere = displaced(inst, np.ones((5, 3), dtype=np.bool_), np.ones(3, dtype=np.bool_))
    assert everywhere.tolist() == [False, False, False, True, False]


def test_admits_holds_each_host_to_each_of_its_limits() -> None:
    """h1 carries 6,000 of 10,000 MHz and 8,192 MiB configured (4,096 in demand); h2 is empty."""
    inst = make_instance([host("h1"), host("h2")], [vm("a", "h1", 6_000, 8_192, memory_demand_mib=4_096)])
    state = LoadState(inst, inst.current_host)
    room = int(state.mem_capacity[0]) - 8_192
    both = np.array([0, 1])
    assert state.admits(both, 4_000, room, 0).tolist() == [True, True]
    assert state.admits(both, 4_001, 0, 0).tolist() == [False, True]
    assert state.admits(both, 0, room + 1, 0).tolist() == [False, True]
    # Tighter CPU limits (DPM's high target) and a memory-demand limit, per host.
    cpu_limit = np.array([8_000.0, 8_000.0])
    assert state.admits(both, 2_001, 0, 0, cpu_limit).tolist() == [False, True]
    demand_limit = np.array([6_000.0, 6_000.0])
    assert state.admits(both, 0, 0, 1_905, None, demand_limit).tolist() == [False, True]
    # Per-host loads, and load leaving a host that stands above a limit it is held to.
    assert state.admits(
        both, np.array([-1_000.0, 9_000.0]), 0, 0, np.array([5_000.0, 10_000.0])
    ).tolist() == [
        True,
        True,
    ]
    assert state.fits_mask(inst.vm_index["a"]).tolist() == [True, True]

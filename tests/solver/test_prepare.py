"""What the optimizer derives before deciding: power, moves that cannot be avoided, conflicts, notes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from check.factories import host, make_instance, vm, vm_host

from scheduler.model import DpmPolicy, HostState
from scheduler.solver.prepare import prepare
from scheduler.solver.problem import POWER_DECIDE, POWER_OFF, POWER_ON


def test_a_maintenance_host_is_unusable_and_its_vms_must_move():
    """h1 goes into maintenance: it ends off, a must leave it, b on h2 need not move."""
    instance = make_instance(
        [host("h1", state=HostState.MAINTENANCE), host("h2")], [vm("a", "h1"), vm("b", "h2")]
    )
    prep = prepare(instance)
    assert prep.conflicts == ()
    assert prep.power.tolist() == [POWER_OFF, POWER_ON]
    assert prep.usable.tolist() == [False, True]
    assert prep.up_now.tolist() == [False, True]
    assert prep.mandatory.tolist() == [True, False]
    assert prep.notes == ()


def test_with_dpm_on_the_hosts_up_and_in_standby_are_dpms_to_decide():
    instance = make_instance(
        [host("h1"), host("h2", state=HostState.STANDBY)], [vm("a", "h1")], dpm=DpmPolicy(enabled=True)
    )
    prep = prepare(instance)
    assert prep.dpm
    assert np.all(prep.power == POWER_DECIDE)


def test_contradicting_must_rules_are_a_conflict_found_without_search():
    """a must run on h1 and must run on h2: no host satisfies both."""
    rules = [vm_host("on-h1", "must", ["a"], ["h1"]), vm_host("on-h2", "must", ["a"], ["h2"])]
    instance = make_instance([host("h1"), host("h2")], [vm("a", "h1")], rules)
    prep = prepare(instance)
    assert {r for c in prep.conflicts for r in c.rules} == {"on-h1", "on-h2"}


def test_vms_whose_migration_would_not_converge_are_not_optional_moves_and_are_noted():
    """x (on h2) and the new n dirty 5,000 MiB/s, more than a 10 Gbit/s link carries: neither is
    an optional move, and the notes say what that means for each."""
    instance = make_instance(
        [host("h1"), host("h2")],
        [
            vm("a", "h1"),
            replace(vm("x", "h2"), dirty_rate_mibps=5_000.0),
            replace(vm("n", None), dirty_rate_mibps=5_000.0),
        ],
    )
    prep = prepare(instance)
    assert prep.movable_optional.tolist() == [True, False, False]
    assert prep.notes == (
        "1 VM(s) kept in place unless they must move: their live migration would not converge",
        "1 new VM(s) placed for good: once running, their live migration would not converge",
    )

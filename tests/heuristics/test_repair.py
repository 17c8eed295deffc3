"""Greedy repair: a VM that must be placed makes room on the one host it may use."""

from __future__ import annotations

import numpy as np
from check.factories import host, make_instance, vm, vm_host

from scheduler.compat import compatibility
from scheduler.heuristics.repair import repair_placement
from scheduler.model import NO_HOST


def test_new_vm_held_to_a_full_host_sends_a_movable_resident_away():
    """h0 runs ``pinned`` (5,613 MHz) and ``mover`` (768 MHz): 6,381 of the 6,480 MHz the DPM high
    target (81 %) allows. The new ``fresh`` (100 MHz) must run on h0, so ``mover`` goes to h1.

    Placing new VMs before making room once failed here, DPM then gave up ("demand exceeds the
    high target") and powered on a standby host for nothing (found by the idempotence property)."""
    instance = make_instance(
        [host("h0", 8_000), host("h1", 8_000)],
        [vm("pinned", "h0", 5_613, pinned=True), vm("mover", "h0", 768), vm("fresh", None, 100)],
        [vm_host("fresh-on-h0", "must", ["fresh"], ["h0"])],
    )
    allowed = compatibility(instance).allowed
    on = np.ones(2, dtype=np.bool_)
    cost_s = np.ones(instance.num_vms)
    limit = instance.host_cpu_mhz * 0.81
    repaired = repair_placement(instance, allowed, on, cost_s, cpu_limit=limit)
    assert repaired is not None
    assert [instance.hosts[h].name if h != NO_HOST else None for h in repaired] == ["h0", "h1", "h0"]


def test_room_is_made_with_residents_that_can_go_elsewhere():
    """As above, with ``held`` (768 MHz) also on h0 and allowed nowhere else, and as cheap to move
    as ``mover``. Evicting ``held`` first made room it could not be placed back from, and the
    repair failed; only ``mover`` may make room (found by the idempotence property)."""
    instance = make_instance(
        [host("h0", 8_000), host("h1", 8_000)],
        [
            vm("pinned", "h0", 4_845, pinned=True),
            vm("held", "h0", 768),
            vm("mover", "h0", 768),
            vm("fresh", None, 100),
        ],
        [
            vm_host("fresh-on-h0", "must", ["fresh"], ["h0"]),
            vm_host("held-off-h1", "must_not", ["held"], ["h1"]),
        ],
    )
    allowed = compatibility(instance).allowed
    on = np.ones(2, dtype=np.bool_)
    limit = instance.host_cpu_mhz * 0.81
    repaired = repair_placement(instance, allowed, on, np.ones(instance.num_vms), cpu_limit=limit)
    assert repaired is not None
    assert [instance.hosts[h].name for h in repaired] == ["h0", "h0", "h1", "h0"]


def test_no_room_anywhere_is_still_a_failure():
    """``fresh`` must run on h0, whose only other VM is pinned: nothing can make room."""
    instance = make_instance(
        [host("h0", 8_000), host("h1", 8_000)],
        [vm("pinned", "h0", 6_400, pinned=True), vm("fresh", None, 100)],
        [vm_host("fresh-on-h0", "must", ["fresh"], ["h0"])],
    )
    allowed = compatibility(instance).allowed
    limit = instance.host_cpu_mhz * 0.81
    on = np.ones(2, dtype=np.bool_)
    assert repair_placement(instance, allowed, on, np.ones(2), cpu_limit=limit) is None

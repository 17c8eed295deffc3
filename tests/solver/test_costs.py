"""Per-VM migration costs: one estimate per distinct VM shape, each VM its own verdict."""

from __future__ import annotations

from dataclasses import replace

from check.factories import host, make_instance, vm

from scheduler.migration.precopy import estimate_vm
from scheduler.solver.costs import move_costs
from scheduler.solver.prepare import prepare


def _edge_pair():
    """Two 16 GiB guests 0.02 MiB/s apart, either side of where QEMU's default run aborts
    (about 121.60 MiB/s on 10 Gbit/s): a to stay on h1, b to leave maintenance host h3."""
    big = {"cpu_mhz": 100_000, "memory_mib": 262_144}
    return make_instance(
        [host("h1", **big), host("h2", **big), host("h3", **big, state="maintenance")],
        [
            replace(vm("a", "h1", memory_mib=16_384), dirty_rate_mibps=121.61),
            replace(vm("b", "h3", memory_mib=16_384), dirty_rate_mibps=121.59),
        ],
    )


def test_each_vm_gets_its_own_verdict_however_close_the_rates():
    instance = _edge_pair()
    costs = move_costs(instance)
    policy = instance.policy.migration
    alone = [estimate_vm(v, policy) for v in instance.vms]
    assert [e.outcome for e in alone] == ["aborted", "aborted"]  # both high risk: costed at +20 %
    assert costs.completes.tolist() == [False, True]  # but only a aborts at its own rate
    assert costs.seconds.tolist() == [e.total_s for e in alone]


def test_a_vm_that_completes_is_not_a_conflict_for_its_neighbours_abort():
    """b must leave maintenance and its migration completes: no conflict, whatever a does."""
    prep = prepare(_edge_pair())
    assert prep.conflicts == ()

"""Greedy repair of broken soft rules (the optimizer's warm start)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from check.factories import affinity, anti_affinity, host, make_instance, vm, vm_host

from scheduler.compat import compatibility
from scheduler.heuristics.rule_repair import repair_vm_rules
from scheduler.model import Instance, Rule


def repaired(inst: Instance) -> dict[str, str]:
    """The repaired placement, VM name → host name."""
    on = np.ones(inst.num_hosts, dtype=np.bool_)
    movable = np.ones(inst.num_vms, dtype=np.bool_)
    assignment = repair_vm_rules(
        inst,
        inst.current_host.copy(),
        on,
        compatibility(inst).allowed,
        movable,
        np.ones(inst.num_vms),
        inst.host_cpu_mhz.astype(np.float64),
        inst.host_memory_mib.astype(np.float64),
    )
    return {v.name: inst.hosts[int(h)].name for v, h in zip(inst.vms, assignment, strict=True)}


def three_hosts(rules: Sequence[Rule], extra: Sequence[str] = ()) -> Instance:
    """a on h1; h2 carries 5,000 MHz (b), h3 1,000 MHz (c); any extra VMs on h1."""
    vms = [vm("a", "h1"), vm("b", "h2", 5_000), vm("c", "h3")] + [vm(name, "h1") for name in extra]
    return make_instance([host("h1"), host("h2"), host("h3")], vms, rules)


def test_should_rule_member_moves_to_the_listed_host_with_most_room() -> None:
    placement = repaired(three_hosts([vm_host("a-on-h2-h3", "should", ["a"], ["h2", "h3"])]))
    assert placement["a"] == "h3"


def test_should_not_rule_member_leaves_the_listed_hosts() -> None:
    placement = repaired(three_hosts([vm_host("a-off-h1-h3", "should_not", ["a"], ["h1", "h3"])]))
    assert placement["a"] == "h2"


def test_should_rule_yields_to_an_affinity_rule() -> None:
    """a and d must stay together (priority 2); moving a alone to h3 would break that."""
    rules = [vm_host("a-on-h3", "should", ["a"], ["h3"]), affinity("a-with-d", "a", "d")]
    placement = repaired(three_hosts(rules, extra=["d"]))
    assert placement["a"] == placement["d"] == "h1"


def test_should_rule_move_avoids_an_anti_affinity_partner() -> None:
    """a should go to h2 or h3; c (on h3) must be kept apart from a: h2 it is, though h3 has
    more room."""
    rules = [vm_host("a-on-h2-h3", "should", ["a"], ["h2", "h3"]), anti_affinity("a-apart-c", "a", "c")]
    placement = repaired(three_hosts(rules))
    assert placement["a"] == "h2"

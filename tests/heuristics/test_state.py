"""Helpers the greedy heuristics share: rule groups and where anti-affinity partners sit."""

from __future__ import annotations

import numpy as np
from check.factories import anti_affinity, host, make_instance, vm

from scheduler.heuristics.state import partner_hosts, rule_groups
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

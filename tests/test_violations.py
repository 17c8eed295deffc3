"""What a broken soft rule yields to: each reason is named only where it is true of the inventory.

Each planned case is small enough to reason about by hand; the docstring says why the reason
named is the true one, and the assertion fails on the reason named before the check existed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from check.entries import host_entry, vm_entry

from scheduler.compat import compatibility
from scheduler.io import parse_inventory
from scheduler.model import KEPT_IN_PLACE, Instance, Violation
from scheduler.pipeline import make_plan
from scheduler.solver.options import SolveOptions
from scheduler.violations import can_hold_together, explain_violations

OPTIONS = SolveOptions(time_limit_s=3.0, num_workers=2, seed=0)


def inventory(
    hosts: list[dict[str, Any]],
    vms: list[dict[str, Any]],
    rules: list[dict[str, Any]],
    **policy: Any,
) -> Instance:
    data = {"name": "violations", "policy": policy, "hosts": hosts, "vms": vms, "rules": rules}
    return parse_inventory(data, "test inventory")


def affinity(name: str, *vms: str) -> dict[str, Any]:
    return {"name": name, "kind": "affinity", "vms": list(vms)}


def apart(name: str, *vms: str) -> dict[str, Any]:
    return {"name": name, "kind": "anti_affinity", "vms": list(vms)}


def broken(instance: Instance, options: SolveOptions = OPTIONS) -> dict[str, Violation]:
    return {v.rule: v for v in make_plan(instance, options).plan.violations}


def three_vms_on(hosts: int, rules: list[dict[str, Any]]) -> Instance:
    return inventory(
        [host_entry(f"h{i}") for i in range(1, hosts + 1)],
        [vm_entry(name, "h1") for name in "abc"],
        rules,
    )


def test_rules_hold_together_when_some_placement_keeps_them_all():
    """On two hosts, a and b together and b and c apart hold (a, b on one host, c on the other);
    a and b together and apart at once do not, nor three VMs apart (they do on three hosts)."""
    cases = [
        ([affinity("ab", "a", "b"), apart("bc", "b", "c")], 2, True),
        ([affinity("ab", "a", "b"), apart("ab-", "a", "b")], 2, False),
        ([apart("abc", "a", "b", "c")], 2, False),
        ([apart("abc", "a", "b", "c")], 3, True),
        ([affinity("ab", "a", "b"), apart("abc", "a", "b", "c")], 3, False),
    ]
    for rules, hosts, holds in cases:
        instance = three_vms_on(hosts, rules)
        allowed = np.ones((3, hosts), dtype=np.bool_)
        assert can_hold_together(instance, instance.rules, allowed) is holds, (rules, hosts)


def test_a_vm_to_host_rule_narrows_where_its_vms_may_keep_the_others():
    """a and b together, and a should run on h2, which b may not use: they cannot hold together."""
    instance = three_vms_on(
        2,
        [
            affinity("ab", "a", "b"),
            {"name": "a-h2", "kind": "vm_host", "mode": "should", "vms": ["a"], "hosts": ["h2"]},
        ],
    )
    allowed = np.ones((3, 2), dtype=np.bool_)
    assert can_hold_together(instance, instance.rules, allowed)
    allowed[instance.vm_index["b"], 1] = False
    assert not can_hold_together(instance, instance.rules, allowed)


def test_a_rule_of_the_same_priority_is_named_only_where_the_two_cannot_both_hold():
    """a and b together, b and c apart: both could hold, with c alone on h2, but h2's pinned x
    leaves 3,500 MHz, too little for c (4,000) or for a and b (6,000). One rule has to break,
    and capacity is why, not the other rule (it was named as the cause)."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2")],
        [
            vm_entry("a", "h1", 3_000),
            vm_entry("b", "h1", 3_000),
            vm_entry("c", "h1", 4_000),
            vm_entry("x", "h2", 6_500, pinned=True),
        ],
        [affinity("ab", "a", "b"), apart("bc", "b", "c")],
        drs={"threshold": 1},
    )
    [violation] = broken(instance).values()
    assert violation.detail.endswith(
        "yields to capacity (no placement within capacity breaks fewer priority-2 rules)"
    ), violation.detail


def test_rules_held_apart_by_affinity_across_two_anti_affinity_rules_are_refused():
    """a in one anti-affinity rule, b in another, a and b together: the matchings are no longer
    independent, and the check says so rather than answer."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2")],
        [vm_entry(name, "h1") for name in "abcd"],
        [affinity("ab", "a", "b"), apart("ac", "a", "c"), apart("bd", "b", "d")],
    )
    with pytest.raises(ValueError, match="not independent"):
        can_hold_together(instance, instance.rules, np.ones((4, 2), dtype=np.bool_))


def test_compatibility_not_a_priority_one_rule_is_named_where_it_alone_rules_the_rule_out():
    """a runs on an Intel host, b on an AMD one: live migration never crosses vendors, so no host
    takes both, whatever a's must rule says. The affinity yields to compatibility (it was said to
    yield to the must rule, which only shares a VM with it)."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2", cpu={"vendor": "amd", "generation": 1})],
        [vm_entry("a", "h1"), vm_entry("b", "h2")],
        [
            affinity("ab", "a", "b"),
            {"name": "a-h1", "kind": "vm_host", "mode": "must", "vms": ["a"], "hosts": ["h1"]},
        ],
    )
    detail = broken(instance)["ab"].detail
    assert detail.endswith("yields to compatibility (no host all its VMs may use)"), detail


def test_a_priority_one_rule_is_still_named_where_it_alone_rules_the_rule_out():
    instance = inventory(
        [host_entry("h1"), host_entry("h2")],
        [vm_entry("a", "h1"), vm_entry("b", "h2")],
        [
            affinity("ab", "a", "b"),
            {"name": "a-h1", "kind": "vm_host", "mode": "must", "vms": ["a"], "hosts": ["h1"]},
            {"name": "b-h2", "kind": "vm_host", "mode": "must", "vms": ["b"], "hosts": ["h2"]},
        ],
    )
    detail = broken(instance)["ab"].detail
    assert detail.endswith("yields to priority-1 rule a-h1; priority-1 rule b-h2"), detail


def test_more_vms_kept_apart_than_hosts_yield_to_the_number_of_hosts():
    instance = three_vms_on(2, [apart("abc", "a", "b", "c")])
    detail = broken(instance)["abc"].detail
    assert detail.endswith("yields to the number of hosts (3 VMs to keep apart, 2 usable host(s))"), detail


def test_dpm_is_not_named_where_a_pinned_affinity_partner_holds_the_vm():
    """b should run on h2, which DPM keeps in standby, but b stays with a (pinned on h1) by a
    kept priority-2 affinity: no host b could go to keeps both, so powering h2 on would mend
    nothing. The rule yields to the affinity alone (DPM was named too)."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2", "standby")],
        [vm_entry("a", "h1", pinned=True), vm_entry("b", "h1")],
        [
            affinity("ab", "a", "b"),
            {"name": "b-h2", "kind": "vm_host", "mode": "should", "vms": ["b"], "hosts": ["h2"]},
        ],
        dpm={"enabled": True},
    )
    detail = broken(instance)["b-h2"].detail
    assert detail.endswith("yields to priority-2 rule ab"), detail


def test_a_rule_a_spent_budget_keeps_broken_through_capacity_names_the_budget():
    """New VM n should run on h1, which a and b fill: placing n there needs a move off h1, and
    the budget of none is spent. Mending costs no budgeted move capacity aside (n is new), so the
    plain budget reason does not apply, but "no placement within capacity" would be false: one
    exists, with a move. The fallback says capacity and the spent budget."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2")],
        [vm_entry("a", "h1", 5_000), vm_entry("b", "h1", 4_500), vm_entry("n", None, 1_000)],
        [{"name": "n-h1", "kind": "vm_host", "mode": "should", "vms": ["n"], "hosts": ["h1"]}],
        drs={"threshold": 1},
    )
    detail = broken(instance, replace(OPTIONS, max_migrations=0))["n-h1"].detail
    assert detail.endswith(
        "yields to capacity and the migration budget (--max-migrations 0, all used: no placement "
        "within capacity and the budget leaves fewer VMs breaking priority-3 rules)"
    ), detail
    assert "n-h1" not in broken(instance)


def test_a_vm_to_host_rule_names_what_blocks_each_of_its_vms():
    """a and b should run on h2, an AMD host: a, on an Intel one, cannot migrate there, and the
    new VM b could go anywhere but for its must-not rule. Compatibility is named for a alone, and
    b's rule for b (b was named under compatibility too, or the rule not at all)."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2", cpu={"vendor": "amd", "generation": 1}), host_entry("h3")],
        [vm_entry("a", "h1"), vm_entry("b", None)],
        [
            {"name": "on-h2", "kind": "vm_host", "mode": "should", "vms": ["a", "b"], "hosts": ["h2"]},
            {"name": "b-not-h2", "kind": "vm_host", "mode": "must_not", "vms": ["b"], "hosts": ["h2"]},
        ],
    )
    detail = broken(instance)["on-h2"].detail
    assert detail.endswith(
        "yields to priority-1 rule b-not-h2; compatibility (no allowed host satisfies it for a)"
    ), detail


def test_a_higher_priority_rule_is_not_named_where_capacity_alone_keeps_the_vm_away():
    """a and b together (kept), and a should run on h2, where the pinned x leaves no room for a
    even alone. Both rules could hold together (a and b on h2) but for capacity: the affinity is
    not what the should rule gave way to (it was named)."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2")],
        [vm_entry("a", "h1"), vm_entry("b", "h1"), vm_entry("x", "h2", 9_500, pinned=True)],
        [
            affinity("ab", "a", "b"),
            {"name": "a-h2", "kind": "vm_host", "mode": "should", "vms": ["a"], "hosts": ["h2"]},
        ],
        drs={"threshold": 1},
    )
    detail = broken(instance)["a-h2"].detail
    assert detail.endswith(
        "yields to capacity (no host it could hold on has room for its VMs, beside the VMs that cannot move)"
    ), detail


def test_a_higher_priority_rule_that_holds_the_vm_away_is_named():
    """The same, but b is pinned on h1: a stays with b by the affinity, whatever h2's room."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2")],
        [vm_entry("a", "h1"), vm_entry("b", "h1", pinned=True)],
        [
            affinity("ab", "a", "b"),
            {"name": "a-h2", "kind": "vm_host", "mode": "should", "vms": ["a"], "hosts": ["h2"]},
        ],
        drs={"threshold": 1},
    )
    assert broken(instance)["a-h2"].detail.endswith("yields to priority-2 rule ab")


def test_host_power_is_not_named_where_no_host_could_keep_the_rule_beside_the_kept_ones():
    """a and b together (kept) and a, b, x apart cannot both hold on any hosts: powering the
    standby h1 on would keep nothing, and only the affinity is named (h1 was named too)."""
    instance = inventory(
        [host_entry("h0"), host_entry("h1", "standby"), host_entry("h2")],
        [vm_entry("a", "h0"), vm_entry("b", "h0"), vm_entry("x", "h2")],
        [affinity("together", "a", "b"), apart("apart", "a", "b", "x")],
        drs={"threshold": 1},
    )
    violations = broken(instance)
    assert set(violations) == {"apart"}, violations
    assert violations["apart"].detail.endswith("yields to priority-2 rule together (same priority)")


def test_host_power_is_named_where_only_a_standby_host_keeps_the_rule():
    """a, b and x apart on two hosts up: only the standby h1 gives the third a host."""
    instance = inventory(
        [host_entry("h0"), host_entry("h1", "standby"), host_entry("h2")],
        [vm_entry("a", "h0"), vm_entry("b", "h0"), vm_entry("x", "h2")],
        [apart("apart", "a", "b", "x")],
        drs={"threshold": 1},
    )
    detail = broken(instance)["apart"].detail
    assert detail.endswith("yields to host power (DPM off: h1 stays in standby)"), detail


def test_the_budget_is_not_named_where_no_budget_would_mend_the_rule():
    """a should join b, whose DRS is off, on h2 (4,000 MHz), but the two need 5,000: under a
    budget of no moves, the rule yields to the room, not to the budget (it was said to)."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2", cpu_mhz=4_000)],
        [vm_entry("a", "h1", 3_000), vm_entry("b", "h2", 2_000, drs_enabled=False)],
        [affinity("ab", "a", "b")],
        drs={"threshold": 1},
    )
    detail = broken(instance, replace(OPTIONS, max_migrations=0))["ab"].detail
    assert detail.endswith(
        "yields to capacity (no host it could hold on has room for its VMs, beside the VMs that cannot move)"
    ), detail


def test_a_vm_kept_in_place_after_an_unreachable_target_is_named_as_one_that_cannot_move():
    """a should run on h2, but the plan was made again with a held on h1 (no safe order of
    migrations reached the first target, which moved it): the rule yields to that, not to
    capacity, and says why a stays."""
    instance = inventory(
        [host_entry("h1"), host_entry("h2")],
        [vm_entry("a", "h1")],
        [{"name": "a-h2", "kind": "vm_host", "mode": "should", "vms": ["a"], "hosts": ["h2"]}],
    )
    states = {"h1": "up", "h2": "up"}
    [held] = explain_violations(
        instance, compatibility(instance), {"a": "h1"}, states, kept_in_place=frozenset({"a"})
    )
    assert held.detail.endswith(f"yields to VMs that cannot move (a: {KEPT_IN_PLACE})"), held.detail
    [free] = explain_violations(instance, compatibility(instance), {"a": "h1"}, states)
    assert "cannot move" not in free.detail

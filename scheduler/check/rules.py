"""One solver-free checker per rule kind, and the status of every rule under a placement.

A rule judges only the VMs that have a host in the placement: a VM the placement does not name
(a new VM not placed yet, or one a partial placement leaves out) cannot break a rule, because
where it will go is unknown; a *missing* VM is itself reported by ``check_placement``
(``placement.missing``), so a complete plan never benefits from this. An affinity rule with fewer
than two placed VMs and an anti-affinity rule with fewer than two are trivially satisfied.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scheduler.model import HostRuleMode, Instance, Rule, RuleKind


@dataclass(frozen=True, slots=True)
class RuleStatus:
    """Whether a rule holds; ``violating_vms`` is a smallest set of VMs whose moving would fix it."""

    rule: str
    priority: int
    satisfied: bool
    violating_vms: tuple[str, ...]
    detail: str


def check_affinity(rule: Rule, placement: Mapping[str, str]) -> RuleStatus:
    """Affinity: all placed VMs of the rule on one host.

    Holds iff |{placement(v) : v ∈ rule.vms, v placed}| ≤ 1. The violating VMs are those off the
    host holding most of them (ties: the host named first in sorted order), the fewest moves that
    would reunite the group.
    """
    where = {v: placement[v] for v in rule.vms if v in placement}
    counts = Counter(where.values())
    if len(counts) <= 1:
        return RuleStatus(rule.name, rule.priority, True, (), "all on one host")
    keep = min(counts, key=lambda h: (-counts[h], h))
    off = tuple(v for v in rule.vms if v in where and where[v] != keep)
    spread = ", ".join(f"{h}: {counts[h]}" for h in sorted(counts))
    return RuleStatus(rule.name, rule.priority, False, off, f"spread over {len(counts)} hosts ({spread})")


def check_anti_affinity(rule: Rule, placement: Mapping[str, str]) -> RuleStatus:
    """Anti-affinity: placed VMs of the rule on pairwise distinct hosts.

    Holds iff no host holds two of them. The violating VMs are, on each shared host, all but the
    first (in the rule's order): the fewest moves that would separate them.
    """
    seen: dict[str, str] = {}
    extra: list[str] = []
    shared: set[str] = set()
    for v in rule.vms:
        h = placement.get(v)
        if h is None:
            continue
        if h in seen:
            extra.append(v)
            shared.add(h)
        else:
            seen[h] = v
    if not extra:
        return RuleStatus(rule.name, rule.priority, True, (), "all on distinct hosts")
    detail = "sharing host(s) " + ", ".join(sorted(shared))
    return RuleStatus(rule.name, rule.priority, False, tuple(extra), detail)


def check_vm_host(rule: Rule, placement: Mapping[str, str]) -> RuleStatus:
    """VM-to-host: must / should run on the host group, or must_not / should_not run on it.

    Holds iff for every placed VM v: (placement(v) ∈ rule.hosts) == (mode ∈ {must, should}).
    Priority 1 for must / must_not, 3 for should / should_not; the checker is the same.
    """
    bad = tuple(v for v in rule.vms if v in placement and not rule.allows_host(placement[v]))
    if not bad:
        return RuleStatus(rule.name, rule.priority, True, (), "all placed VMs comply")
    group = rule.host_group or "[" + ", ".join(rule.hosts) + "]"
    mode = rule.mode.value if isinstance(rule.mode, HostRuleMode) else "?"
    where = ", ".join(f"{v} on {placement[v]}" for v in bad)
    return RuleStatus(rule.name, rule.priority, False, bad, f"{mode} run on {group}: {where}")


CHECKERS: Mapping[RuleKind, Callable[[Rule, Mapping[str, str]], RuleStatus]] = {
    RuleKind.AFFINITY: check_affinity,
    RuleKind.ANTI_AFFINITY: check_anti_affinity,
    RuleKind.VM_HOST: check_vm_host,
}


def check_rule(rule: Rule, placement: Mapping[str, str]) -> RuleStatus:
    """The status of one rule, by its kind's checker."""
    return CHECKERS[rule.kind](rule, placement)


def rule_status(instance: Instance, placement: Mapping[str, str]) -> list[RuleStatus]:
    """The status of every rule of ``instance`` under ``placement`` (VM name → host name)."""
    return [check_rule(r, placement) for r in instance.rules]


def departures_to_keep(instance: Instance, placement: Mapping[str, str]) -> list[tuple[str, ...]]:
    """What keeping every rule forces to move: sets of VMs of which at least one must leave the
    host ``placement`` gives it, in any placement that keeps all the rules of ``instance``.

    - anti-affinity: two members on one host cannot both stay there;
    - affinity: two members on different hosts cannot both stay (they end on one host);
    - VM-to-host (must/should, must_not/should_not): a member on the wrong side must leave.

    Rules that hold give nothing; VMs ``placement`` does not name are left out (a set emptied so
    is dropped with them). Every set is a valid constraint on the departures of a plan that keeps
    the rules, which is what a lower bound on such plans' migrations needs.
    """
    sets: list[tuple[str, ...]] = []
    for rule in instance.rules:
        where = {v: placement[v] for v in rule.vms if v in placement}
        members = sorted(where)
        if rule.kind is RuleKind.VM_HOST:
            hosts = set(rule.hosts)
            sets += [(v,) for v in members if (where[v] in hosts) != rule.wants_hosts]
            continue
        together = rule.kind is RuleKind.AFFINITY
        sets += [
            (a, b)
            for i, a in enumerate(members)
            for b in members[i + 1 :]
            if (where[a] == where[b]) != together
        ]
    return sets

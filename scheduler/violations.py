"""What each soft rule a plan leaves broken yields to: the plan's ``violations`` (docs/plan.md).

Each reason is a claim a reader can check, and is named only where it holds for the plan's
inventory: a priority-1 rule only where the broken rule could hold without the priority-1 rules
but not beside them; a soft rule of higher or the same priority only where the broken rule could
hold alone but not beside it; host power only where a standby host, and no host that is up,
would keep the rule; compatibility only where it alone rules the rule out; VMs that cannot move
only where they alone keep it broken; the move budget only where mending takes more moves than
are left. All of these are "capacity aside": what is left when none applies is capacity, said
either as the room the VMs that cannot move leave or as the level's own count.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from scheduler.check.bounds import distinct_hosts
from scheduler.check.capacity import cpu_over, host_loads, memory_over
from scheduler.check.rules import rule_status
from scheduler.compat import Compatibility, allowed_before_rules
from scheduler.model import (
    KEPT_IN_PLACE,
    NO_HOST,
    UNSAFE_MIGRATION,
    HostState,
    Instance,
    Rule,
    RuleKind,
    Violation,
)
from scheduler.model.instance import BoolArray, IntArray
from scheduler.solver.costs import move_costs, unsafe_vms

# Where no host the rule could hold on has room for its VMs, beside the VMs no plan moves.
NO_ROOM = "no host it could hold on has room for its VMs"


def explain_violations(
    instance: Instance,
    compat: Compatibility,
    placement: Mapping[str, str],
    host_states: Mapping[str, str],
    max_migrations: int | None = None,
    forced_moves: int = 0,
    unsafe_moves: frozenset[str] | None = None,
    kept_in_place: frozenset[str] = frozenset(),
) -> tuple[Violation, ...]:
    """Soft rules left broken, each with what it yields to (docs/plan.md, ``violations``).

    Named, in this order: the priority-1 rules that alone keep it from holding; the soft rules
    of higher or its own priority that the plan keeps and that are in the way; host power (DPM's
    choice for priority-3 rules, DPM coming after the priority-2 level; or fixed, for any rule,
    with DPM off); compatibility, or the number of hosts; the VMs that cannot move; else the
    migration budget; and capacity when none of these applies. ``forced_moves``: the moves capacity forced
    on top of ``max_migrations``, which the budget does not count.
    """
    out: list[Violation] = []
    # Estimating every VM takes time: only when a broken rule needs it and the caller did not say.
    unsafe = functools.cache(
        lambda: unsafe_moves if unsafe_moves is not None else unsafe_vms(instance, move_costs(instance))
    )

    def why_held(name: str) -> str:
        """Why no plan moves the VM (pinned, devices, DRS off, kept in place, a migration that is
        not safe), or "" when one may."""
        why = instance.vm(name).immobility_reasons()
        if why:
            return "; ".join(why)
        if name in kept_in_place:
            return KEPT_IN_PLACE
        return UNSAFE_MIGRATION if name in unsafe() else ""

    dpm_on = instance.policy.dpm.enabled
    # Leaving a host the VM may no longer use (maintenance or down, a priority-1 rule,
    # compatibility: ``compat`` refuses all of them) is no optional move: the budget does not
    # count it.
    optional = sum(
        1
        for vm in instance.vms
        if vm.host is not None and compat.is_allowed(vm.name, vm.host) and placement.get(vm.name) != vm.host
    )
    # What the rule could do without the priority-1 rules, and without them and the VMs that
    # cannot move: built only when a broken rule needs them (tens of ms on 10,000 VMs).
    without_p1 = functools.cache(lambda: _rules_free_allowed(instance, mobile=False))
    any_held = functools.cache(lambda: any(vm.host is not None and why_held(vm.name) for vm in instance.vms))
    migration_only = functools.cache(lambda: _rules_free_allowed(instance, mobile=True))
    statuses = rule_status(instance, placement)
    kept = {status.rule for status in statuses if status.satisfied}
    for status in statuses:
        if status.satisfied or status.priority == 1:
            continue
        rule = instance.rules[instance.rule_index[status.rule]]
        # A priority-1 rule is named only where the rule could hold without the priority-1 rules
        # but not beside them (capacity aside): sharing VMs with one is not yet a conflict, and
        # where compatibility alone rules the rule out, compatibility is what it yields to.
        structural = can_hold_together(instance, [rule], compat.allowed)
        blamed = (
            set()
            if structural
            else _blamed_by_priority_1(instance, rule, status.violating_vms, compat, without_p1())
        )
        # A soft rule of higher or the same priority that the plan keeps is named only where it
        # is in the way, capacity aside, on the hosts this level had (an affinity and an
        # anti-affinity on one pair: one of them has to give). Sharing VMs alone is no conflict:
        # capacity, or the rule itself, may be the cause.
        level = compat.allowed & _level_hosts(instance, rule, host_states)
        winners = [
            f"priority-{other.priority} rule {other.name}"
            for other in instance.rules
            if other.priority == 1 and blamed & set(other.vms)
        ]
        winners += [
            f"priority-{other.priority} rule {other.name}"
            + (" (same priority)" if other.priority == rule.priority else "")
            for other in instance.rules
            if 1 < other.priority <= rule.priority
            and other.name != rule.name
            and other.name in kept
            and _in_the_way(instance, rule, status.violating_vms, other, level, compat.allowed)
        ]
        # With DPM on, priority-2 rules are solved before DPM decides power, so DPM cannot be
        # why one stays broken; with DPM off, power is fixed for every rule.
        if not dpm_on or status.priority == 3:
            off = _standby_hosts_keeping(instance, rule, compat.allowed, host_states, kept)
            if off:
                names = ", ".join(off)
                kept_off = f"DPM (host {names} powered off)"
                winners.append(kept_off if dpm_on else f"host power (DPM off: {names} stays in standby)")
        incompatible = _incompatible(instance, rule, status.violating_vms, migration_only())
        if incompatible:
            winners.append(incompatible)
        # VMs that cannot move come before the budget: no budget could mend a rule they break.
        fixed = _fixed_members(instance, rule, status.violating_vms, placement, why_held)
        if fixed:
            winners.append(f"VMs that cannot move ({fixed})")
        budget, left = "", 0
        if max_migrations is not None:
            # Moves left under the budget (new VMs and forced moves cost nothing).
            left = max(0, max_migrations + forced_moves - optional)
            budget = f"--max-migrations {max_migrations}"
        # Where the VMs no plan moves leave no room for the rule, capacity is the cause whatever
        # the budget: checked only where nothing above explains it.
        roomy = (
            fixed
            or not structural
            or _room_beside_held(instance, rule, status.violating_vms, compat.allowed, placement, why_held)
        )
        if not fixed and max_migrations is not None and structural and roomy:
            # The budget keeps it broken when mending it takes more budgeted moves than are left:
            # all used, or fewer left than it takes, capacity aside.
            least = _least_moves_to_mend(instance, rule, status.violating_vms, placement, compat)
            if least > left == 0:
                winners.append(f"the migration budget ({budget}, all used)")
            elif least > left:
                winners.append(
                    f"the migration budget ({budget}: mending it takes at least {least} move(s), {left} left)"
                )
        if not winners:
            winners.append(
                _capacity(status.priority, budget, left)
                if roomy
                else f"capacity ({NO_ROOM}{', beside the VMs that cannot move' if any_held() else ''})"
            )
        out.append(
            Violation(
                rule=rule.name,
                priority=status.priority,
                vms=status.violating_vms,
                detail=f"{status.detail}; yields to {'; '.join(winners)}",
            )
        )
    return tuple(out)


def _capacity(priority: int, budget: str, left: int) -> str:
    """The fallback: the level keeps as many rules of this priority as capacity allows, and this
    one may have been traded for another of its level, so the claim is about the count, counted
    as the level counts (priority-2 rules broken; (VM, rule) pairs for priority 3). Under a
    budget (``budget``: the flag, ``left``: the moves left) the level was solved within it, so the
    claim is too; with it spent, mending may need moves that make room, and the budget is named."""
    fewer = "breaks fewer priority-2 rules" if priority == 2 else "leaves fewer VMs breaking priority-3 rules"
    if not budget:
        return f"capacity (no placement within capacity {fewer})"
    if left:
        return f"capacity (no placement within capacity and {budget} {fewer})"
    spent = f"{budget}, all used: no placement within capacity and the budget {fewer}"
    return f"capacity and the migration budget ({spent})"


def can_hold_together(instance: Instance, rules: Sequence[Rule], allowed: BoolArray) -> bool:
    """Whether some placement keeps every rule of ``rules`` with each VM on a host ``allowed``
    gives it, capacity aside (``allowed``: VMs × hosts, in the instance's order).

    Affinity rules merge their VMs into one group that needs a host all of them may use;
    VM-to-host rules narrow their VMs' hosts; each anti-affinity rule then needs its groups on
    distinct hosts, a bipartite matching. The matchings are independent because a VM is in one
    anti-affinity rule at most (the reader refuses more), so no group is in two of them unless
    affinity joins VMs of different ones: such a set is refused (ValueError), not guessed at.
    """
    names = sorted({vm for rule in rules for vm in rule.vms})
    rows = {name: allowed[instance.vm_index[name]].copy() for name in names}
    for rule in rules:
        if rule.kind is RuleKind.VM_HOST:
            for name in rule.vms:
                rows[name] &= instance.accepted_hosts(rule)
    parent = {name: name for name in names}

    def root(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    for rule in rules:
        if rule.kind is RuleKind.AFFINITY:
            for name in rule.vms[1:]:
                parent[root(name)] = root(rule.vms[0])
    groups: dict[str, BoolArray] = {}
    for name in names:
        r = root(name)
        groups[r] = groups[r] & rows[name] if r in groups else rows[name]
    apart = [[root(name) for name in rule.vms] for rule in rules if rule.kind is RuleKind.ANTI_AFFINITY]
    in_apart = [r for roots in apart for r in set(roots)]
    if len(in_apart) != len(set(in_apart)):
        raise ValueError("affinity joins VMs of two anti-affinity rules: the matchings are not independent")
    if not all(row.any() for row in groups.values()):
        return False
    if any(len(set(roots)) < len(roots) for roots in apart):
        return False  # two VMs kept together by affinity and apart by this rule
    return all(distinct_hosts(np.array([groups[r] for r in roots])) == len(roots) for roots in apart)


def _blamed_by_priority_1(
    instance: Instance, rule: Rule, violating: tuple[str, ...], compat: Compatibility, without_p1: BoolArray
) -> set[str]:
    """The VMs whose priority-1 rules keep ``rule`` from holding, capacity aside (empty when
    compatibility alone rules it out, or nothing does): for a VM-to-host rule, each VM breaking it
    that has a host the rule allows without its priority-1 rules but none beside them; for
    affinity and anti-affinity, every member, when the rule holds without them but not beside."""
    if rule.kind is RuleKind.VM_HOST:
        accepted = instance.accepted_hosts(rule)
        return {
            vm
            for vm in violating
            if (without_p1[instance.vm_index[vm]] & accepted).any()
            and not (compat.allowed[instance.vm_index[vm]] & accepted).any()
        }
    return set(rule.vms) if can_hold_together(instance, [rule], without_p1) else set()


def _rules_free_allowed(instance: Instance, *, mobile: bool) -> BoolArray:
    """Where each VM could be without the priority-1 rules (and, with ``mobile``, as if no VM
    were held on its host: pinned, devices, DRS off, a linked clone): what is left is
    compatibility itself, the migration tests and the hosts' states."""
    vms = instance.vms
    if mobile:
        vms = tuple(
            replace(vm, pinned=False, devices=(), drs_enabled=True, linked_clone=False)
            if vm.immobility_reasons()
            else vm
            for vm in vms
        )
    return allowed_before_rules(replace(instance, vms=vms))


def _in_the_way(
    instance: Instance,
    rule: Rule,
    violating: tuple[str, ...],
    other: Rule,
    level: BoolArray,
    usable: BoolArray,
) -> bool:
    """Whether ``other`` keeps ``rule`` from holding, capacity aside: the rule could hold alone but
    not beside ``other``, on the hosts its level had (``level``), or on every usable host
    (``usable``) where the level's hosts could not hold it alone (power is then a cause too, and
    said apart). For a VM-to-host rule, what counts is its VMs that could keep it alone, of which
    one breaking it is bound by ``other``: a VM that cannot keep it anyway, or that ``other`` does
    not bind, is not kept from it by ``other``."""
    if rule.kind is RuleKind.VM_HOST:
        accepted = instance.accepted_hosts(rule)

        def able(allowed: BoolArray, names: Sequence[str]) -> tuple[str, ...]:
            return tuple(vm for vm in names if (allowed[instance.vm_index[vm]] & accepted).any())

        breaking = able(level, violating)
        allowed = level if breaking else usable
        if not set(breaking or able(usable, violating)) & set(other.vms):
            return False
        # Its VMs that keep it now must go on keeping it: only those that could are held to it.
        focus = replace(rule, vms=able(allowed, rule.vms))
        return not can_hold_together(instance, [focus, other], allowed)
    if not set(rule.vms) & set(other.vms):
        return False
    allowed = level if can_hold_together(instance, [rule], level) else usable
    return can_hold_together(instance, [rule], allowed) and not can_hold_together(
        instance, [rule, other], allowed
    )


def _level_hosts(instance: Instance, rule: Rule, host_states: Mapping[str, str]) -> BoolArray:
    """The hosts the rule's level could use: those the plan keeps up, and the standby ones too
    for a priority-2 rule when DPM is on (the priority-2 level comes before DPM's choice)."""
    states = {HostState.UP.value}
    if rule.priority == 2 and instance.policy.dpm.enabled:
        states.add(HostState.STANDBY.value)
    return np.array([host_states.get(h.name) in states for h in instance.hosts], dtype=np.bool_)


def _incompatible(instance: Instance, rule: Rule, violating: tuple[str, ...], allowed: BoolArray) -> str:
    """What rules the rule out on its own, without any priority-1 rule or VM held on its host,
    for "yields to"; else "". ``allowed``: compatibility itself (host states and the migration
    tests). Affinity: no host all its VMs may use; anti-affinity: fewer usable hosts than VMs, or
    no distinct host for each; VM-to-host: a VM breaking it has no host the rule allows."""
    if rule.kind is RuleKind.VM_HOST:
        accepted = instance.accepted_hosts(rule)
        blocked = [vm for vm in violating if not (allowed[instance.vm_index[vm]] & accepted).any()]
        return f"compatibility (no allowed host satisfies it for {', '.join(blocked)})" if blocked else ""
    if can_hold_together(instance, [rule], allowed):
        return ""
    if rule.kind is RuleKind.AFFINITY:
        return "compatibility (no host all its VMs may use)"
    usable = sum(h.state in (HostState.UP, HostState.STANDBY) for h in instance.hosts)
    if usable < len(rule.vms):
        return f"the number of hosts ({len(rule.vms)} VMs to keep apart, {usable} usable host(s))"
    return "compatibility (no distinct host for each of its VMs)"


def _least_moves_to_mend(
    instance: Instance,
    rule: Rule,
    violating: tuple[str, ...],
    placement: Mapping[str, str],
    compat: Compatibility,
) -> int:
    """The fewest budgeted moves that could mend ``rule``, capacity aside: every VM off the host
    most of an affinity rule's VMs share; all but one VM per host of an anti-affinity rule; each
    violating VM of a VM-to-host rule. A new VM (placed, not moved) or one that must leave its
    host anyway costs the budget nothing, so only the others count."""

    def budgeted(name: str) -> bool:
        """Moving it would spend the budget: it sits on its own host, which it may keep (a VM
        the plan moved already spends it, wherever it goes)."""
        vm = instance.vm(name)
        return vm.host is not None and placement.get(name) == vm.host and compat.is_allowed(name, vm.host)

    hosts = [placement[vm] for vm in rule.vms if vm in placement and budgeted(vm)]
    if rule.kind is RuleKind.AFFINITY:
        return len(hosts) - max((hosts.count(h) for h in set(hosts)), default=0)
    if rule.kind is RuleKind.ANTI_AFFINITY:
        return len(hosts) - len(set(hosts))
    return sum(1 for vm in violating if budgeted(vm))


def _room_beside_held(
    instance: Instance,
    rule: Rule,
    violating: tuple[str, ...],
    allowed: BoolArray,
    placement: Mapping[str, str],
    why_held: Callable[[str], str],
) -> bool:
    """Whether the rule could hold where the VMs no plan moves leave room, all other VMs aside:
    no budget mends a rule that even an empty cluster but for them cannot keep (an affinity
    partner pinned on a host too small for the pair). Affinity: a host all its VMs may use with
    room for the members not held there; anti-affinity: a distinct such host for each member;
    VM-to-host: one the rule allows for each VM breaking it."""
    held_on = np.full(instance.num_vms, NO_HOST, dtype=np.int64)
    for i, vm in enumerate(instance.vms):
        if vm.host is not None and placement.get(vm.name) == vm.host and why_held(vm.name):
            held_on[i] = instance.host_index[vm.host]
    held = host_loads(instance, held_on)

    def room_for(vms: list[int]) -> BoolArray:
        """The hosts with room for ``vms`` together, beside the held VMs (those of ``vms`` held
        there already count in the room)."""
        moving = [v for v in vms if held_on[v] == NO_HOST]
        cpu = held.cpu_demand_mhz + instance.vm_cpu_demand_mhz[moving].sum()
        return _within_capacity(
            instance, cpu, held.memory_configured_mib + instance.vm_memory_mib[moving].sum()
        )

    if rule.kind is RuleKind.AFFINITY:
        rows = [instance.vm_index[vm] for vm in rule.vms]
        return bool((allowed[rows].all(axis=0) & room_for(rows)).any())
    names = violating if rule.kind is RuleKind.VM_HOST else rule.vms
    roomy = allowed.copy()
    for name in names:
        i = instance.vm_index[name]
        roomy[i] &= room_for([i]) | (
            np.arange(instance.num_hosts) == instance.host_index.get(placement.get(name, ""), -1)
        )
    if rule.kind is RuleKind.VM_HOST:
        return can_hold_together(instance, [replace(rule, vms=tuple(violating))], roomy)
    return can_hold_together(instance, [rule], roomy)


def _within_capacity(instance: Instance, cpu_mhz: IntArray, memory_mib: IntArray) -> BoolArray:
    """The hosts whose load (CPU demand, configured memory per host) is within capacity, as the
    checker counts it."""
    within: BoolArray = ~(cpu_over(instance, cpu_mhz) | memory_over(instance, memory_mib))
    return within


def _fixed_members(
    instance: Instance,
    rule: Rule,
    violating: tuple[str, ...],
    placement: Mapping[str, str],
    why_held: Callable[[str], str],
) -> str:
    """The VMs no plan moves for a rule (pinned, devices, DRS off, kept in place, or a migration
    that is not safe: ``why_held``) that on their own keep it broken, and why, for "yields to";
    else "". On their own: affinity members held on different hosts, anti-affinity members held
    on one host, a VM held on the wrong side of a VM-to-host rule."""
    reasons: dict[str, str] = {}

    def held(name: str) -> bool:
        vm = instance.vm(name)
        if vm.host is None or placement.get(name) != vm.host:
            return False  # placed or moved by this plan: where it ends was the plan's choice
        why = why_held(name)
        if why:
            reasons[name] = why
        return bool(why)

    if rule.kind is RuleKind.VM_HOST:
        blamed = [name for name in violating if held(name)]
    else:
        hosts: dict[str, list[str]] = {}
        for name in rule.vms:
            if name in placement and held(name):
                hosts.setdefault(placement[name], []).append(name)
        if rule.kind is RuleKind.AFFINITY:
            blamed = [name for names in hosts.values() for name in names] if len(hosts) > 1 else []
        else:
            blamed = [name for names in hosts.values() if len(names) > 1 for name in names]
    return ", ".join(f"{name}: {reasons[name]}" for name in blamed)


def _standby_hosts_keeping(
    instance: Instance, rule: Rule, allowed: BoolArray, host_states: Mapping[str, str], kept: set[str]
) -> list[str]:
    """The standby hosts that would keep ``rule`` where the hosts up cannot, capacity aside but
    for the standby host's own size: what the rule yields to is then host power. Empty when the
    hosts up could keep it, or when no standby host would.

    The rules of its level or higher that share its VMs hold too: the affinity rules the plan
    keeps (a partner follows its VM) and every VM-to-host rule of its VMs (a host that keeps this
    rule by breaking another of its level keeps nothing). A VM counts on a standby host only
    where it fits there, with its affinity group. One standby host is named where one suffices;
    else every one that fits, where all of them together do.
    """
    up = np.array([host_states.get(h.name) == HostState.UP.value for h in instance.hosts], dtype=np.bool_)
    standby = [i for i, h in enumerate(instance.hosts) if host_states.get(h.name) == HostState.STANDBY.value]
    members = set(rule.vms)
    # The VM's VM-to-host rules bind it whether the plan keeps them or not: moving it onto a host
    # one of them forbids would trade one broken rule for another.
    with_it = [rule] + [
        r
        for r in instance.rules
        if r is not rule
        and 1 < r.priority <= rule.priority
        and members & set(r.vms)
        and (r.kind is RuleKind.VM_HOST or (r.kind is RuleKind.AFFINITY and r.name in kept))
    ]
    if not standby or can_hold_together(instance, with_it, allowed & up[None, :]):
        return []
    groups = {vm: list(r.vms) for r in with_it if r.kind is RuleKind.AFFINITY for vm in r.vms}
    fitting = allowed.copy()
    for name in {vm for r in with_it for vm in r.vms}:
        group = [instance.vm_index[n] for n in groups.get(name, [name])]
        # A standby host is empty: the group fits where its load alone is within capacity.
        cpu = np.full(instance.num_hosts, instance.vm_cpu_demand_mhz[group].sum())
        memory = np.full(instance.num_hosts, instance.vm_memory_mib[group].sum())
        fitting[instance.vm_index[name], standby] &= _within_capacity(instance, cpu, memory)[standby]

    def keeps(hosts: list[int]) -> bool:
        usable = up.copy()
        usable[hosts] = True
        return can_hold_together(instance, with_it, fitting & usable[None, :])

    alone = [h for h in standby if keeps([h])]
    if alone:
        return [instance.hosts[h].name for h in alone]
    useful = [h for h in standby if fitting[:, h].any()]
    return [instance.hosts[h].name for h in useful] if useful and keeps(useful) else []

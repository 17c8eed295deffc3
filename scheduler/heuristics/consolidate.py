"""Greedy host emptying from today's placement: the warm start of the DPM level.

Description
    Take the powered-on hosts in turn (least loaded first, or smallest first: the better of the
    two passes is kept; hosts on standby today before those up); for each, try to move all its
    VMs to the other hosts that stay on (best fit: the host fullest in its tightest dimension
    that still takes the VM within capacity and the DPM high target, among the hosts its
    priority-3 rules accept if any); if every VM finds a place, the host goes to standby,
    otherwise nothing of it moves. Unlike first-fit-decreasing it starts from where the VMs are,
    so it moves only what emptying a host needs, and it cannot strand a large VM.

    Near the end the room left is in pieces: many hosts a few GiB short of a large VM, and free
    configured memory stranded on hosts whose CPU is at the high target while hosts with free
    CPU have no memory left. So a VM that fits nowhere gets room made for it on the hosts that
    miss least: their residents that carry most of what is missing move to where they fit, or
    trade places with a VM elsewhere that carries less of it (a CPU-heavy VM for a CPU-light one
    of the same memory frees CPU on one host without taking memory on the other). On 128 hosts
    x 10,000 VMs this reaches the proven least number of hosts (102) where plain best fit kept
    105 on (one CPU generation) and 103 (two), in about a third of a second.
Requirements
    A feasible starting assignment and ``allowed`` (compatibility and priority-1 rules).
Limitations
    Priority-2 rules outrank DPM: an affinity group moves only as a whole (a host holding part of
    a split group stays on) and anti-affinity partners are never put together; ``min_hosts_on``
    is respected; hosts holding VMs that may not move stay on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.state import LoadState, high_target_limits, partner_hosts, rule_groups
from scheduler.model import HostState, Instance, RuleKind

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

ROOM_TARGETS = 3  # hosts tried per VM that fits nowhere as things are
MAX_EJECTED = 64  # residents looked at per host, smallest first
MAX_TRADES = 8  # trades tried per host (each a search over every VM)


def empty_hosts(
    instance: Instance,
    assignment: IntArray,
    on_mask: BoolArray,
    allowed: BoolArray,
    movable: BoolArray,
    high_target: float,
    min_hosts_on: int,
    decidable: BoolArray,
) -> tuple[IntArray, BoolArray]:
    """Switch off as many ``decidable`` hosts as greedy emptying allows; returns (assignment, on).

    Two orders are tried and the one that leaves fewer hosts on wins (the first on a tie): least
    loaded first, which moves the least; and smallest first (configured-memory capacity, then
    load), which keeps the large hosts on when capacity, not load, is what runs out. In both,
    hosts on standby today come before those up.
    """
    utilization = LoadState(instance, assignment).cpu / instance.host_cpu_mhz
    # Hosts on standby today first: one left off needs no boot, where an up host emptied in its
    # place would go down while the standby one comes up.
    up_today = np.array([h.state is HostState.UP for h in instance.hosts])
    orders = (
        np.lexsort((utilization, up_today)),
        np.lexsort((utilization, instance.host_memory_admission_mib, up_today)),
    )
    rules = _Rules(
        should_ok=_should_rules_ok(instance),
        anti=rule_groups(instance, RuleKind.ANTI_AFFINITY),
        group=rule_groups(instance, RuleKind.AFFINITY),
    )
    best: tuple[IntArray, BoolArray] | None = None
    for order in orders:
        result = _empty_in_order(
            instance,
            assignment,
            on_mask,
            allowed,
            movable,
            high_target,
            min_hosts_on,
            decidable,
            order,
            rules,
        )
        if best is None or int(result[1].sum()) < int(best[1].sum()):
            best = result
    assert best is not None
    return best


def _empty_in_order(
    instance: Instance,
    assignment: IntArray,
    on_mask: BoolArray,
    allowed: BoolArray,
    movable: BoolArray,
    high_target: float,
    min_hosts_on: int,
    decidable: BoolArray,
    order: npt.NDArray[np.intp],
    rules: _Rules,
) -> tuple[IntArray, BoolArray]:
    """One greedy emptying pass, trying the hosts in ``order``."""
    packer = _Packer(instance, assignment, on_mask.copy(), allowed, movable, high_target, rules)
    state, on = packer.state, packer.on
    # An affinity group moves as one unit, and only when all of it sits on the host being emptied
    # (priority-2 rules outrank DPM: the group must stay together).
    for h in order:
        if not (on[h] and decidable[h]) or int(on.sum()) <= min_hosts_on:
            continue
        residents = np.flatnonzero(state.assignment == h)
        units = _units(residents, rules.group, state.assignment, int(h))
        if units is None or not all(movable[u].all() for u in units) or not packer.room_for_all(int(h)):
            continue
        journal: list[tuple[int, int]] = []
        on[h] = False
        units.sort(key=lambda u: -int(instance.vm_memory_mib[u].sum()))
        for unit in units:
            target = packer.best_fit(unit)
            if target is not None and packer.breaks_rules(unit, target, int(h)):
                # Room made where the unit's priority-3 rules hold beats a host that breaks one.
                roomy = packer.make_room(unit, journal, keep_rules=True)
                target = target if roomy is None else roomy
            if target is None:
                target = packer.make_room(unit, journal)
            if target is None:
                break
            packer.move(unit, target, journal)
        else:
            packer.settle(journal)
            continue
        packer.undo(journal)  # the host stays on
        on[h] = True
    return state.assignment, on


class _Packer:
    """Loads, limits and rules of one emptying pass, with moves that can be undone."""

    def __init__(
        self,
        instance: Instance,
        assignment: IntArray,
        on: BoolArray,
        allowed: BoolArray,
        movable: BoolArray,
        high_target: float,
        rules: _Rules,
    ) -> None:
        self.instance = instance
        self.state = LoadState(instance, assignment)
        self.on = on
        self.allowed = allowed
        self.rules = rules
        self.cpu_limit, self.dem_limit = high_target_limits(instance, high_target)
        # What may be moved aside to make room: movable VMs outside affinity groups (a group moves
        # only as a whole, with the host it empties).
        self.ejectable = movable & (rules.group < 0)
        # Trade partners also stay outside anti-affinity rules: one check fewer per candidate.
        self.tradable = self.ejectable & (rules.anti < 0)
        self.sizes = np.vstack(
            [instance.vm_cpu_demand_mhz, instance.vm_memory_mib, instance.vm_memory_demand_mib]
        ).astype(np.float64)  # [dimension, vm]
        self.moved = np.zeros(instance.num_vms, dtype=np.bool_)  # in the journal of this emptying

    def room_for_all(self, host: int) -> bool:
        """Whether the other hosts on have, together, the room for what ``host`` holds, in every
        dimension (compatibility aside): when not, no emptying of it can succeed."""
        others = self.on.copy()
        others[host] = False
        loads, limits = self._loads(slice(None)), self._limits(slice(None))
        free = np.maximum(limits[:, others] - loads[:, others], 0.0).sum(axis=1)
        return bool(np.all(free >= loads[:, host]))

    def _loads(self, hosts: IntArray | slice) -> FloatArray:
        """CPU demand, configured memory and memory demand [dimension, host] at ``hosts``."""
        state = self.state
        return np.vstack([state.cpu[hosts], state.mem_config[hosts], state.mem_demand[hosts]]).astype(
            np.float64
        )

    def _limits(self, hosts: IntArray | slice) -> FloatArray:
        """What ``hosts`` may hold [dimension, host]: DPM's high target for CPU and memory demand,
        the admission limit for configured memory."""
        return np.vstack(
            [self.cpu_limit[hosts], self.state.mem_capacity[hosts], self.dem_limit[hosts]]
        ).astype(np.float64)

    def _open_to(self, unit: IntArray) -> BoolArray:
        """Hosts on that ``unit`` may use at all: compatibility and anti-affinity partners."""
        hosts = self.on & self.allowed[unit].all(axis=0)
        for v in unit:
            hosts[partner_hosts(self.rules.anti, self.state.assignment, int(v))] = False
        return np.asarray(hosts, dtype=np.bool_)

    def _fits(self, unit: IntArray) -> BoolArray:
        """Hosts on that take all of ``unit`` now, within capacity and the high target."""
        cpu, mem_config, mem_demand = self.sizes[:, unit].sum(axis=1)
        within = self.state.admits(slice(None), cpu, mem_config, mem_demand, self.cpu_limit, self.dem_limit)
        return np.asarray(self._open_to(unit) & within, dtype=np.bool_)

    def _fullness(self) -> FloatArray:
        """Each host's load in its tightest dimension, as a share of what it may hold."""
        loads, limits = self._loads(slice(None)), self._limits(slice(None))
        # A limit of 0 (a 1 MHz host held to a high target rounds down to it): full if loaded.
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(limits > 0, loads / limits, np.where(loads > 0, np.inf, 0.0))
        return np.asarray(share.max(axis=0), dtype=np.float64)

    def best_fit(self, unit: IntArray, avoid: int | None = None) -> int | None:
        """The host fullest in its tightest dimension that takes ``unit``, preferring those its
        priority-3 rules accept; None when none does. ``avoid`` is a host the unit leaves to
        make room: it must land where its priority-3 rules hold if they hold there (moving aside
        is never worth breaking one).

        Best fit on the tightest dimension (often configured memory, not CPU) keeps the other
        hosts free to empty; the priority-3 preference matters because DPM outranks those rules,
        but breaking one needlessly would leave the P3 level to mend it."""
        fits = self._fits(unit)
        if avoid is not None:
            fits[avoid] = False
            keeps: BoolArray = np.asarray(self.rules.should_ok[unit].all(axis=0), dtype=np.bool_)
            if keeps[avoid]:
                fits &= keeps
        if not fits.any():
            return None
        preferred = self._fullness() + 2.0 * self.rules.should_ok[unit].all(axis=0)
        return int(np.argmax(np.where(fits, preferred, -np.inf)))

    def breaks_rules(self, unit: IntArray, target: int, home: int) -> bool:
        """Whether moving ``unit`` from ``home`` to ``target`` breaks a priority-3 rule of it."""
        keeps = self.rules.should_ok[unit]
        return bool(keeps[:, home].all() and not keeps[:, target].all())

    def make_room(
        self, unit: IntArray, journal: list[tuple[int, int]], *, keep_rules: bool = False
    ) -> int | None:
        """A host for ``unit`` once small VMs of it have moved to where they fit: the hosts that
        miss least are tried first (only those its priority-3 rules accept with ``keep_rules``),
        and a host is given up (its VMs put back) when its movable residents cannot cover what
        is missing. Returns the host, or None.

        Near the end of emptying, the gaps left on the other hosts are smaller than the largest
        VMs still to place, though together they hold them: moving a few small VMs aside turns
        many small gaps into one large one."""
        need = self.sizes[:, unit].sum(axis=1)
        limits = self._limits(slice(None))
        missing = np.maximum(self._loads(slice(None)) + need[:, None] - limits, 0.0)  # [dimension, host]
        hosts = self._open_to(unit)
        if keep_rules:
            hosts &= self.rules.should_ok[unit].all(axis=0)
        if not hosts.any():
            return None
        shortfall = (missing / np.maximum(limits, 1.0)).sum(axis=0)
        candidates = np.flatnonzero(hosts)
        for target in candidates[np.argsort(shortfall[candidates], kind="stable")][:ROOM_TARGETS]:
            mark = len(journal)
            if self._clear(int(target), missing[:, target].copy(), journal):
                return int(target)
            self.undo(journal[mark:])
            del journal[mark:]
        return None

    def _clear(self, target: int, missing: FloatArray, journal: list[tuple[int, int]]) -> bool:
        """Move residents of ``target`` (those that carry most of what is still missing first) to
        hosts that take them, or trade them for VMs that carry less of it, until nothing is
        missing. Returns whether nothing is."""
        residents = np.flatnonzero((self.state.assignment == target) & self.ejectable & ~self.moved)
        share = self.sizes[:, residents] / np.maximum(self._limits(np.array([target])), 1.0)
        # Most of what is missing for the least moved: a VM's share of the missing dimensions
        # over its share of all of them, then the smaller first. (Trying first the smallest VM
        # that covers the gap alone made more moves on 128 hosts x 10,000 VMs and took 4-7x as
        # long: what it leaves missing elsewhere is found later, at greater cost.)
        total = share.sum(axis=0)
        useful = (share * (missing > 0)[:, None]).sum(axis=0)
        residents = residents[np.lexsort((total, -useful / np.maximum(total, 1e-12)))]
        trades = 0
        # What this emptying moved stays where it went (``self.moved``): no moving in circles.
        for v in residents[:MAX_EJECTED]:
            if not np.any(missing > 0):
                break
            size = self.sizes[:, v]
            if not np.any((missing > 0) & (size > 0)):
                continue
            elsewhere = self.best_fit(np.array([v]), avoid=target)
            if elsewhere is not None:
                self.move(np.array([v]), elsewhere, journal)
                missing -= size
                continue
            if trades >= MAX_TRADES:
                continue
            trades += 1
            swap = self._trade_partner(int(v), target, missing)
            if swap is None:
                continue
            partner, partner_host = swap
            self.move(np.array([v]), partner_host, journal)
            self.move(np.array([partner]), target, journal)
            missing -= size - self.sizes[:, partner]
        return not np.any(missing > 0)

    def _trade_partner(self, vm: int, target: int, missing: FloatArray) -> tuple[int, int] | None:
        """A VM elsewhere to trade places with ``vm`` (leaving ``target``) so that less is missing
        at ``target``, both hosts within their limits after the trade: the one that leaves least
        missing, with its host. Where one host's free configured memory is stranded beside a
        full CPU and another's free CPU beside full memory, trading a CPU-heavy VM for a
        CPU-light one of the same memory frees both (VM memory sizes come in a few steps)."""
        assignment, should_ok = self.state.assignment, self.rules.should_ok
        # Partners the trade keeps within their priority-3 rules, as ``best_fit`` prefers.
        candidates = self.tradable & ~self.moved & self.allowed[:, target] & should_ok[:, target]
        candidates &= (assignment >= 0) & (assignment != target)
        others = np.flatnonzero(candidates)
        others = others[self.on[assignment[others]]]
        hosts = assignment[others]
        ok = self.allowed[vm, hosts] & ~np.isin(hosts, partner_hosts(self.rules.anti, assignment, vm))
        ok &= should_ok[vm, hosts] | ~should_ok[vm, target]
        size_v = self.sizes[:, [vm]]
        sizes = self.sizes[:, others]
        cpu, mem_config, mem_demand = size_v - sizes  # what each partner's host gains
        ok &= self.state.admits(hosts, cpu, mem_config, mem_demand, self.cpu_limit, self.dem_limit)
        if not ok.any():
            return None
        scale = np.maximum(self._limits(np.array([target])), 1.0)
        left = (np.maximum(missing[:, None] - size_v + sizes, 0.0) / scale).sum(axis=0)
        now = float((np.maximum(missing[:, None], 0.0) / scale).sum())
        score = np.where(ok, left, np.inf)
        best = int(np.argmin(score))
        if not score[best] < now - 1e-12:
            return None
        return int(others[best]), int(hosts[best])

    def move(self, unit: IntArray, target: int, journal: list[tuple[int, int]]) -> None:
        for v in unit:
            journal.append((int(v), int(self.state.assignment[v])))
            self.state.move(int(v), target)
            self.moved[v] = True

    def undo(self, journal: list[tuple[int, int]]) -> None:
        for v, origin in reversed(journal):
            self.state.move(v, origin)
            self.moved[v] = False

    def settle(self, journal: list[tuple[int, int]]) -> None:
        """Keep the moves of an emptying that succeeded; the next one may move those VMs again."""
        for v, _ in journal:
            self.moved[v] = False


@dataclass(frozen=True, slots=True)
class _Rules:
    """What the rules say, computed once for both emptying orders."""

    should_ok: BoolArray  # [vm, host] the VM's priority-3 rules accept the host
    anti: IntArray  # per VM, its anti-affinity rule or -1
    group: IntArray  # per VM, its affinity rule or -1


def _should_rules_ok(instance: Instance) -> BoolArray:
    """ok[vm, host]: whether the VM on the host keeps every priority-3 (should / should-not) rule."""
    ok = np.ones((instance.num_vms, instance.num_hosts), dtype=np.bool_)
    for rule in instance.rules:
        if rule.priority != 3:
            continue
        members = [instance.vm_index[name] for name in rule.vms]
        ok[members] &= instance.accepted_hosts(rule)
    return ok


def _units(residents: IntArray, group: IntArray, assignment: IntArray, host: int) -> list[IntArray] | None:
    """The residents of ``host`` as moving units: single VMs, and whole affinity groups; None when
    a group is split across hosts (it stays where it is)."""
    units: list[IntArray] = []
    for g in np.unique(group[residents]):
        members = residents[group[residents] == g]
        if g < 0:
            units += [members[i : i + 1] for i in range(len(members))]
        elif np.all(assignment[group == g] == host):
            units.append(members)
        else:
            return None
    return units

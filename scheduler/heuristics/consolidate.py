"""Greedy host emptying from today's placement: the warm start of the DPM level.

Description
    Take the powered-on hosts in turn (least loaded first, or smallest first: the better of the two
    passes is kept); for each, try to move all its VMs to the other hosts that stay on (best fit:
    the host fullest in its tightest dimension that still takes the VM within capacity and the DPM
    high target, among the hosts its priority-3 rules accept if any); if every VM finds a place,
    the host goes to standby, otherwise nothing of it moves. Unlike first-fit-decreasing it starts
    from where the VMs are, so it moves only what emptying a host needs, and it cannot strand a
    large VM.
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
from scheduler.model import Instance, RuleKind

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


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
    load), which keeps the large hosts on when capacity, not load, is what runs out.
    """
    utilization = LoadState(instance, assignment).cpu / instance.host_cpu_mhz
    orders = (
        np.argsort(utilization, kind="stable"),
        np.lexsort((utilization, instance.host_memory_admission_mib)),
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
    should_ok, anti, group = rules.should_ok, rules.anti, rules.group
    state = LoadState(instance, assignment)
    on = on_mask.copy()
    cpu_limit, dem_limit = high_target_limits(instance, high_target)
    # An affinity group moves as one unit, and only when all of it sits on the host being emptied
    # (priority-2 rules outrank DPM: the group must stay together).
    for h in order:
        if not (on[h] and decidable[h]) or int(on.sum()) <= min_hosts_on:
            continue
        residents = np.flatnonzero(state.assignment == h)
        units = _units(residents, group, state.assignment, int(h))
        if units is None or not all(movable[u].all() for u in units):
            continue
        moves: list[tuple[int, int]] = []
        on[h] = False
        units.sort(key=lambda u: -int(instance.vm_memory_mib[u].sum()))
        for unit in units:
            fits = on & allowed[unit].all(axis=0)
            fits &= state.cpu + instance.vm_cpu_demand_mhz[unit].sum() <= cpu_limit
            fits &= state.mem_config + instance.vm_memory_mib[unit].sum() <= state.mem_capacity
            fits &= state.mem_demand + instance.vm_memory_demand_mib[unit].sum() <= dem_limit
            for v in unit:
                fits[partner_hosts(anti, state.assignment, v)] = False
            if not fits.any():
                break
            # Best fit on the tightest dimension (often configured memory, not CPU) keeps the
            # other hosts free to empty; a host the unit's priority-3 rules accept comes first
            # (DPM outranks them, but breaking one needlessly would leave the P3 level to mend it).
            tightest = np.maximum.reduce(
                [state.cpu / cpu_limit, state.mem_config / state.mem_capacity, state.mem_demand / dem_limit]
            )
            preferred = tightest + 2.0 * should_ok[unit].all(axis=0)
            target = int(np.argmax(np.where(fits, preferred, -np.inf)))
            for v in unit:
                moves.append((int(v), target))
                state.move(int(v), target)
        else:
            continue
        for v, _ in reversed(moves):  # undo: the host stays on
            state.move(v, int(h))
        on[h] = True
    return state.assignment, on


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

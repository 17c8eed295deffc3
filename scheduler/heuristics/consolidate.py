"""Greedy host emptying from today's placement: the warm start of the DPM level.

Description
    Take the powered-on hosts from the least to the most loaded; for each, try to move all its
    VMs to the other hosts that stay on (best fit: the fullest host that still takes the VM
    within capacity and the DPM high target); if every VM finds a place, the host goes to standby,
    otherwise nothing of it moves. Unlike first-fit-decreasing it starts from where the VMs are,
    so it moves only what emptying a host needs, and it cannot strand a large VM.
Requirements
    A feasible starting assignment and ``allowed`` (compatibility and priority-1 rules).
Limitations
    Priority-2 rules outrank DPM: an affinity group moves only as a whole (a host holding part of
    a split group stays on) and anti-affinity partners are never put together; ``min_hosts_on``
    is respected; hosts holding VMs that may not move stay on.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.state import LoadState, high_target_limits
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
    """Switch off as many ``decidable`` hosts as greedy emptying allows; returns (assignment, on)."""
    state = LoadState(instance, assignment)
    on = on_mask.copy()
    cpu_limit, dem_limit = high_target_limits(instance, high_target)
    anti = np.full(instance.num_vms, -1, dtype=np.int64)
    for g, rule in enumerate(instance.rules_of_kind(RuleKind.ANTI_AFFINITY)):
        for name in rule.vms:
            anti[instance.vm_index[name]] = g
    # An affinity group moves as one unit, and only when all of it sits on the host being emptied
    # (priority-2 rules outrank DPM: the group must stay together).
    group = np.full(instance.num_vms, -1, dtype=np.int64)
    for g, rule in enumerate(instance.rules_of_kind(RuleKind.AFFINITY)):
        for name in rule.vms:
            group[instance.vm_index[name]] = g
    order = np.argsort(state.cpu / instance.host_cpu_mhz, kind="stable")
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
                if anti[v] >= 0:
                    partners = np.flatnonzero(anti == anti[v])
                    fits[state.assignment[partners[partners != v]]] = False
            if not fits.any():
                break
            # Best fit on the tightest dimension (often configured memory, not CPU) keeps the
            # other hosts free to empty.
            tightest = np.maximum.reduce(
                [state.cpu / cpu_limit, state.mem_config / state.mem_capacity, state.mem_demand / dem_limit]
            )
            target = int(np.argmax(np.where(fits, tightest, -np.inf)))
            for v in unit:
                moves.append((int(v), target))
                state.move(int(v), target)
        else:
            continue
        for v, _ in reversed(moves):  # undo: the host stays on
            state.move(v, int(h))
        on[h] = True
    return state.assignment, on


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

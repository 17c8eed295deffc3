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
    Priority-2 rules outrank DPM, so hosts holding members of an affinity rule stay on and
    anti-affinity partners are never put together; ``min_hosts_on`` is respected; hosts holding
    VMs that may not move stay on.
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
    movable = movable.copy()
    for rule in instance.rules_of_kind(RuleKind.AFFINITY):
        for name in rule.vms:
            movable[instance.vm_index[name]] = False
    order = np.argsort(state.cpu / instance.host_cpu_mhz, kind="stable")
    for h in order:
        if not (on[h] and decidable[h]) or int(on.sum()) <= min_hosts_on:
            continue
        residents = np.flatnonzero(state.assignment == h)
        if not movable[residents].all():
            continue
        moves: list[tuple[int, int]] = []
        on[h] = False
        for v in residents[np.argsort(-instance.vm_memory_mib[residents], kind="stable")]:
            fits = (
                on
                & allowed[v]
                & (state.cpu + instance.vm_cpu_demand_mhz[v] <= cpu_limit)
                & (state.mem_config + instance.vm_memory_mib[v] <= state.mem_capacity)
                & (state.mem_demand + instance.vm_memory_demand_mib[v] <= dem_limit)
            )
            if anti[v] >= 0:
                partners = np.flatnonzero(anti == anti[v])
                fits[state.assignment[partners[partners != v]]] = False
            if not fits.any():
                break
            fullness = np.where(fits, state.cpu / instance.host_cpu_mhz, -np.inf)
            target = int(np.argmax(fullness))  # best fit keeps the other hosts free to empty
            moves.append((int(v), target))
            state.move(int(v), target)
        else:
            continue
        for v, _ in reversed(moves):  # undo: the host stays on
            state.move(v, int(h))
        on[h] = True
    return state.assignment, on

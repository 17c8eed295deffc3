"""First-fit-decreasing consolidation: the DPM baseline and the warm start of the DPM level.

Description
    Open as few hosts as possible: take VMs from the largest to the smallest and put each on the
    first already-open host where it fits under the DPM high target utilization; open the next host
    only when none fits. Hosts are opened in an order that keeps busy, currently-up hosts first
    (fewer migrations, no needless power-on), then larger ones.
Requirements
    ``allowed`` (compatibility and priority-1 rules) and the set of hosts that may run VMs.
Limitations
    Ignores priority-2 and priority-3 rules; a VM that fits nowhere makes it return ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.state import LoadState
from scheduler.model import NO_HOST, HostState, Instance

BoolArray = npt.NDArray[np.bool_]

CONSTRAINED_HOSTS = 4  # VMs allowed on at most this many hosts are packed before the others
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Consolidation:
    assignment: IntArray
    on_mask: BoolArray


def ffd_consolidate(
    instance: Instance,
    allowed: BoolArray,
    usable: BoolArray,
    high_target: float,
    *,
    fixed: BoolArray | None = None,
) -> Consolidation | None:
    """Pack every VM onto as few usable hosts as possible within ``high_target`` utilization.

    ``fixed`` VMs stay on their current host, which is therefore on.
    """
    n_hosts = instance.num_hosts
    if fixed is None:
        fixed = np.array([bool(v.immobility_reasons()) for v in instance.vms], dtype=np.bool_)
    state = LoadState(instance, np.full(instance.num_vms, NO_HOST, dtype=np.int64))
    cpu_limit = instance.host_cpu_mhz.astype(np.float64) * high_target
    mem_demand_limit = instance.host_memory_mib * high_target
    on = np.zeros(n_hosts, dtype=np.bool_)
    for v in np.flatnonzero(fixed & (instance.current_host != NO_HOST)):
        h = int(instance.current_host[v])
        state.move(int(v), h)
        on[h] = True

    was_up = np.array([h.state is HostState.UP for h in instance.hosts])
    current_load = np.bincount(
        instance.current_host[instance.current_host != NO_HOST],
        instance.vm_cpu_demand_mhz[instance.current_host != NO_HOST],
        minlength=n_hosts,
    )
    # Busy up hosts first, then larger ones: np.lexsort sorts by the last key first.
    order = np.lexsort((-instance.host_cpu_mhz, -current_load, ~was_up))
    order = order[usable[order]]

    size = np.maximum(
        instance.vm_cpu_demand_mhz / max(float(instance.host_cpu_mhz.mean()), 1.0),
        instance.vm_memory_mib / max(float(instance.host_memory_mib.mean()), 1.0),
    )
    # Constrained VMs first (few allowed hosts), then largest first: plain FFD would fill a VM's
    # only possible host with bigger, more flexible VMs and then fail.
    reach = (allowed & usable[None, :]).sum(axis=1)
    for v in np.lexsort((-size, np.minimum(reach, CONSTRAINED_HOSTS))):
        if fixed[v] and instance.current_host[v] != NO_HOST:
            continue
        fits = (
            state.fits_mask(int(v), cpu_limit)
            & (state.mem_demand + instance.vm_memory_demand_mib[v] <= mem_demand_limit)
            & allowed[v]
        )
        candidates = order[fits[order]]
        if len(candidates) == 0:
            return None
        open_candidates = candidates[on[candidates]]
        h = int(open_candidates[0]) if len(open_candidates) else int(candidates[0])
        state.move(int(v), h)
        on[h] = True
    return Consolidation(state.assignment, on)

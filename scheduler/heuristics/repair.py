"""Greedy repair of the current placement: the warm start of the optimizer.

Description
    Start from today's placement and make it feasible with as few moves as possible: VMs on hosts
    that will be off (maintenance, down, DPM), VMs whose host breaks a priority-1 rule or
    compatibility, and new VMs are placed best-fit (most headroom) on allowed hosts; hosts over
    capacity shed their cheapest VMs until they fit.
Requirements
    ``allowed`` and the on/off decision per host.
Limitations
    Rules of priority 2 and 3 are not considered; may return ``None`` when a VM fits nowhere.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.state import LoadState
from scheduler.model import NO_HOST, Instance

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def repair_placement(
    instance: Instance,
    allowed: BoolArray,
    on_mask: BoolArray,
    cost_s: FloatArray,
    *,
    movable: BoolArray | None = None,
    cpu_limit: FloatArray | None = None,
    memory_demand_limit: FloatArray | None = None,
) -> IntArray | None:
    """A feasible assignment close to the current one, or ``None`` when greedy repair fails.

    ``cpu_limit`` and ``memory_demand_limit`` (per host) tighten capacity, e.g. to DPM's high target.
    """
    if movable is None:
        movable = np.array([not v.immobility_reasons() for v in instance.vms], dtype=np.bool_)
    current = instance.current_host
    state = LoadState(instance, current)
    ok_now = np.zeros(instance.num_vms, dtype=np.bool_)
    placed = current != NO_HOST
    ok_now[placed] = on_mask[current[placed]] & allowed[np.flatnonzero(placed), current[placed]]
    must_move = ~ok_now & (movable | ~placed)
    for v in np.flatnonzero(must_move):
        state.move(int(v), NO_HOST)

    def place(v: int) -> bool:
        fits = state.fits_mask(v, cpu_limit) & allowed[v] & on_mask
        if memory_demand_limit is not None:
            fits &= state.mem_demand + instance.vm_memory_demand_mib[v] <= memory_demand_limit
        if state.assignment[v] != NO_HOST:
            fits[state.assignment[v]] = False
        if not fits.any():
            return False
        cap = state.cpu_capacity if cpu_limit is None else cpu_limit
        headroom = (cap - state.cpu) / np.maximum(cap, 1.0) + (
            state.mem_capacity - state.mem_config
        ) / np.maximum(state.mem_capacity, 1.0)
        headroom[~fits] = -np.inf
        state.move(v, int(np.argmax(headroom)))
        return True

    big_first = np.argsort(-instance.vm_memory_mib[must_move], kind="stable")
    for v in np.flatnonzero(must_move)[big_first]:
        if not place(int(v)):
            return None

    cap = state.cpu_capacity if cpu_limit is None else cpu_limit
    dem = np.full(instance.num_hosts, np.inf) if memory_demand_limit is None else memory_demand_limit

    def over(h: int) -> bool:
        return bool(
            state.cpu[h] > cap[h]
            or state.mem_config[h] > state.mem_capacity[h]
            or state.mem_demand[h] > dem[h]
        )

    for h in range(instance.num_hosts):
        if not over(h):
            continue
        residents = np.flatnonzero((state.assignment == h) & movable)
        for v in residents[np.argsort(cost_s[residents], kind="stable")]:
            if not over(h):
                break
            place(int(v))
        if over(h):
            return None
    return state.assignment

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

from scheduler.heuristics.state import LoadState, displaced
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
    must_move = displaced(instance, allowed, on_mask) & (movable | (current == NO_HOST))
    for v in np.flatnonzero(must_move):
        state.move(int(v), NO_HOST)

    def fits(v: int) -> BoolArray:
        """The hosts ``v`` fits on now, within the limits."""
        mask = state.fits_mask(v, cpu_limit) & allowed[v] & on_mask
        if memory_demand_limit is not None:
            mask &= state.mem_demand + instance.vm_memory_demand_mib[v] <= memory_demand_limit
        return np.asarray(mask, dtype=np.bool_)

    def place(v: int) -> bool:
        ok = fits(v)
        if state.assignment[v] != NO_HOST:
            ok[state.assignment[v]] = False
        if not ok.any():
            return False
        cap = state.cpu_capacity if cpu_limit is None else cpu_limit
        headroom = (cap - state.cpu) / np.maximum(cap, 1.0) + (
            state.mem_capacity - state.mem_config
        ) / np.maximum(state.mem_capacity, 1.0)
        headroom[~ok] = -np.inf
        state.move(v, int(np.argmax(headroom)))
        return True

    elsewhere = (allowed & on_mask).sum(axis=1) > 1  # a VM held to one host cannot make room

    def make_room(v: int) -> list[int]:
        """Put ``v`` on one of its hosts by sending that host's cheapest movable residents away
        (a new VM held to one host by a rule can find it full of VMs that could go anywhere).
        Returns the evicted, still to be placed; [] when no host can be freed enough."""
        for h in np.flatnonzero(allowed[v] & on_mask):
            residents = np.flatnonzero((state.assignment == h) & movable & ~must_move & elsewhere)
            evicted: list[int] = []
            for r in residents[np.argsort(cost_s[residents], kind="stable")]:
                if fits(v)[h]:
                    break
                state.move(int(r), NO_HOST)
                evicted.append(int(r))
            if evicted and fits(v)[h]:
                state.move(v, int(h))
                return evicted
            for r in evicted:  # not enough room here: put them back
                state.move(r, int(h))
        return []

    big_first = np.argsort(-instance.vm_memory_mib[must_move], kind="stable")
    for v in np.flatnonzero(must_move)[big_first]:
        if place(int(v)):
            continue
        evicted = make_room(int(v))
        if not evicted or not all(place(r) for r in evicted):
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

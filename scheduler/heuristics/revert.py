"""Undo the moves the balance does not need: the last step of the migration-cost level.

Description
    Once the DRS level has brought each measured resource's imbalance (standard deviation of host
    utilization) to its value, some moves made on the way no longer matter for it: local search
    overshoots, and greedy steps get undone by later ones. Take the moved VMs from the most
    expensive migration down, and send each back to its current host whenever capacity, the DPM
    target and every resource's imbalance limit still hold.
Requirements
    The assignment must be feasible; ``movable`` excludes VMs whose position other levels decided
    (rule members, mandatory moves).
Limitations
    One VM at a time (no swaps); O(1) per try from running sums of utilization.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.balance import capacity_matrix, demand_matrix, resource_utilization
from scheduler.heuristics.state import LoadState
from scheduler.model import NO_HOST, Instance

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def revert_unneeded_moves(
    instance: Instance,
    assignment: IntArray,
    allowed: BoolArray,
    on_mask: BoolArray,
    resources: tuple[str, ...],
    imbalance_limit: FloatArray,
    cost_s: FloatArray,
    movable: BoolArray,
    *,
    cpu_limit: FloatArray | None = None,
    memory_demand_limit: FloatArray | None = None,
) -> IntArray:
    """Send moved VMs home, most expensive first, while each resource's std-dev stays ≤ its limit."""
    state = LoadState(instance, assignment)
    origin = instance.current_host
    demand = demand_matrix(state, resources)
    capacity = capacity_matrix(state, resources)
    n_on = int(on_mask.sum())
    if n_on == 0:
        return state.assignment
    u = resource_utilization(state, resources)
    s1 = u[:, on_mask].sum(axis=1)
    s2 = (u[:, on_mask] ** 2).sum(axis=1)
    cpu_cap = state.cpu_capacity if cpu_limit is None else cpu_limit
    moved = np.flatnonzero((origin != NO_HOST) & (state.assignment != origin) & movable)
    for v in moved[np.argsort(-cost_s[moved], kind="stable")]:
        home, here = int(origin[v]), int(state.assignment[v])
        if not (on_mask[home] and allowed[v, home]):
            continue
        if state.cpu[home] + instance.vm_cpu_demand_mhz[v] > cpu_cap[home]:
            continue
        if state.mem_config[home] + instance.vm_memory_mib[v] > state.mem_capacity[home]:
            continue
        if (
            memory_demand_limit is not None
            and state.mem_demand[home] + instance.vm_memory_demand_mib[v] > memory_demand_limit[home]
        ):
            continue
        d_here = demand[:, v] / capacity[:, here]
        d_home = demand[:, v] / capacity[:, home]
        u_here, u_home = u[:, here], u[:, home]
        new_s2 = s2 - u_here**2 + (u_here - d_here) ** 2 - u_home**2 + (u_home + d_home) ** 2
        new_s1 = s1 - d_here + d_home
        std = np.sqrt(np.maximum(new_s2 / n_on - (new_s1 / n_on) ** 2, 0.0))
        if np.any(std > imbalance_limit):
            continue
        state.move(int(v), home)
        u[:, here] -= d_here
        u[:, home] += d_home
        s1, s2 = new_s1, new_s2
    return state.assignment

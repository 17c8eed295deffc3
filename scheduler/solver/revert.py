"""Undo the moves the balance does not need: a greedy step of the migration-cost level.

Description
    After the DRS level has been fixed at its value (the variance excess of ``balance.py``), some
    moves made on the way may no longer matter for it: local search overshoots, and within the
    tolerance the excess is zero whatever the variance. Take the moved VMs from the most
    expensive migration down and send each back to its current host whenever capacity, the DPM
    target, the fixed DRS level and the peak host utilization still hold.
Requirements
    A feasible assignment; ``movable`` excludes VMs whose position an earlier level decided (rule
    members, mandatory moves).
Limitations
    One VM at a time (no swaps); each try is O(resources) from incrementally kept loads.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.state import LoadState, high_target_limits
from scheduler.model import NO_HOST
from scheduler.solver.balance import BalancePenalty
from scheduler.solver.problem import Problem

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


def drop_unneeded_moves(
    problem: Problem,
    assignment: IntArray,
    on_mask: BoolArray,
    penalty: BalancePenalty,
    movable: BoolArray,
) -> IntArray:
    """Send moved VMs home, most expensive first, keeping the DRS level at most its current value."""
    inst = problem.instance
    state = LoadState(inst, assignment)
    origin = inst.current_host
    loads, raw = penalty.loads(assignment), penalty.raw_loads(assignment)
    f = penalty.penalty_of_loads(loads)
    totals = f.sum(axis=1)
    limit = penalty.value_of_loads(loads, raw)
    over = penalty.overshoot_of_raw(raw)
    over_total = int(over.sum())
    peak = np.where(on_mask[None, :], loads / np.maximum(penalty.capacity, 1), 0).max(axis=1)
    high = problem.dpm_high
    cpu_cap, dem_cap = (
        (state.cpu_capacity.astype(np.float64), None) if high is None else high_target_limits(inst, high)
    )
    moved = np.flatnonzero((origin != NO_HOST) & (state.assignment != origin) & movable)
    for v in moved[np.argsort(-problem.cost_s[moved], kind="stable")]:
        home, here = int(origin[v]), int(state.assignment[v])
        if not (on_mask[home] and problem.allowed[v, home]):
            continue
        if state.cpu[home] + inst.vm_cpu_demand_mhz[v] > cpu_cap[home]:
            continue
        if state.mem_config[home] + inst.vm_memory_mib[v] > state.mem_capacity[home]:
            continue
        if dem_cap is not None and state.mem_demand[home] + inst.vm_memory_demand_mib[v] > dem_cap[home]:
            continue
        pair = np.array([here, home], dtype=np.int64)
        shift = np.array([-1, 1])
        new_loads = loads[:, pair] + penalty.demand[:, [v]] * shift
        new_raw = raw[:, pair] + penalty.raw_demand[:, [v]] * shift
        if np.any(new_loads[:, 1] / np.maximum(penalty.capacity[:, home], 1) > peak):
            continue  # never make the hottest host hotter: the peak is what operators watch
        new_f = np.vstack(
            [penalty.penalty_at(r, pair, new_loads[r] - penalty.target[r, pair]) for r in range(len(totals))]
        )
        new_totals = totals - f[:, pair].sum(axis=1) + new_f.sum(axis=1)
        new_over = penalty.overshoot_at(pair, new_raw)
        new_over_total = over_total - int(over[:, pair].sum()) + int(new_over.sum())
        if int(np.maximum(new_totals - penalty.budget, 0).sum()) + new_over_total > limit:
            continue
        state.move(int(v), home)
        loads[:, pair] = new_loads
        raw[:, pair] = new_raw
        f[:, pair] = new_f
        over[:, pair] = new_over
        totals, over_total = new_totals, new_over_total
    return state.assignment

"""Pairwise exchanges for the greedy balancer: when no single move helps, trade two VMs.

Description
    A single move must fit the target whole; on a cluster whose hosts are close to each other, or
    full in one dimension (configured memory, say), no single move may lower the imbalance while
    an exchange still does: a larger VM from a hot host for a smaller one from a cooler host moves
    only the difference. For each pair of (hot source, cooler target) hosts, every exchange of a
    movable VM of one with a movable VM of the other that both sides' compatibility and limits
    allow is scored at once (numpy, from the running sums of utilization), by the imbalance it
    removes (and, with a peak cap, the overshoot above the cap), or per migration second of its
    two moves.
Requirements
    The greedy's state and limits; ``allowed`` (compatibility and priority-1 rules).
Limitations
    VMs in anti-affinity rules are left out (an exchange may not bring partners together, and
    checking both directions is not worth it here); affinity members are already not movable.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.balance import MoveSearch, host_heat
from scheduler.heuristics.state import LoadState

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MIN_BENEFIT = 1e-6  # an exchange must lower the imbalance by more than rounding noise
COLD_TARGETS = 6  # cooler hosts examined per source
MAX_PER_HOST = 120  # candidates per host side: the cheapest per unit of demand first


def best_swap(
    search: MoveSearch, u: FloatArray, sources: IntArray, movable: BoolArray
) -> tuple[int, int, int, int] | None:
    """The best exchange (vm a on s → t, vm b on t → s) as (a, t, b, s), or None if none helps;
    ``u`` is the utilization [resource, host] now."""
    state, demand, capacity = search.state, search.demand, search.capacity
    on_mask, allowed, cost_s, limits = search.on_mask, search.allowed, search.cost_s, search.limits
    inst = state.instance
    n, s1, s2, spread_now = search.sums(u)
    std_now = float(spread_now)
    heat = host_heat(u, on_mask)
    best_score, best = 0.0, None
    for src in sources:
        # Cooler hosts the source's VMs may reach, coldest first.
        residents = _candidates(state, int(src), movable, demand, cost_s)
        if len(residents) == 0:
            continue
        reach = allowed[residents].any(axis=0) & on_mask & (heat < heat[src])
        reach[src] = False
        targets = np.flatnonzero(reach)
        targets = targets[np.argsort(heat[targets])][:COLD_TARGETS]
        for tgt in targets:
            others = _candidates(state, int(tgt), movable, demand, cost_s)
            if len(others) == 0:
                continue
            a, b = residents[:, None], others[None, :]
            ok = allowed[a, int(tgt)] & allowed[b, int(src)]
            d_cpu = inst.vm_cpu_demand_mhz[a] - inst.vm_cpu_demand_mhz[b]
            d_cfg = inst.vm_memory_mib[a] - inst.vm_memory_mib[b]
            d_dem = inst.vm_memory_demand_mib[a] - inst.vm_memory_demand_mib[b]
            ok &= (state.cpu[tgt] + d_cpu <= limits[0][tgt]) & (state.cpu[src] - d_cpu <= limits[0][src])
            ok &= (state.mem_config[tgt] + d_cfg <= state.mem_capacity[tgt]) & (
                state.mem_config[src] - d_cfg <= state.mem_capacity[src]
            )
            ok &= (state.mem_demand[tgt] + d_dem <= limits[1][tgt]) & (
                state.mem_demand[src] - d_dem <= limits[1][src]
            )
            if not ok.any():
                continue
            delta = demand[:, residents][:, :, None] - demand[:, others][:, None, :]  # [r, a, b]
            u_s = u[:, src][:, None, None] - delta / capacity[:, [src]][:, :, None]
            u_t = u[:, tgt][:, None, None] + delta / capacity[:, [tgt]][:, :, None]
            new_s2 = (
                s2[:, None, None]
                - (u[:, src] ** 2)[:, None, None]
                - (u[:, tgt] ** 2)[:, None, None]
                + u_s**2
                + u_t**2
            )
            new_s1 = s1[:, None, None] + (u_s - u[:, src][:, None, None]) + (u_t - u[:, tgt][:, None, None])
            new_std = search.spread_of(n, new_s1, new_s2)  # [a, b]
            benefit = std_now - new_std
            if search.spread.peak_cap is not None:
                # The two hosts' overshoot above the peak cap changes too (as for single moves).
                overshoot = search.spread.overshoot
                benefit += overshoot(u[:, [src]]) + overshoot(u[:, [tgt]]) - overshoot(u_s) - overshoot(u_t)
            benefit = np.where(ok, benefit, -np.inf)
            if cost_s is None:
                score = benefit
            else:
                score = benefit / np.maximum(cost_s[residents][:, None] + cost_s[others][None, :], 1e-3)
            i, j = np.unravel_index(int(np.argmax(score)), score.shape)
            if benefit[i, j] > MIN_BENEFIT and score[i, j] > best_score:
                best_score = float(score[i, j])
                best = (int(residents[i]), int(tgt), int(others[j]), int(src))
    return best


def _candidates(
    state: LoadState, host: int, movable: BoolArray, demand: FloatArray, cost_s: FloatArray | None
) -> IntArray:
    """Movable VMs of ``host``, at most ``MAX_PER_HOST``: the cheapest per unit of demand."""
    vms = np.flatnonzero((state.assignment == host) & movable)
    if len(vms) <= MAX_PER_HOST or cost_s is None:
        return np.asarray(vms[:MAX_PER_HOST], dtype=np.int64)
    per_unit = cost_s[vms] / np.maximum(demand[:, vms].sum(axis=0), 1e-9)
    return np.asarray(vms[np.argsort(per_unit, kind="stable")[:MAX_PER_HOST]], dtype=np.int64)

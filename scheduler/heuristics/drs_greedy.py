"""DRS-style greedy balancing: move the best VM off the most loaded host while it helps.

Description
    The classic load-balancing loop of VMware DRS (pre-7.0) and oVirt's evenly-distributed policy:
    repeatedly evaluate every single move of a VM from one of the most loaded hosts to any other
    powered-on host, take the one that lowers the imbalance (standard deviation of host
    utilization, summed over the measured resources) the most, and stop when the cluster is within
    tolerance or no move helps.
Requirements
    A feasible starting placement (every host within capacity).
Limitations
    Rule-aware only in the hard sense: VMs in affinity rules stay put, anti-affinity partners are
    never put together, priority-1 rules and compatibility are respected through ``allowed``.
    With ``cost_s`` it ranks moves by benefit per migration second (the cost-aware variant); without
    it, by benefit alone, which nearly always picks the biggest VM.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.balance import (
    MoveSearch,
    capacity_matrix,
    demand_matrix,
    host_heat,
    imbalance,
    resource_utilization,
)
from scheduler.heuristics.spread import Spread
from scheduler.heuristics.state import LoadState, partner_hosts, rule_groups
from scheduler.heuristics.swaps import best_swap
from scheduler.interrupt import stop_requested
from scheduler.model import Instance, RuleKind

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MIN_BENEFIT = 1e-6  # a move must lower the imbalance by more than rounding noise
HOT_HOSTS_PER_STEP = 3  # sources examined per step, so one stuck host does not stop the loop


@dataclass(frozen=True, slots=True)
class GreedyResult:
    assignment: IntArray
    moves: int
    imbalance: FloatArray


def greedy_balance(
    instance: Instance,
    assignment: IntArray,
    allowed: BoolArray,
    on_mask: BoolArray,
    resources: tuple[str, ...],
    tolerance: float | FloatArray,
    *,
    movable: BoolArray | None = None,
    cost_s: FloatArray | None = None,
    max_moves: int | None = None,
    deadline: float | None = None,
    cpu_limit: FloatArray | None = None,
    memory_demand_limit: FloatArray | None = None,
    island_aware: bool = False,
    beyond_tolerance: bool = False,
    peak_cap: FloatArray | None = None,
    several_per_step: bool = False,
    target_pool: int | None = None,
) -> GreedyResult:
    """Balance ``assignment`` greedily until every measured resource's imbalance is within tolerance
    (one number, or one per resource of ``resources``).

    ``deadline`` (a ``time.monotonic()`` instant) stops the loop early with the moves made so far.
    ``cpu_limit`` / ``memory_demand_limit`` tighten what a target host may take (DPM's high target).
    ``island_aware`` also examines, each step, the most loaded hosts whose VMs may reach the least
    loaded ones: when compatibility cuts the cluster into islands (CPU generations without IMC),
    the hottest hosts of the whole cluster may all sit in an island that cannot help a cold host
    elsewhere, and the classic loop stops with that island unbalanced. It also tries pairwise
    exchanges (``heuristics.swaps``) when no single move helps.
    ``beyond_tolerance`` scores a move by the imbalance it removes beyond each resource's tolerance
    (``Σ_r max(std_r − tol_r, 0)``) instead of by the imbalance itself: once one resource is within
    its tolerance its slack is free to use, and moves that balance it further buy nothing (with
    CPU and memory both measured, that is most of the migration seconds of the last stretch).
    ``peak_cap`` (a utilization per resource) keeps going until no powered-on host is above it,
    and scores the overshoot above it first (the DRS level's peak term).
    ``several_per_step`` makes, after the best move of a step, the best moves off the other
    sources too where their hosts are disjoint and they still help (``_apply_disjoint``).
    ``target_pool`` caps the targets tried for a source's VMs: of the hosts they may go to, the
    least loaded, an equal share of the pool per measured resource. A move's benefit grows as
    its target's load falls, so on hundreds of hosts the best target is nearly always among
    them, and a step costs a fraction. With no more hosts up than the pool, every host is tried,
    as without it.
    """
    state = LoadState(instance, assignment)
    if movable is None:
        movable = np.array([not v.immobility_reasons() for v in instance.vms], dtype=np.bool_)
    movable = movable & (rule_groups(instance, RuleKind.AFFINITY) < 0)
    anti_group = rule_groups(instance, RuleKind.ANTI_AFFINITY)

    limits = (
        state.cpu_capacity.astype(np.float64) if cpu_limit is None else cpu_limit,
        np.full(instance.num_hosts, np.inf) if memory_demand_limit is None else memory_demand_limit,
    )
    slack = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), (len(resources),))
    spread = Spread(slack if beyond_tolerance else None, peak_cap)
    search = MoveSearch(
        state,
        demand_matrix(state, resources),
        capacity_matrix(state, resources),
        on_mask,
        allowed,
        cost_s,
        limits,
        spread,
    )
    on_idx = np.flatnonzero(on_mask)
    n_on = len(on_idx)
    moves = 0
    limit = max_moves if max_moves is not None else instance.num_vms
    while moves < limit and n_on > 1 and (deadline is None or time.monotonic() < deadline):
        if stop_requested():
            break
        u = resource_utilization(state, resources)
        if np.all(u[:, on_mask].std(axis=1) <= tolerance) and spread.within_cap(u[:, on_mask]):
            break
        sources = _sources(state, u, on_mask, allowed, movable, island_aware, spread)
        picks = _best_moves(search, u, sources, movable, anti_group, target_pool)
        if not picks and island_aware and moves + 2 <= limit:
            swap = best_swap(search, u, sources, movable & (anti_group < 0))
            if swap is not None:
                a, to_b_host, b, to_a_host = swap
                state.move(a, to_b_host)
                state.move(b, to_a_host)
                moves += 2
                continue
        if not picks:
            break
        vm, target = picks[0]
        touched = {int(state.assignment[vm]), target}
        state.move(vm, target)
        moves += 1
        if several_per_step:
            moves += _apply_disjoint(
                state, picks, touched, resources, on_mask, anti_group, spread, limit - moves
            )
    return GreedyResult(state.assignment, moves, imbalance(state, resources, on_mask))


def _best_moves(
    search: MoveSearch,
    u: FloatArray,
    sources: IntArray,
    movable: BoolArray,
    anti_group: IntArray,
    target_pool: int | None = None,
) -> list[tuple[int, int]]:
    """The best single move (vm, target) off each of ``sources`` that helps, by benefit (or
    benefit per second), best first; ``u`` is the utilization [resource, host] now. Targets:
    every host up, or the pool ``greedy_balance`` describes."""
    state, demand, capacity, spread = search.state, search.demand, search.capacity, search.spread
    on_mask, allowed, cost_s, limits = search.on_mask, search.allowed, search.cost_s, search.limits
    n, s1, s2, std_now = search.sums(u)
    found: list[tuple[float, int, int]] = []
    up = np.flatnonzero(on_mask)
    pool = target_pool if target_pool is not None and len(up) > target_pool else None
    for src in sources:
        vms = np.flatnonzero((state.assignment == src) & movable)
        if len(vms) == 0:
            continue
        targets = (
            up if pool is None else _target_pool(u, up, np.asarray(allowed[vms][:, up].any(axis=0)), pool)
        )
        inst = state.instance
        fits = (
            (state.cpu[targets][None, :] + inst.vm_cpu_demand_mhz[vms][:, None] <= limits[0][targets])
            & (
                state.mem_config[targets][None, :] + inst.vm_memory_mib[vms][:, None]
                <= state.mem_capacity[targets]
            )
            & (
                state.mem_demand[targets][None, :] + inst.vm_memory_demand_mib[vms][:, None]
                <= limits[1][targets]
            )
            & allowed[np.ix_(vms, targets)]
        )
        fits[:, targets == src] = False
        for i, v in enumerate(vms):
            if anti_group[v] >= 0:  # the test first: this loop runs for every resident, every step
                fits[i, np.isin(targets, partner_hosts(anti_group, state.assignment, int(v)))] = False
        if not fits.any():
            continue
        # New variance after moving v from src to t, per resource, from running sums.
        d_src = demand[:, vms] / capacity[:, [src]]  # [r, m]
        d_tgt = demand[:, vms][:, :, None] / capacity[:, targets][:, None, :]  # [r, m, t]
        u_src = u[:, src][:, None]  # [r, 1]
        u_tgt = u[:, targets][:, None, :]  # [r, 1, t]
        new_s2 = (
            s2[:, None, None]
            - (u_src**2)[:, :, None]
            + ((u_src - d_src) ** 2)[:, :, None]
            - u_tgt**2
            + (u_tgt + d_tgt) ** 2
        )
        new_s1 = s1[:, None, None] - d_src[:, :, None] + d_tgt
        new_std = search.spread_of(n, new_s1, new_s2)  # [m, t]
        benefit = std_now - new_std
        if spread.peak_cap is not None:
            # Only the source and the target change: the overshoot's change is theirs.
            u_src_now, u_tgt_now = u[:, [src]], u[:, targets][:, None, :]
            benefit += (spread.overshoot(u_src_now) - spread.overshoot(u_src_now - d_src))[:, None]
            benefit += spread.overshoot(u_tgt_now) - spread.overshoot(u_tgt_now + d_tgt)
        benefit[~fits] = -np.inf
        score = benefit if cost_s is None else benefit / np.maximum(cost_s[vms], 1e-3)[:, None]
        row, col = np.unravel_index(int(np.argmax(score)), score.shape)
        if benefit[row, col] > MIN_BENEFIT:
            found.append((float(score[row, col]), int(vms[row]), int(targets[col])))
    found.sort(key=lambda pick: -pick[0])
    return [(vm, target) for _, vm, target in found]


def _target_pool(u: FloatArray, up: IntArray, reachable: BoolArray, size: int) -> IntArray:
    """Of the hosts ``up`` (``reachable`` by the source's VMs), the least loaded in each resource
    of ``u`` [resource, host], ``size`` split evenly among the resources; in host order."""
    hosts = up[reachable]
    if len(hosts) <= size:
        return hosts
    per_resource = max(size // len(u), 1)
    chosen = np.zeros(len(hosts), dtype=np.bool_)
    for row in u[:, hosts]:
        chosen[np.argpartition(row, per_resource)[:per_resource]] = True
    return hosts[chosen]


def _apply_disjoint(
    state: LoadState,
    picks: list[tuple[int, int]],
    touched: set[int],
    resources: tuple[str, ...],
    on_mask: BoolArray,
    anti_group: IntArray,
    spread: Spread,
    room: int,
) -> int:
    """After the best pick (already made; its hosts in ``touched``), make the next ones whose
    hosts this step has not touched and that still lower the score, checked exactly on the new
    loads. Moves between disjoint host pairs hardly change each other's benefit (only through
    the mean), so one evaluation of the sources serves several moves. Returns how many were
    made."""
    groups = {int(anti_group[picks[0][0]])}
    made = 0
    value = _score(state, resources, on_mask, spread)
    for vm, target in picks[1:]:
        if made >= room:
            break
        src = int(state.assignment[vm])
        if src in touched or target in touched or (anti_group[vm] >= 0 and int(anti_group[vm]) in groups):
            continue
        state.move(vm, target)
        new_value = _score(state, resources, on_mask, spread)
        if new_value < value - MIN_BENEFIT:
            value = new_value
            touched |= {src, target}
            groups.add(int(anti_group[vm]))
            made += 1
        else:
            state.move(vm, src)
    return made


def _score(state: LoadState, resources: tuple[str, ...], on_mask: BoolArray, spread: Spread) -> float:
    u = resource_utilization(state, resources)[:, on_mask]
    return float(spread.of(u.std(axis=1)) + spread.overshoot(u).sum())


def _sources(
    state: LoadState,
    u: FloatArray,
    on_mask: BoolArray,
    allowed: BoolArray,
    movable: BoolArray,
    island_aware: bool,
    spread: Spread,
) -> IntArray:
    """The hosts to move load off this step: the hottest, those furthest above the peak cap (a
    host hot in one resource only may not be among the hottest in sum), and (``island_aware``)
    for each of the coldest hosts the hottest host whose VMs may go there."""
    heat = host_heat(u, on_mask)
    sources = np.argsort(-heat)[:HOT_HOSTS_PER_STEP]
    if spread.peak_cap is not None:
        over = np.where(on_mask, spread.overshoot(u), 0.0)
        worst = np.argsort(-over)[:HOT_HOSTS_PER_STEP]
        sources = np.union1d(sources, worst[over[worst] > 0])
    if island_aware:
        sources = np.union1d(sources, _sources_reaching_cold(state, heat, on_mask, allowed, movable))
    return np.asarray(sources, dtype=np.int64)


def _sources_reaching_cold(
    state: LoadState, heat: FloatArray, on_mask: BoolArray, allowed: BoolArray, movable: BoolArray
) -> IntArray:
    """For each of the coldest powered-on hosts below the mean, the hottest other host holding a
    movable VM that may go there."""
    cold = [int(c) for c in np.argsort(np.where(on_mask, heat, np.inf))[:HOT_HOSTS_PER_STEP] if heat[c] < 0]
    sources: list[int] = []
    for c in cold:
        reach = movable & allowed[:, c] & (state.assignment != c) & (state.assignment >= 0)
        hosts = np.flatnonzero(np.bincount(state.assignment[reach], minlength=len(heat)))  # no sort
        hosts = hosts[on_mask[hosts] & (heat[hosts] > heat[c])]
        if len(hosts):
            sources.append(int(hosts[np.argmax(heat[hosts])]))
    return np.asarray(sources, dtype=np.int64)


__all__ = ["GreedyResult", "greedy_balance", "resource_utilization"]

"""The DRS level: variance of host utilization beyond what the threshold's tolerance allows.

DRS calls a cluster balanced when the standard deviation of host utilization is at most the
tolerance ``tol`` of its threshold (``check.metrics.drs_tolerance``). When compatibility islands
make that unreachable, the allowance ``a_r`` of resource r counts the tolerance from the proven
imbalance floor (``DrsBand``); without islands ``a_r = tol``. Per measured resource r and
powered-on host h, with loads and capacities in scaled units (``scaling.UTILIZATION_SCALE`` = one
average host), let ``x = load − mean·cap`` be the host's deviation from the fluid mean. A convex
piecewise-linear ``g_h(x)`` with breakpoints at ``BREAKPOINTS × a_r·cap_h`` (``MIN_UNIT`` instead
of ``a_r`` when it is 0) and integer slopes 1, 3, 5, …, 15, 18, 22, … equals
``8·x² / (a_r·cap_h)`` at every breakpoint and lies above it in between: up to the allowance the
breakpoints are an eighth of it apart, so by at most ``a_r·cap_h / 32`` (under 1 % of the square
from 0.7·a_r on). Weighted by ``w_h ≈ mean cap / cap_h`` (an integer scaled by ``WEIGHT_SCALE``),
``f_h = w_h·g_h`` prices the utilization deviation ``δ = x/cap_h`` as ``8·δ²·mean cap / a_r``
whatever the host's size. So

    Σ_h f_h(x_h) ≤ B_r = Σ_h f_h(a_r·cap_h)  ⇒  Σ_h (u_h − mean)² ≤ N·a_r²

— the standard deviation DRS reports (around the capacity-weighted mean, which bounds it from
above) is within the allowance, up to the rounding of the weights. The level minimizes the
*excess* ``Σ_r max(0, Σ_h f − B_r)``: zero as soon as the cluster is within the allowance (then
migration cost decides), otherwise the variance, approximated, pushed as low as it goes. It is
separable by host, so a local search may optimize any subset of hosts exactly given the rest
(``excess`` of ``rest + part``).

On top, the peak term prices each host's CPU load above its peak cap (``DrsBand.peak_caps``).
It is kept on the raw loads (MHz sums), not the scaled ones: the scaling rounds every VM's demand
to a whole unit, and over a hundred VMs on a host those roundings add up to more than the last
few units a search packs a host to, so a cap held on scaled loads ended measurably above it in MHz.

The same numbers serve the CP encoding (``add_host_terms``) and the solver-free
evaluation (``penalty_of_loads``, ``overshoot_of_raw``, ``excess``), so the staged solver and the
local search agree on every value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from scheduler.check.bounds import imbalance_floor_of, least_peak_of
from scheduler.model import NO_HOST, Instance
from scheduler.solver.scaling import scale_factor, scaled_demands

# Breakpoints of |x| in units of ``unit·cap``; the segment slopes are 8·(z_k + z_{k+1}), integers.
# Eighths up to the allowance: a coarser grid (quarters) overstated the variance of a cluster
# balanced to its islands' floor by 2–4 %, and the level then paid migrations to close a gap that
# the standard deviation DRS reports did not have.
BREAKPOINTS = (
    *(k / 8 for k in range(9)),
    *(1.25, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0),
)
# The unbounded last segment continues with the derivative 16·z of 8·z² at the last breakpoint.
SLOPES = (*(round(8 * (a + b)) for a, b in pairwise(BREAKPOINTS)), round(16 * BREAKPOINTS[-1]))
# Slope of the peak term per scaled unit above a host's peak cap: the steepest of the variance's
# own segments, so shedding load off an overshooting host always pays. The term counts raw units
# (MHz), each priced at this slope times the scaled units one of them stands for, rounded.
PEAK_SLOPE = SLOPES[-1]
NO_PEAK = np.iinfo(np.int64).max // 4  # raw load standing for "no peak cap"
MIN_UNIT = 0.01  # breakpoint unit (utilization) when the tolerance is zero (threshold 5)
# f_h grows with cap_h (it prices load, not utilization); weighting host h by mean capacity / cap_h
# makes every host count alike, as in the plain standard deviation DRS reports. Integer weights:
# this scale keeps their rounding within a few per cent on hosts up to twice the mean capacity.
WEIGHT_SCALE = 16

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class DrsBand:
    """How far each measured resource's imbalance may go before DRS acts: the threshold's
    tolerance, applied to the part of the imbalance that placement can change.

    When compatibility islands (CPU generations without IMC, storage seen by some hosts only) keep
    every placement away from perfect balance, the tolerance alone is out of reach, and chasing it
    buys migrations for nothing. The variance of any placement splits into what the islands force
    and what is left: with ``floor_r`` the proven least imbalance (``check.bounds.imbalance_floor``)
    and ``u*`` the divisible placement that reaches it, var(u) ≥ floor² + mean((u − u*)²) (the
    projection inequality of a convex set). So the allowance of resource r over the powered-on
    hosts is

        a_r = √(tol² + floor_r²)

    and a placement within it has every host, in the root-mean-square sense, within the tolerance
    of its fair share. With no islands the floor is 0 and a_r is exactly the threshold's
    tolerance. The floor is computed once per set of powered-on hosts. VMs no plan moves
    (immobile, or non-converging and not forced to move) are held at their host in the floor's
    model; every other VM may go wherever compatibility allows, so the floor stays valid whatever
    the earlier levels decide.
    """

    def __init__(
        self,
        instance: Instance,
        resources: Sequence[str],
        tolerance_of: Callable[[int], float],
        allowed: BoolArray,
        may_move: BoolArray,
    ) -> None:
        self.instance = instance
        self.resources = tuple(resources)
        self.tolerance_of = tolerance_of
        held = ~may_move & (instance.current_host != NO_HOST)
        self._allowed = allowed.copy()
        self._allowed[held] = False
        self._allowed[np.flatnonzero(held), instance.current_host[held]] = True
        self._floors: dict[bytes, tuple[float, ...]] = {}
        self._peaks: dict[bytes, tuple[float, ...]] = {}

    def tolerance(self, on_mask: BoolArray) -> float:
        """The threshold's tolerance over the hosts of ``on_mask``: DRS's priority formula counts
        the hosts that are on (``check.metrics.drs_tolerance``), so a plan that switches hosts
        off is measured over those left, as the checker measures it."""
        return self.tolerance_of(max(1, int(on_mask.sum())))

    def floors(self, on_mask: BoolArray) -> tuple[float, ...]:
        """The imbalance floor per measured resource over the hosts of ``on_mask``."""
        return self._per_resource(self._floors, on_mask, imbalance_floor_of, self.resources)

    def least_peaks(self, on_mask: BoolArray) -> tuple[float, ...]:
        """The least highest-host utilization any placement reaches over the hosts of ``on_mask``,
        per measured resource (``check.bounds.least_peak_of``, with the same held VMs); only
        CPU's is computed (``peak_caps``), the others are 0."""
        return self._per_resource(self._peaks, on_mask, least_peak_of, ("cpu",))

    def _per_resource(
        self,
        cache: dict[bytes, tuple[float, ...]],
        on_mask: BoolArray,
        bound: Callable[[BoolArray, IntArray, IntArray], float],
        computed: tuple[str, ...],
    ) -> tuple[float, ...]:
        """``bound(allowed, demand, capacity)`` of each measured resource in ``computed`` (0 for
        the others) over the hosts of ``on_mask``, with the held VMs; once per mask."""
        key = on_mask.tobytes()
        if key not in cache:
            hosts = np.flatnonzero(on_mask)
            allowed = self._allowed[:, hosts]
            values = []
            for resource in self.resources:
                demand, cap = self.instance.balance_columns(resource)
                values.append(bound(allowed, demand, cap[hosts]) if resource in computed else 0.0)
            cache[key] = tuple(values)
        return cache[key]

    def peak_caps(self, on_mask: BoolArray) -> FloatArray:
        """Per measured resource, the utilization no host should exceed: for CPU the least peak
        plus the tolerance, for memory none (infinite).

        The allowance is a root-mean-square: within it one host may sit well above its fair
        share while the others make up for it. For CPU that host is where contention is: CPU
        ready time climbs steeply with a host's CPU load, so the hottest host is what operators
        watch. Memory demand below capacity costs nothing until reclamation starts, and the
        capacity and DPM limits already guard that; capping it as tightly would cost many
        migrations for no gain (measured at 128 hosts × 10,000 VMs: +17 % migration seconds).
        """
        peaks = self.least_peaks(on_mask)
        tolerance = self.tolerance(on_mask)
        return np.array(
            [p + tolerance if r == "cpu" else np.inf for r, p in zip(self.resources, peaks, strict=True)],
            dtype=np.float64,
        )

    def allowance(self, on_mask: BoolArray, imbalance_now: FloatArray | None = None) -> FloatArray:
        """a_r per measured resource. With ``imbalance_now`` (per resource) already within the
        plain tolerance the floor cannot matter and is not computed."""
        tolerance = self.tolerance(on_mask)
        if imbalance_now is not None and bool(np.all(imbalance_now <= tolerance)):
            return np.full(len(self.resources), tolerance)
        floors = np.asarray(self.floors(on_mask), dtype=np.float64)
        return np.asarray(np.sqrt(tolerance**2 + floors**2), dtype=np.float64)


@dataclass
class PenaltyVars:
    """The DRS level's auxiliary variables in one CP model, kept so that a hint can cover them."""

    deviations: list[tuple[int, int, cp_model.IntVar, list[cp_model.IntVar]]] = field(default_factory=list)
    overshoots: list[tuple[int, int, cp_model.IntVar]] = field(default_factory=list)
    excesses: list[cp_model.IntVar] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BalancePenalty:
    """Scaled demands, targets, segment widths and budgets of the measured resources."""

    demand: IntArray  # [r, vm] scaled demand
    capacity: IntArray  # [r, host] scaled capacity
    target: IntArray  # [r, host] mean·capacity (0 for hosts that are off)
    widths: IntArray  # [r, host, segment] (the last segment is unbounded)
    budget: IntArray  # [r] Σ_h f_h(a_r·cap_h)
    on_mask: BoolArray
    weight: IntArray  # [r, host] ≈ WEIGHT_SCALE × mean capacity / cap_h: every host counts alike
    raw_demand: IntArray  # [r, vm] demand in the resource's own unit (MHz, MiB)
    peak: IntArray  # [r, host] raw load above which a host overshoots the peak cap
    peak_price: IntArray  # [r, host] level units per raw unit above the peak cap

    @classmethod
    def build(
        cls, instance: Instance, resources: Sequence[str], on_mask: BoolArray, band: DrsBand
    ) -> BalancePenalty:
        """The penalty over the hosts of ``on_mask`` with ``band``'s allowance per resource."""
        allowance = band.allowance(on_mask)
        demands, capacities, targets, raw_demands, raw_capacities, factors = [], [], [], [], [], []
        for resource in resources:
            raw_demand, raw_capacity = instance.balance_columns(resource)
            s_demand, s_capacity = scaled_demands(raw_demand, raw_capacity)
            mean = float(raw_demand.sum()) / max(float(raw_capacity[on_mask].sum()), 1.0)
            demands.append(s_demand)
            capacities.append(s_capacity)
            targets.append(np.where(on_mask, np.rint(mean * s_capacity), 0).astype(np.int64))
            raw_demands.append(raw_demand.astype(np.int64))
            raw_capacities.append(raw_capacity.astype(np.float64))
            factors.append(scale_factor(raw_capacity))
        capacity = np.vstack(capacities)
        unit = np.where(allowance > 0, allowance, MIN_UNIT)[:, None, None]
        points = np.rint(np.asarray(BREAKPOINTS)[None, None, :] * unit * capacity[:, :, None]).astype(
            np.int64
        )
        widths = np.maximum(np.diff(points, axis=2), 1)
        mean_capacity = np.array(
            [row[on_mask].mean() if on_mask.any() else 1.0 for row in capacity], dtype=np.float64
        )
        weight = np.maximum(
            np.rint(WEIGHT_SCALE * mean_capacity[:, None] / np.maximum(capacity, 1)), 1
        ).astype(np.int64)
        caps = band.peak_caps(on_mask)[:, None]
        raw_capacity_rows = np.vstack(raw_capacities)
        peak = np.where(
            np.isfinite(caps), np.floor(np.minimum(caps, 1e6) * raw_capacity_rows), NO_PEAK
        ).astype(np.int64)
        # A raw unit above the cap costs what the scaled units it stands for would at PEAK_SLOPE.
        peak_price = np.maximum(
            np.rint(PEAK_SLOPE * weight * np.asarray(factors, dtype=np.float64)[:, None]), 1
        ).astype(np.int64)
        partial = cls(
            demand=np.vstack(demands),
            capacity=capacity,
            target=np.vstack(targets),
            widths=widths,
            budget=np.zeros(len(resources), dtype=np.int64),
            on_mask=on_mask,
            weight=weight,
            raw_demand=np.vstack(raw_demands),
            peak=peak,
            peak_price=peak_price,
        )
        deviation = np.rint(allowance[:, None] * capacity).astype(np.int64)
        budget = partial.penalty_of_deviation(deviation).sum(axis=1)
        return replace(partial, budget=budget.astype(np.int64))

    # -- solver-free evaluation -------------------------------------------------------------------

    def loads(self, assignment: IntArray) -> IntArray:
        """Scaled load [r, host] of an assignment."""
        return self._sums(self.demand, assignment)

    def raw_loads(self, assignment: IntArray) -> IntArray:
        """Raw load [r, host] of an assignment (MHz, MiB): what the peak term counts."""
        return self._sums(self.raw_demand, assignment)

    def _sums(self, demand: IntArray, assignment: IntArray) -> IntArray:
        placed = assignment != NO_HOST
        n_hosts = self.capacity.shape[1]
        rows = [np.bincount(assignment[placed], row[placed], n_hosts) for row in demand]
        return np.rint(np.vstack(rows)).astype(np.int64)

    def penalty_of_deviation(self, deviation: IntArray) -> IntArray:
        """f [r, host] of absolute deviations [r, host]; 0 for hosts that are off."""
        rest = np.abs(deviation)
        total = np.zeros_like(rest)
        for k, slope in enumerate(SLOPES):
            take = rest if k == len(SLOPES) - 1 else np.minimum(rest, self.widths[:, :, k])
            total += slope * take
            rest = rest - take
        return np.asarray(np.where(self.on_mask[None, :], total * self.weight, 0), dtype=np.int64)

    def penalty_of_loads(self, loads: IntArray) -> IntArray:
        """f [r, host] of given scaled loads."""
        return self.penalty_of_deviation(loads - self.target)

    def penalty_at(self, r: int, hosts: IntArray, deviation: IntArray) -> IntArray:
        """f of resource r at a few hosts, for O(1) what-if checks (no on/off masking)."""
        rest = np.abs(deviation)
        total = np.zeros_like(rest)
        for k, slope in enumerate(SLOPES):
            take = rest if k == len(SLOPES) - 1 else np.minimum(rest, self.widths[r, hosts, k])
            total += slope * take
            rest = rest - take
        return np.asarray(total * self.weight[r, hosts], dtype=np.int64)

    def overshoot_of_raw(self, raw_loads: IntArray) -> IntArray:
        """o [r, host]: ``peak_price``·(raw load − peak)⁺; 0 for hosts that are off."""
        over = self.overshoot_at(np.arange(raw_loads.shape[1]), raw_loads)
        return np.asarray(np.where(self.on_mask[None, :], over, 0), dtype=np.int64)

    def overshoot_at(self, hosts: IntArray, raw_loads: IntArray) -> IntArray:
        """o [r, len(hosts)] of raw loads [r, len(hosts)] at a few hosts (no on/off masking, as
        ``penalty_at``)."""
        over = np.maximum(raw_loads - self.peak[:, hosts], 0) * self.peak_price[:, hosts]
        return np.asarray(over, dtype=np.int64)

    def value_of_loads(self, loads: IntArray, raw_loads: IntArray) -> int:
        """The level's value for scaled and raw loads [r, host]: Σ_r max(0, Σ_h f − B_r) + Σ_{r,h} o."""
        totals = self.penalty_of_loads(loads).sum(axis=1)
        return int(np.maximum(totals - self.budget, 0).sum() + self.overshoot_of_raw(raw_loads).sum())

    def excess(self, assignment: IntArray) -> int:
        """The level's value of an assignment (``value_of_loads``)."""
        return self.value_of_loads(self.loads(assignment), self.raw_loads(assignment))

    def segment_values(self, deviation: int, r: int, h: int) -> list[int]:
        """How an absolute deviation fills the segments of (r, h) (for complete hints)."""
        rest, filled = abs(deviation), []
        for k in range(len(SLOPES)):
            take = rest if k == len(SLOPES) - 1 else min(rest, int(self.widths[r, h, k]))
            filled.append(take)
            rest -= take
        return filled

    # -- CP encoding ----------------------------------------------------------------------------

    def add_hints(self, model: cp_model.CpModel, assignment: IntArray, variables: PenaltyVars) -> None:
        """Hint each of ``variables`` with its value at ``assignment``: with the placement alone
        hinted, CP-SAT has to rebuild these itself and, in a short solve, often does not."""
        loads = self.loads(assignment)
        deviation = np.abs(loads - self.target)
        for r, h, dev, segments in variables.deviations:
            value = int(deviation[r, h])
            model.add_hint(dev, value)
            for var, filled in zip(segments, self.segment_values(value, r, h), strict=True):
                model.add_hint(var, filled)
        totals = self.penalty_of_deviation(deviation).sum(axis=1)
        for r, var in enumerate(variables.excesses):
            model.add_hint(var, int(max(totals[r] - self.budget[r], 0)))
        raw = self.raw_loads(assignment)
        for r, h, var in variables.overshoots:
            model.add_hint(var, int(max(raw[r, h] - self.peak[r, h], 0)))

    def add_host_terms(
        self,
        model: cp_model.CpModel,
        r: int,
        h: int,
        vms: Sequence[int],
        host_vars: Sequence[cp_model.IntVar],
        fixed: tuple[int, int],
        name: str,
        variables: PenaltyVars,
    ) -> tuple[cp_model.LinearExprT, cp_model.LinearExprT]:
        """(f, o) of resource r on host h, whose load is ``fixed`` (scaled, raw: the VMs there for
        good) plus each VM of ``vms`` whose variable of ``host_vars`` is set; the auxiliary
        variables go to ``variables``. The one encoding of a host the full model and the local
        search's neighbourhoods share."""
        fixed_scaled, fixed_raw = fixed
        scaled = [int(self.demand[r, v]) for v in vms]
        load = cp_model.LinearExpr.weighted_sum(host_vars, scaled) + fixed_scaled
        f_expr, dev, segments = self.add_host(model, r, h, load, fixed_scaled + sum(scaled), name)
        variables.deviations.append((r, h, dev, segments))
        if not self.capped(r):
            return f_expr, 0
        raw = [int(self.raw_demand[r, v]) for v in vms]
        raw_load = cp_model.LinearExpr.weighted_sum(host_vars, raw) + fixed_raw
        o_expr, over = self.add_overshoot(model, r, h, raw_load, fixed_raw + sum(raw), name)
        if over is not None:
            variables.overshoots.append((r, h, over))
        return f_expr, o_expr

    def add_host(
        self,
        model: cp_model.CpModel,
        r: int,
        h: int,
        load: cp_model.LinearExprT,
        max_load: int,
        name: str,
    ) -> tuple[cp_model.LinearExprT, cp_model.IntVar, list[cp_model.IntVar]]:
        """Encode f for one (resource, host): returns (f expression, |x| variable, segment variables)."""
        target = int(self.target[r, h])
        span = max(max_load, target, 1)
        dev = model.new_int_var(0, span, f"dev[{name}]")
        model.add(dev >= load - target)
        model.add(dev >= target - load)
        segments = []
        for k in range(len(SLOPES)):
            upper = span if k == len(SLOPES) - 1 else min(int(self.widths[r, h, k]), span)
            segments.append(model.new_int_var(0, upper, f"seg[{name},{k}]"))
        model.add(dev == sum(segments))
        w = int(self.weight[r, h])
        return cp_model.LinearExpr.weighted_sum(segments, [w * slope for slope in SLOPES]), dev, segments

    def add_overshoot(
        self,
        model: cp_model.CpModel,
        r: int,
        h: int,
        raw_load: cp_model.LinearExprT,
        raw_most: int,
        name: str,
    ) -> tuple[cp_model.LinearExprT, cp_model.IntVar | None]:
        """Encode o for one (resource, host) from its raw load: (o expression, overshoot variable
        in raw units); (0, None) when the host cannot reach its peak cap."""
        room = raw_most - int(self.peak[r, h])
        if room <= 0 or not self.on_mask[h]:
            return 0, None
        over = model.new_int_var(0, room, f"over[{name}]")
        model.add(over >= raw_load - int(self.peak[r, h]))
        return int(self.peak_price[r, h]) * over, over

    def capped(self, r: int) -> bool:
        """Whether resource r has a peak cap at all (only then is its raw load needed)."""
        return bool(np.any(self.peak[r] < NO_PEAK))

    def add_excess(
        self, model: cp_model.CpModel, r: int, total: cp_model.LinearExprT, name: str
    ) -> cp_model.IntVar:
        """excess_r ≥ total − B_r, ≥ 0 (minimized, so it equals max(0, total − B_r)).

        Its domain must hold every placement's total, or the model would forbid a badly balanced
        placement outright (today's, under memory overcommit). Each host's f is at most the last
        slope times its deviation, and the deviations add up to at most the load placed plus the
        targets, |load − target| ≤ load + target: Σ_h w_h·f_h ≤ slope·max w·(Σ demand + Σ target).
        """
        spread = int(self.demand[r].sum()) + int(self.target[r].sum())
        upper = int(SLOPES[-1]) * int(self.weight[r].max()) * spread + 1
        excess = model.new_int_var(0, upper, f"excess[{name}]")
        model.add(excess >= total - int(self.budget[r]))
        return excess

"""The DRS level: variance of host utilization beyond what the threshold's tolerance allows.

DRS calls a cluster balanced when the standard deviation of host utilization is at most the
tolerance ``tol`` of its threshold (``check.metrics.drs_tolerance``). Per measured resource r and
powered-on host h, with loads and capacities in scaled units (``scaling.UTILIZATION_SCALE`` = one
average host), let ``x = load − mean·cap`` be the host's deviation from the fluid mean. A convex
piecewise-linear ``f_h(x)`` with breakpoints at ``BREAKPOINTS × unit·cap_h`` (``unit`` = tol, or
``MIN_UNIT`` when tol is 0) and integer slopes 1, 3, 5, 7, 10, … equals ``2·x² / (unit·cap_h)`` at
every breakpoint and lies above it in between. So

    Σ_h f_h(x_h) ≤ B = Σ_h f_h(tol·cap_h)  ⇒  Σ_h (u_h − mean)²·cap_h ≤ tol²·Σ_h cap_h

— the capacity-weighted standard deviation is within the tolerance (for equal hosts, exactly the
DRS criterion). The level minimizes the *excess* ``Σ_r max(0, Σ_h f − B_r)``: zero as soon as the
cluster is within tolerance (then migration cost decides), otherwise the variance, approximated,
pushed as low as it goes. It is separable by host, so a local search may optimize any subset of
hosts exactly given the rest (``excess`` of ``rest + part``).

The same numbers serve the CP encoding (``add_host``) and the solver-free evaluation
(``penalty_of_loads``, ``excess``), so the staged solver and the local search agree on every value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from scheduler.model import NO_HOST, Instance
from scheduler.solver.scaling import scaled_demands

# Breakpoints of |x| in units of ``unit·cap``; the segment slopes are 2·(z_k + z_{k+1}), integers.
BREAKPOINTS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0)
# The unbounded last segment continues with the derivative 4·z of 2·z² at the last breakpoint.
SLOPES = (*(round(2 * (a + b)) for a, b in pairwise(BREAKPOINTS)), round(4 * BREAKPOINTS[-1]))
MIN_UNIT = 0.01  # breakpoint unit (utilization) when the tolerance is zero (threshold 5)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class BalancePenalty:
    """Scaled demands, targets, segment widths and budgets of the measured resources."""

    demand: IntArray  # [r, vm] scaled demand
    capacity: IntArray  # [r, host] scaled capacity
    target: IntArray  # [r, host] mean·capacity (0 for hosts that are off)
    widths: IntArray  # [r, host, segment] (the last segment is unbounded)
    budget: IntArray  # [r] Σ_h f_h(tol·cap_h)
    on_mask: BoolArray

    @classmethod
    def build(
        cls, instance: Instance, resources: Sequence[str], on_mask: BoolArray, tolerance: float
    ) -> BalancePenalty:
        demands, capacities, targets = [], [], []
        for resource in resources:
            if resource == "cpu":
                raw_demand, raw_capacity = instance.vm_cpu_demand_mhz, instance.host_cpu_mhz
            else:
                raw_demand, raw_capacity = instance.vm_memory_demand_mib, instance.host_memory_mib
            s_demand, s_capacity = scaled_demands(raw_demand, raw_capacity)
            mean = float(raw_demand.sum()) / max(float(raw_capacity[on_mask].sum()), 1.0)
            demands.append(s_demand)
            capacities.append(s_capacity)
            targets.append(np.where(on_mask, np.rint(mean * s_capacity), 0).astype(np.int64))
        capacity = np.vstack(capacities)
        unit = tolerance if tolerance > 0 else MIN_UNIT
        points = np.rint(np.asarray(BREAKPOINTS)[None, None, :] * unit * capacity[:, :, None]).astype(
            np.int64
        )
        widths = np.maximum(np.diff(points, axis=2), 1)
        partial = cls(
            demand=np.vstack(demands),
            capacity=capacity,
            target=np.vstack(targets),
            widths=widths,
            budget=np.zeros(len(resources), dtype=np.int64),
            on_mask=on_mask,
        )
        allowance = np.rint(tolerance * capacity).astype(np.int64)
        budget = partial.penalty_of_deviation(allowance).sum(axis=1)
        return cls(partial.demand, capacity, partial.target, widths, budget.astype(np.int64), on_mask)

    # -- solver-free evaluation -------------------------------------------------------------------

    def loads(self, assignment: IntArray) -> IntArray:
        """Scaled load [r, host] of an assignment."""
        placed = assignment != NO_HOST
        n_hosts = self.capacity.shape[1]
        rows = [np.bincount(assignment[placed], row[placed], n_hosts) for row in self.demand]
        return np.vstack(rows).astype(np.int64)

    def penalty_of_deviation(self, deviation: IntArray) -> IntArray:
        """f [r, host] of absolute deviations [r, host]; 0 for hosts that are off."""
        rest = np.abs(deviation)
        total = np.zeros_like(rest)
        for k, slope in enumerate(SLOPES):
            take = rest if k == len(SLOPES) - 1 else np.minimum(rest, self.widths[:, :, k])
            total += slope * take
            rest = rest - take
        return np.asarray(np.where(self.on_mask[None, :], total, 0), dtype=np.int64)

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
        return total

    def excess(self, assignment: IntArray) -> int:
        """The level's value: Σ_r max(0, Σ_h f − B_r)."""
        totals = self.penalty_of_loads(self.loads(assignment)).sum(axis=1)
        return int(np.maximum(totals - self.budget, 0).sum())

    def segment_values(self, deviation: int, r: int, h: int) -> list[int]:
        """How an absolute deviation fills the segments of (r, h) (for complete hints)."""
        rest, filled = abs(deviation), []
        for k in range(len(SLOPES)):
            take = rest if k == len(SLOPES) - 1 else min(rest, int(self.widths[r, h, k]))
            filled.append(take)
            rest -= take
        return filled

    # -- CP encoding ----------------------------------------------------------------------------

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
        return cp_model.LinearExpr.weighted_sum(segments, list(SLOPES)), dev, segments

    def add_excess(
        self, model: cp_model.CpModel, r: int, total: cp_model.LinearExprT, name: str
    ) -> cp_model.IntVar:
        """excess_r ≥ total − B_r, ≥ 0 (minimized, so it equals max(0, total − B_r))."""
        upper = int(SLOPES[-1]) * int(self.capacity[r].sum()) * 4 + 1
        excess = model.new_int_var(0, upper, f"excess[{name}]")
        model.add(excess >= total - int(self.budget[r]))
        return excess

"""The DRS balance penalty: a convex piecewise-linear function of each host's distance from the mean.

Per powered-on host h and measured resource r, with loads and capacities in scaled units
(``scaling.UTILIZATION_SCALE`` = one average host):

    dev[r,h] = | load[r,h] − mean[r]·cap[r,h] |

is cut into segments: the first, ``band·cap`` wide, is free (the DRS tolerance); the next
``SEGMENTS − 1`` are ``step·cap`` wide and cost 1, 3, 5, … per unit (the slopes of a square), the
last is unbounded. So the penalty approximates the variance DRS measures, is separable by host
(a local search may optimize any subset of hosts exactly), and is zero exactly when every host
lies within mean ± band, which bounds the standard deviation by ``band`` (the RMS deviation about
any point bounds the deviation about the mean).

The same numbers serve the CP encoding (``add_to_model``) and the solver-free evaluation
(``per_host``), so the staged solver and the local search agree on every value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from scheduler.model import NO_HOST, Instance
from scheduler.solver.scaling import scaled_demands

SEGMENTS = 6  # sloped segments (slopes 1, 3, 5, ...); the last one is unbounded
MIN_STEP = 0.01  # segment width in utilization when the tolerance is zero (threshold 5)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class BalancePenalty:
    """Scaled demands, targets and segment shapes for the measured resources of one instance."""

    demand: IntArray  # [r, vm] scaled demand
    capacity: IntArray  # [r, host] scaled capacity
    target: IntArray  # [r, host] mean·capacity (0 for hosts that are off)
    free_width: IntArray  # [r, host]
    width: IntArray  # [r, host]
    on_mask: BoolArray

    @classmethod
    def build(
        cls, instance: Instance, resources: Sequence[str], on_mask: BoolArray, band: float
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
        step = max(band, MIN_STEP)
        return cls(
            demand=np.vstack(demands),
            capacity=capacity,
            target=np.vstack(targets),
            free_width=np.floor(band * capacity).astype(np.int64),
            width=np.maximum(1, np.floor(step * capacity)).astype(np.int64),
            on_mask=on_mask,
        )

    @property
    def slopes(self) -> list[int]:
        return [0] + [2 * k + 1 for k in range(SEGMENTS)]

    def loads(self, assignment: IntArray) -> IntArray:
        """Scaled load [r, host] of an assignment."""
        placed = assignment != NO_HOST
        n_hosts = self.capacity.shape[1]
        return np.vstack(
            [np.bincount(assignment[placed], row[placed], n_hosts) for row in self.demand]
        ).astype(np.int64)

    def per_host(self, assignment: IntArray) -> IntArray:
        """Penalty per host (summed over resources); 0 for hosts that are off."""
        return np.asarray(self.penalty_of_loads(self.loads(assignment)).sum(axis=0), dtype=np.int64)

    def penalty_of_loads(self, loads: IntArray) -> IntArray:
        """Penalty [r, host] of given scaled loads."""
        dev = np.abs(loads - self.target)
        rest = np.maximum(dev - self.free_width, 0)
        total = np.zeros_like(dev)
        for k in range(SEGMENTS):
            take = rest if k == SEGMENTS - 1 else np.minimum(rest, self.width)
            total += (2 * k + 1) * take
            rest = rest - take
        return np.asarray(np.where(self.on_mask[None, :], total, 0), dtype=np.int64)

    def total(self, assignment: IntArray) -> int:
        return int(self.per_host(assignment).sum())

    def add_to_model(
        self,
        model: cp_model.CpModel,
        resource_index: int,
        host: int,
        load: cp_model.LinearExprT,
        max_load: int,
        name: str,
    ) -> tuple[cp_model.LinearExprT, cp_model.IntVar, list[cp_model.IntVar]]:
        """Encode one (resource, host) penalty; returns (penalty expression, dev var, segment vars)."""
        target = int(self.target[resource_index, host])
        span = max(max_load, target, 1)
        dev = model.new_int_var(0, span, f"dev[{name}]")
        model.add(dev >= load - target)
        model.add(dev >= target - load)
        widths = (
            [int(self.free_width[resource_index, host])]
            + [int(self.width[resource_index, host])] * (SEGMENTS - 1)
            + [span]
        )
        segments = [
            model.new_int_var(0, min(max(w, 0), span), f"seg[{name},{k}]") for k, w in enumerate(widths)
        ]
        model.add(dev == sum(segments))
        return cp_model.LinearExpr.weighted_sum(segments, self.slopes), dev, segments

    def segment_values(self, deviation: int, resource_index: int, host: int) -> list[int]:
        """How a deviation fills the segments (for complete hints)."""
        widths = [int(self.free_width[resource_index, host])] + [int(self.width[resource_index, host])] * (
            SEGMENTS - 1
        )
        rest, filled = deviation, []
        for w in widths:
            take = min(rest, max(w, 0))
            filled.append(take)
            rest -= take
        filled.append(rest)
        return filled

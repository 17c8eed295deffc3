"""Imbalance as DRS measures it, with O(1) what-if updates for greedy moves."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.spread import Spread
from scheduler.heuristics.state import LoadState

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def resource_utilization(state: LoadState, resources: tuple[str, ...]) -> FloatArray:
    """Utilization matrix [resource, host]."""
    return np.vstack([state.utilization(r) for r in resources])


def imbalance(state: LoadState, resources: tuple[str, ...], on_mask: npt.NDArray[np.bool_]) -> FloatArray:
    """Population standard deviation of host utilization over powered-on hosts, per resource."""
    if not on_mask.any():
        return np.zeros(len(resources))
    u = resource_utilization(state, resources)[:, on_mask]
    return np.asarray(u.std(axis=1), dtype=np.float64)


def demand_matrix(state: LoadState, resources: tuple[str, ...]) -> FloatArray:
    """Per-VM demand [resource, vm] in the units the utilization divides."""
    inst = state.instance
    rows = [inst.balance_columns(r)[0] for r in resources]
    return np.vstack(rows).astype(np.float64)


def capacity_matrix(state: LoadState, resources: tuple[str, ...]) -> FloatArray:
    """Per-host capacity [resource, host] matching ``demand_matrix``."""
    inst = state.instance
    rows = [inst.balance_columns(r)[1] for r in resources]
    return np.vstack(rows).astype(np.float64)


def host_heat(u: FloatArray, on_mask: npt.NDArray[np.bool_]) -> FloatArray:
    """How far each host sits above the mean of the powered-on hosts, summed over resources
    (``u`` is [resource, host]); -inf for hosts that are off."""
    heat = (u - u[:, on_mask].mean(axis=1, keepdims=True)).sum(axis=0)
    heat[~on_mask] = -np.inf
    return np.asarray(heat, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class MoveSearch:
    """What one greedy balancing run scores single moves and exchanges against: its state, the
    measured resources' demand [r, vm] and capacity [r, host], the hosts up, compatibility, the
    migration seconds (None: benefit alone), the per-host CPU and memory-demand limits and the
    spread it lowers."""

    state: LoadState
    demand: FloatArray
    capacity: FloatArray
    on_mask: BoolArray
    allowed: BoolArray
    cost_s: FloatArray | None
    limits: tuple[FloatArray, FloatArray]
    spread: Spread

    def sums(self, u: FloatArray) -> tuple[int, FloatArray, FloatArray, FloatArray]:
        """(N, Σu, Σu², spread) over the hosts up for utilization ``u`` [r, host]: what the what-if
        updates of a move start from."""
        u_on = u[:, self.on_mask]
        n = u_on.shape[1]
        s1 = u_on.sum(axis=1)
        s2 = (u_on**2).sum(axis=1)
        return n, s1, s2, self.spread_of(n, s1, s2)

    def spread_of(self, n: int, s1: FloatArray, s2: FloatArray) -> FloatArray:
        """The spread of per-resource running sums (axis 0 is the resource; any shape after it)."""
        return self.spread.of(np.sqrt(np.maximum(s2 / n - (s1 / n) ** 2, 0.0)))

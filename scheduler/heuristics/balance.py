"""Imbalance as DRS measures it, with O(1) what-if updates for greedy moves."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.state import LoadState

FloatArray = npt.NDArray[np.float64]


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

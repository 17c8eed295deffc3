"""The pre-copy estimator's vectorised fast path: the closed form, solved over numpy arrays.

The geometric series ``V_i = V_0·(D/R)^i`` (Liu et al., HPDC 2011) of the model in ``precopy.py``,
for constant dirty rates and no throttle, timeout or data cap: :func:`estimate_fast` costs
thousands of candidate moves without a Python loop and agrees with the simulation where both apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from scheduler.migration.precopy_model import (
    DEVICE_STATE_MIB,
    MAX_SIMULATED_ROUNDS,
    STALL_RATIO,
    ZERO_PAGE_WIRE_FRACTION,
)
from scheduler.migration.presets import PAGE_MIB

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FastEstimates:
    """Arrays of estimates from :func:`estimate_fast` (same shapes as the broadcast inputs)."""

    total_s: FloatArray
    downtime_ms: FloatArray
    transferred_mib: FloatArray
    iterations: npt.NDArray[np.int64]
    converges: npt.NDArray[np.bool_]
    aborted: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))


def _first_index_below(v1: FloatArray, q: FloatArray, target: FloatArray, strict: bool) -> FloatArray:
    """Smallest ``i ≥ 1`` with ``v1·q^(i−1) ≤ target`` (``<`` when strict); inf when none.

    Closed form ``i = 1 + ⌈log(target/v1)/log q⌉`` for ``0 < q < 1``, then nudged by one where
    floating point put the boundary on the wrong side, so it matches the pass-by-pass simulation.
    """

    def ok(values: FloatArray) -> npt.NDArray[np.bool_]:
        return values < target if strict else values <= target

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        first_ok = ok(v1)
        shrinking = (q > 0) & (q < 1) & (target > 0)
        raw = np.log(np.where(shrinking, target / v1, 1.0)) / np.log(np.where(shrinking, q, 0.5))
        k = np.ceil(np.maximum(raw, 0.0))
        k = np.where(shrinking, k, 0.0)
        k = np.where(shrinking & ~ok(v1 * q**k), k + 1, k)
        k = np.where(shrinking & (k > 1) & ok(v1 * q ** (k - 1)), k - 1, k)
        index = np.where(first_ok, 1.0, np.where(shrinking, 1.0 + k, np.inf))
        index = np.where(v1 <= 0, 1.0, index)
    return np.asarray(index, dtype=np.float64)


def estimate_fast(
    memory_mib: npt.ArrayLike,
    dirty_rate_mibps: npt.ArrayLike,
    rate_mibps: float | npt.ArrayLike,
    downtime_limit_ms: float,
    *,
    nonzero_mib: npt.ArrayLike | None = None,
    switchover_rate_mibps: float | npt.ArrayLike | None = None,
    threshold_rule: bool = True,
    threshold_at_switchover_rate: bool = False,
    min_dirty_pages: int | None = None,
    max_rounds: int | None = None,
    compression_ratio: float = 1.0,
    device_state_mib: float = DEVICE_STATE_MIB,
    resume_ms: float = 0.0,
) -> FastEstimates:
    """Closed-form estimates for constant dirty rates, vectorised over numpy arrays.

    Why: the optimizer's inner loop costs thousands of candidate moves; this needs no Python loop.
    It covers the QEMU-style threshold rule (``pending ≤ R·(d − t_resume − S_dev/R_sw)``), the Xen
    dirty-page and pass-cap rules, compression and the stall abort, with no throttle, no timeout and
    no data cap; use the simulation for those.

    Maths, with ``W_0`` the first-pass data, ``q = κ·D/R`` and ``V_1 = min(M, D·W_0/R)``:
    ``V_i = min(M, V_1·q^(i−1))``; the stop pass ``n`` is the first ``i`` meeting the rule (closed
    form via logarithms); the data sent before it is
    ``Σ_{i<n} κV_i = κ·(V_1·(1 − q^m)/(1 − q) + (n − 1 − m)·M)`` with ``m`` the passes below the
    memory cap; ``total = (W_0 + Σ)/R + (κV_n + S_dev)/R_sw + t_resume``. Without a pass cap,
    ``q ≥ 0.95`` stalls after 3 passes (4 when the first pass's ratio is below 0.95) and aborts.
    """
    mem = np.asarray(memory_mib, dtype=np.float64)
    dirty = np.asarray(dirty_rate_mibps, dtype=np.float64)
    rate = np.asarray(rate_mibps, dtype=np.float64)
    sw = rate if switchover_rate_mibps is None else np.asarray(switchover_rate_mibps, dtype=np.float64)
    nz = mem if nonzero_mib is None else np.asarray(nonzero_mib, dtype=np.float64)
    mem, dirty, rate, sw, nz = np.broadcast_arrays(mem, dirty, rate, sw, nz)
    if np.any(rate <= 0) or np.any(sw <= 0) or np.any(mem <= 0) or np.any(dirty < 0):
        raise ValueError("estimate_fast needs memory > 0, dirty rate >= 0 and rates > 0")
    kappa = float(compression_ratio)
    wire0 = nz + (mem - nz) * ZERO_PAGE_WIRE_FRACTION
    v1 = np.minimum(mem, dirty * (wire0 / rate))
    q = kappa * dirty / rate

    n_stop = np.full(mem.shape, np.inf)
    if threshold_rule:
        measured = sw if threshold_at_switchover_rate else rate
        budget = measured * (downtime_limit_ms / 1000.0 - resume_ms / 1000.0 - device_state_mib / sw)
        # κ·V_i ≤ budget  ⇔  V_i ≤ budget/κ; a negative budget is never met (except by V = 0).
        n_stop = np.minimum(n_stop, _first_index_below(v1, q, budget / kappa, strict=False))
    if min_dirty_pages is not None:
        target = np.full(mem.shape, min_dirty_pages * PAGE_MIB)
        n_stop = np.minimum(n_stop, _first_index_below(v1, q, target, strict=True))
    n_stop = np.where(v1 <= 0, 1.0, n_stop)
    if max_rounds is not None:
        n_stop = np.minimum(n_stop, float(max_rounds))
        n_stall = np.full(mem.shape, np.inf)
    else:
        first_ratio = kappa * v1 / wire0
        n_stall = np.where(q >= STALL_RATIO, np.where(first_ratio >= STALL_RATIO, 3.0, 4.0), np.inf)
    n_stop = np.minimum(n_stop, float(MAX_SIMULATED_ROUNDS))
    aborted = n_stall < n_stop
    n = np.where(aborted, n_stall, n_stop)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        growing = q > 1
        below_cap = np.where(
            growing,
            np.ceil(np.log(np.where(growing & (v1 > 0), mem / np.where(v1 > 0, v1, 1.0), 1.0)) / np.log(q)),
            n - 1,
        )
        m = np.clip(np.where(v1 <= 0, n - 1, below_cap), 0, n - 1)
        geometric = np.where(np.isclose(q, 1.0), v1 * m, v1 * (1 - q**m) / (1 - q))
        sent_between = kappa * (geometric + (n - 1 - m) * mem)
        v_n = np.minimum(mem, v1 * q ** (n - 1))
    v_n = np.where(v1 <= 0, 0.0, v_n)
    precopy_s = (wire0 + sent_between) / rate
    final_mib = kappa * v_n + device_state_mib
    downtime_s = final_mib / sw + resume_ms / 1000.0
    total = np.where(aborted, precopy_s, precopy_s + downtime_s)
    transferred = np.where(aborted, wire0 + sent_between, wire0 + sent_between + final_mib)
    downtime_ms = np.where(aborted, 0.0, 1000.0 * downtime_s)
    converges = ~aborted & (downtime_ms <= downtime_limit_ms * (1 + 1e-9) + 1e-9)
    return FastEstimates(
        total_s=total,
        downtime_ms=downtime_ms,
        transferred_mib=transferred,
        iterations=n.astype(np.int64),
        converges=converges,
        aborted=aborted,
    )

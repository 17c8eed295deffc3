"""What the greedy balancer minimizes: the imbalance, or only its part beyond the tolerance, and
how far hosts stand above a peak cap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Spread:
    """``of(std)`` folds per-resource standard deviations (axis 0) into the one number a move is
    scored by: their sum (``tolerance`` None, the classic DRS loop) or the sum of what each
    exceeds its resource's tolerance by. ``overshoot(u)`` is how far utilizations [r, …] stand
    above ``peak_cap`` [r] in all (0 without a cap), counted in the same units: a host above
    the cap outweighs the standard deviation, whose change per move is about 1/N as large."""

    tolerance: FloatArray | None = None
    peak_cap: FloatArray | None = None

    def of(self, std: FloatArray) -> FloatArray:
        if self.tolerance is None:
            return np.asarray(std.sum(axis=0), dtype=np.float64)
        shape = (len(self.tolerance),) + (1,) * (std.ndim - 1)
        beyond = np.maximum(std - self.tolerance.reshape(shape), 0.0)
        return np.asarray(beyond.sum(axis=0), dtype=np.float64)

    def overshoot(self, u: FloatArray) -> FloatArray:
        if self.peak_cap is None:
            return np.zeros(u.shape[1:], dtype=np.float64)
        shape = (len(self.peak_cap),) + (1,) * (u.ndim - 1)
        return np.asarray(np.maximum(u - self.peak_cap.reshape(shape), 0.0).sum(axis=0), dtype=np.float64)

    def within_cap(self, u: FloatArray) -> bool:
        """Whether every utilization of ``u`` [r, host] is at most its resource's cap."""
        return self.peak_cap is None or bool(np.all(u <= self.peak_cap[:, None] + 1e-12))

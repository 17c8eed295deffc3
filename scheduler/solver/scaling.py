"""Integer scaling for CP-SAT, in one place.

CP-SAT works on integers. Capacities and demands already are integers (MHz, MiB) and enter the
capacity constraints exactly. Only derived quantities need scaling:

- utilizations in the balance objective are expressed in *basis points of the average host*
  (``UTILIZATION_SCALE`` units for one average host's full capacity), so CPU and memory excesses
  are comparable and can be summed;
- migration seconds enter the cost objective in tenths of a second (``COST_SCALE``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

UTILIZATION_SCALE = 10_000  # one average host's capacity = 10,000 units (0.01 % resolution)
COST_SCALE = 10  # migration cost unit: 0.1 s


def scaled_demands(
    demand: npt.NDArray[np.int64], capacity: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Scale demands and capacities of one resource so that the average capacity is UTILIZATION_SCALE.

    Returns (scaled demand per VM, scaled capacity per host). Rounding keeps every positive
    demand at least one unit so that no VM becomes free in the balance objective.
    """
    factor = scale_factor(capacity)
    scaled = np.rint(demand * factor).astype(np.int64)
    scaled[(demand > 0) & (scaled == 0)] = 1
    return scaled, np.rint(capacity * factor).astype(np.int64)


def scale_factor(capacity: npt.NDArray[np.int64]) -> float:
    """Scaled units per raw unit (MHz, MiB) of one resource: UTILIZATION_SCALE / mean capacity."""
    mean_capacity = float(capacity.mean()) if capacity.size else 1.0
    return UTILIZATION_SCALE / max(mean_capacity, 1.0)


def cost_units(seconds: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Migration seconds as integer cost units (at least one unit per move, so moving is never free)."""
    units = np.ceil(seconds * COST_SCALE).astype(np.int64)
    return np.maximum(units, 1)

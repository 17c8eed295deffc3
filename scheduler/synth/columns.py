"""The column tables' shared vocabulary: NumPy array types and the integer codes of host states
and restricted attachments (hosts and VMs are drawn as index-aligned arrays, not objects)."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from scheduler.model import HostState

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

UP, MAINTENANCE, STANDBY, DOWN = 0, 1, 2, 3
STATE_OF_CODE: Final = (HostState.UP, HostState.MAINTENANCE, HostState.STANDBY, HostState.DOWN)
NEED_ISLAND, NEED_DMZ = 1, 2  # bits of a VM's restricted attachments

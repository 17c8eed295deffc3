"""A ``Problem`` built straight from an instance, for tests of the pieces that consume one (local
search, symmetry) without the optimizer's preparation in between."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scheduler.compat import compatibility
from scheduler.model import NO_HOST, Instance
from scheduler.solver.costs import move_costs
from scheduler.solver.problem import POWER_DECIDE, POWER_ON, Problem

RESOURCES = ("cpu", "memory")


def whole_problem(
    instance: Instance,
    *,
    dpm: bool = False,
    warm: npt.NDArray[np.int64] | None = None,
    candidates: tuple[npt.NDArray[np.int64], ...] | None = None,
) -> Problem:
    """Every VM free, DRS measuring CPU and memory, no DPM high target.

    ``dpm``: every host's power is DPM's to decide, else every host stays on. ``warm``: the
    warm start (default: today's placement). ``candidates``: each VM's hosts (default: every
    host compatibility allows). New VMs (no host today) must be placed; nothing else must move.
    """
    n_vms, n_hosts = instance.num_vms, instance.num_hosts
    allowed = compatibility(instance).allowed
    costs = move_costs(instance)
    return Problem(
        instance=instance,
        allowed=allowed,
        movable=np.ones(n_vms, dtype=np.bool_),
        cost_s=costs.seconds,
        converges=costs.converges,
        mandatory=instance.current_host == NO_HOST,
        power=np.full(n_hosts, POWER_DECIDE if dpm else POWER_ON),
        free=np.arange(n_vms),
        candidates=candidates or tuple(np.flatnonzero(allowed[v]) for v in range(n_vms)),
        warm=instance.current_host.copy() if warm is None else warm,
        warm_on=np.ones(n_hosts, dtype=np.bool_),
        dpm_high=None,
        resources=RESOURCES,
    )

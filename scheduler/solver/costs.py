"""Per-VM migration cost for the objective: estimated seconds and convergence, at a full link share.

The CP objective needs one number per VM: the pre-copy estimate of moving it alone. The planner
later times each move at the bandwidth it really gets. VMs with the same memory, non-zero memory
and dirty rate share one estimate. The rate is matched exactly, not rounded: whether a move
converges flips at a precise rate, and a verdict shared across a rounding bucket once declared a
VM that must move infeasible for its neighbour's abort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scheduler.migration.precopy import estimate_vm, migration_input_for, preset_for_policy, simulate
from scheduler.model import Instance


@dataclass(frozen=True, slots=True)
class MoveCosts:
    seconds: npt.NDArray[np.float64]  # estimated total migration time (pessimistic when high-risk)
    converges: npt.NDArray[np.bool_]  # False: not a safe move (aborts, forced stop, or high risk)
    completes: npt.NDArray[np.bool_]  # False: the preset aborts it even alone on an idle link


def move_costs(instance: Instance) -> MoveCosts:
    """Estimate every VM's migration once per distinct (memory, non-zero memory, dirty rate)."""
    policy = instance.policy.migration
    seconds = np.zeros(instance.num_vms, dtype=np.float64)
    converges = np.ones(instance.num_vms, dtype=np.bool_)
    completes = np.ones(instance.num_vms, dtype=np.bool_)
    cache: dict[tuple[int, int | None, float], tuple[float, bool, bool]] = {}
    for i, vm in enumerate(instance.vms):
        key = (vm.memory_mib, vm.nonzero_mib, vm.dirty_rate_mibps)
        hit = cache.get(key)
        if hit is None:
            est = estimate_vm(vm, policy)
            if est.high_risk:  # the figures are the pessimistic ones: ask the nominal run
                est_nominal = simulate(migration_input_for(vm, policy), preset_for_policy(policy))
                nominal = est_nominal.outcome != "aborted"
            else:
                nominal = est.outcome != "aborted"
            hit = (est.total_s, est.converges and not est.high_risk, nominal)
            cache[key] = hit
        seconds[i], converges[i], completes[i] = hit
    return MoveCosts(seconds, converges, completes)


def unsafe_vms(instance: Instance, costs: MoveCosts) -> frozenset[str]:
    """The names of the VMs whose live migration is not safe (``converges`` False)."""
    return frozenset(vm.name for vm, ok in zip(instance.vms, costs.converges, strict=True) if not ok)

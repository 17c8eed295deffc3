"""What the optimizer derives from an inventory before it decides anything.

Compatibility, migration costs, host power, the moves that cannot be avoided and the conflicts that
end a run at once, derived once (``prepare``) into one frozen record (``Prepared``) that the later
steps read: the warm start (``warm_start.py``), the "nothing to do?" checks, the scope and the
model (``optimize.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scheduler.check.metrics import drs_tolerance
from scheduler.compat import Compatibility, compatibility
from scheduler.model import NO_HOST, Conflict, HostState, Instance
from scheduler.solver.conflicts import migration_conflicts, structural_conflicts
from scheduler.solver.costs import MoveCosts, move_costs, unsafe_vms
from scheduler.solver.problem import POWER_OFF, host_power, mandatory_moves

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Prepared:
    """The optimizer's view of one inventory before any decision.

    Attributes:
        instance: the inventory.
        compat: where each VM may end up (compatibility, priority-1 rules, host state).
        movable: VMs the optimizer may move at all (not pinned, no devices, DRS on, ...).
        costs: each VM's migration seconds and whether its migration converges and completes.
        unsafe: the VMs whose migration is unsafe, named for the plan's explanations.
        power: per host POWER_ON, POWER_OFF or POWER_DECIDE (DPM decides), before the warm start.
        mandatory: VMs that must be (re)placed: new VMs, VMs on hosts that end off or forbid them.
        usable: hosts that may be on at the end (not POWER_OFF).
        movable_optional: VMs that may move without having to (movable, and converging).
        up_now: hosts up today.
        conflicts: what makes the instance infeasible without a search (none: go on).
        notes: for the plan, about VMs whose migration would not converge.
    """

    instance: Instance
    compat: Compatibility
    movable: BoolArray
    costs: MoveCosts
    unsafe: frozenset[str]
    power: IntArray
    mandatory: BoolArray
    usable: BoolArray
    movable_optional: BoolArray
    up_now: BoolArray
    conflicts: tuple[Conflict, ...]
    notes: tuple[str, ...]

    @property
    def allowed(self) -> BoolArray:
        """[vm, host] where a VM may end up."""
        return self.compat.allowed

    @property
    def dpm(self) -> bool:
        """Whether DPM decides host power."""
        return self.instance.policy.dpm.enabled

    @property
    def resources(self) -> tuple[str, ...]:
        """The resources DRS balances."""
        return self.instance.policy.drs.measure.resources

    @property
    def balances(self) -> bool:
        """Whether DRS balances at all (on, and a threshold with a finite tolerance)."""
        drs = self.instance.policy.drs
        return drs.enabled and math.isfinite(drs_tolerance(drs.threshold, 1))


def prepare(instance: Instance) -> Prepared:
    """Derive what every later step needs; ``conflicts`` says when the instance is infeasible as is."""
    compat = compatibility(instance)
    allowed = compat.allowed
    movable = np.array([not v.immobility_reasons() for v in instance.vms], dtype=np.bool_)
    costs = move_costs(instance)
    # Named once here for the plan's explanations (unmovable, what a rule yields to).
    unsafe = unsafe_vms(instance, costs)
    power = host_power(instance, instance.policy.dpm.enabled, movable)
    mandatory = mandatory_moves(instance, allowed, power)
    conflicts = structural_conflicts(instance, compat, power)
    conflicts += migration_conflicts(instance, mandatory & movable & ~costs.completes)
    # A move that would not converge is never optional: non-converging moves are forbidden.
    movable_optional = movable & costs.converges
    return Prepared(
        instance=instance,
        compat=compat,
        movable=movable,
        costs=costs,
        unsafe=unsafe,
        power=power,
        mandatory=mandatory,
        usable=power != POWER_OFF,
        movable_optional=movable_optional,
        up_now=np.array([h.state is HostState.UP for h in instance.hosts]),
        conflicts=tuple(conflicts),
        notes=_non_converging_notes(instance, movable & ~costs.converges),
    )


def _non_converging_notes(instance: Instance, stuck: BoolArray) -> tuple[str, ...]:
    """What the plan says about the movable VMs whose live migration would not converge."""
    notes: list[str] = []
    placed_today = instance.current_host != NO_HOST
    if np.any(stuck & placed_today):
        notes.append(
            f"{int(np.sum(stuck & placed_today))} VM(s) kept in place unless they must move: "
            "their live migration would not converge"
        )
    if np.any(stuck & ~placed_today):
        # Placing a new VM is no migration, but moving it later would be: where it lands is final.
        notes.append(
            f"{int(np.sum(stuck & ~placed_today))} new VM(s) placed for good: once running, their "
            "live migration would not converge"
        )
    return tuple(notes)

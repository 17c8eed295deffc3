"""What the optimizer returns: plain data, no OR-tools types."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from scheduler.model import Conflict
from scheduler.solver.scaling import COST_SCALE

COST_UNIT = f"{1 / COST_SCALE:g} s"  # the unit the migration-cost level counts in: 1 / COST_SCALE seconds
# Level names that readers of a plan single out: DPM's is a constant when DPM is off, and the DRS
# level counts as optimal within DRS_RELATIVE_GAP of its bound.
DPM_LEVEL = "dpm hosts on"
# Named in the notes of a plan threshold 5 leaves unchanged for too small a gain; the plan's
# explanations of the VMs left on hot hosts look for it there.
MIN_GOODNESS = "threshold 5's minimum goodness"
DRS_LEVEL = "drs imbalance"
DRS_RELATIVE_GAP = 0.01


class SolveStatus(StrEnum):
    OPTIMAL = "optimal"  # every level proven optimal
    FEASIBLE = "feasible"  # a valid placement; some level not proven optimal in time
    UNCHANGED = "unchanged"  # nothing to do: the current placement is already the answer
    INFEASIBLE = "infeasible"  # hard constraints cannot hold together; see conflicts


@dataclass(frozen=True, slots=True)
class LevelOutcome:
    """One lexicographic level: the value fixed for later levels and CP-SAT's proven bound."""

    name: str
    value: float
    bound: float
    optimal: bool
    wall_s: float
    unit: str

    def to_dict(self) -> dict[str, object]:
        return {
            "level": self.name,
            "value": self.value,
            "bound": self.bound,
            "optimal": self.optimal,
            "wall_s": round(self.wall_s, 3),
            "unit": self.unit,
        }


def level_amount(value: float, unit: str, *, named: bool = True) -> str:
    """A level's value for people: migration cost in seconds, counts with thousands separators
    (the plan keeps the raw value and its unit). ``named=False`` leaves a count's unit out, for a
    bound printed next to its value."""
    if unit == COST_UNIT:
        return f"{value / COST_SCALE:,.1f} s"
    number = f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{number} {unit}" if named else number


@dataclass(frozen=True, slots=True)
class OptimizeResult:
    status: SolveStatus
    placement: dict[str, str]
    host_states: dict[str, str]
    levels: tuple[LevelOutcome, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    free_vms: int = 0
    candidate_pairs: int = 0
    solve_time_s: float = 0.0
    interrupted: bool = False
    notes: tuple[str, ...] = field(default=())
    # Under a move budget, the optional moves capacity forced, which the budget does not count
    # (docs/optimizer.md, the move budget): what a rule left broken yields to depends on it.
    forced_moves: int = 0
    # VMs whose live migration is not safe (it would abort, overrun the downtime limit, or is at
    # risk of either): moved only when they must. Empty for an infeasible result.
    unsafe_moves: frozenset[str] = frozenset()

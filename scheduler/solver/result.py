"""What the optimizer returns: plain data, no OR-tools types."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from scheduler.model import Conflict


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

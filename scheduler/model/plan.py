"""The plan (docs/plan.md): a target placement, the timed migrations and power actions reaching it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

PLAN_FORMAT = "scheduler-plan/1"


class PlanStatus(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    UNCHANGED = "unchanged"
    INFEASIBLE = "infeasible"


class MoveReason(StrEnum):
    DRS = "drs"
    DPM = "dpm"
    RULE = "rule"
    MAINTENANCE = "maintenance"
    PARKING = "parking"
    PLACEMENT = "placement"  # a move the target asks for with no single reason given


class PowerActionKind(StrEnum):
    POWER_ON = "power_on"
    POWER_OFF = "power_off"


@dataclass(frozen=True, slots=True)
class MigrationEstimateRecord:
    """The pre-copy estimate a plan carries for one move (extra keys are kept in ``extra``)."""

    total_s: float
    downtime_ms: float
    transferred_mib: float
    iterations: int
    converges: bool
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Migration:
    vm: str
    source: str
    target: str
    start_s: float
    end_s: float
    reason: MoveReason
    estimate: MigrationEstimateRecord


@dataclass(frozen=True, slots=True)
class PowerAction:
    host: str
    action: PowerActionKind
    at_s: float


@dataclass(frozen=True, slots=True)
class Violation:
    """A soft rule the plan leaves broken, and what it yields to."""

    rule: str
    priority: int
    vms: tuple[str, ...]
    detail: str


# How a reason of ``Unmovable`` starts when the VM could move but the balancer left it on a host
# that ends hot; the host's name follows, then why ("... off hot host cna-03: kept with ...").
BALANCER_WISH = "balancer wanted it off hot host"
# How the reason of ``Unmovable`` starts when the VM may move but only when it must, its live
# migration not being safe (it would abort, exceed the downtime limit, or is at risk of either).
UNSAFE_MIGRATION = "its live migration would not converge safely"
# Why a VM that may move stays: the optimizer's first target moved it, no safe order of live
# migrations reached that target, and the plan was made again with it held where it is.
KEPT_IN_PLACE = "kept in place: no safe order of live migrations reached a target that moves it"


@dataclass(frozen=True, slots=True)
class Unmovable:
    """A VM the plan does not move, with why: it cannot move at all, or (a reason starting with
    ``BALANCER_WISH``) the balancer would have moved it and something stopped it."""

    vm: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Conflict:
    """One member of a minimal set of rules / hosts / VMs that cannot hold together."""

    kind: str  # "rule" | "capacity" | "compatibility" | "maintenance" | ...
    name: str
    explanation: str
    rules: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    vms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    """A plan document. ``placement`` and ``host_states`` describe the final state."""

    cluster: str
    status: PlanStatus
    placement: dict[str, str]
    host_states: dict[str, str]
    migrations: tuple[Migration, ...] = ()
    power_actions: tuple[PowerAction, ...] = ()
    violations: tuple[Violation, ...] = ()
    unmovable: tuple[Unmovable, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    metrics: dict[str, Any] = field(default_factory=dict)
    format: str = PLAN_FORMAT

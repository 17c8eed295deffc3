"""The pure domain model: no solver, no I/O."""

from scheduler.model.host import CpuModel, Host, HostState, PowerModel
from scheduler.model.instance import NO_HOST, Instance
from scheduler.model.plan import (
    BALANCER_WISH,
    KEPT_IN_PLACE,
    PLAN_FORMAT,
    UNSAFE_MIGRATION,
    Conflict,
    Migration,
    MigrationEstimateRecord,
    MoveReason,
    Plan,
    PlanStatus,
    PowerAction,
    PowerActionKind,
    Unmovable,
    Violation,
)
from scheduler.model.policy import DpmPolicy, DrsPolicy, Measure, MigrationPolicy, Policy
from scheduler.model.rules import HostRuleMode, Rule, RuleKind
from scheduler.model.vm import VM

__all__ = [
    "BALANCER_WISH",
    "KEPT_IN_PLACE",
    "NO_HOST",
    "PLAN_FORMAT",
    "UNSAFE_MIGRATION",
    "VM",
    "Conflict",
    "CpuModel",
    "DpmPolicy",
    "DrsPolicy",
    "Host",
    "HostRuleMode",
    "HostState",
    "Instance",
    "Measure",
    "Migration",
    "MigrationEstimateRecord",
    "MigrationPolicy",
    "MoveReason",
    "Plan",
    "PlanStatus",
    "Policy",
    "PowerAction",
    "PowerActionKind",
    "PowerModel",
    "Rule",
    "RuleKind",
    "Unmovable",
    "Violation",
]

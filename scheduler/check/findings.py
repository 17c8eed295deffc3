"""Findings: what a checker reports, one per broken requirement, with where and when."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Finding codes. Stable strings: tests, the CLI and the plan writer match on them.
CAPACITY_CPU = "capacity.cpu"
CAPACITY_MEMORY = "capacity.memory"
CAPACITY_OVERLOADED_TARGET = "capacity.overloaded_target"  # a host over capacity at the start took a VM
COMPAT = "compat"
IMMOBILE = "immobile"
RULE_P1 = "rule.p1"
MAINTENANCE = "maintenance"
HOST_DOWN = "host.down"
HOST_STATE = "host.state"  # an invalid state value or transition
POWER_OFF_NOT_EMPTY = "power.off_not_empty"
POWER_INVALID = "power.invalid"  # powering off a host that is not up, on one that is not standby
POWER_OFF_TARGET = "power.off_target"  # a move into a host that is powered off
DPM_MIN_HOSTS_ON = "dpm.min_hosts_on"
CONCURRENCY = "concurrency"
REPLAY_MISMATCH = "replay.mismatch"
MIGRATION_DURATION = "migration.duration"
MIGRATION_TIME = "migration.time"  # negative start or end before start
MIGRATION_SOURCE = "migration.source"  # the VM is not on the source when the move starts
MIGRATION_SELF = "migration.self"  # source equals target
MIGRATION_OVERLAP = "migration.overlap"  # a VM starts a move while another of its moves runs
MIGRATION_NEW_VM = "migration.new_vm"  # a migration of a VM that has no host yet
MIGRATION_ABORTED = "migration.aborted"  # its own estimate says the move gives up: the VM stays put
MIGRATION_TIMING = "migration.timing"  # re-simulated on the shared links, the move ends or behaves otherwise
BOOT = "boot"  # a move into a host before boot_s after its power_on
PLACEMENT_MISSING = "placement.missing"
HOST_STATES_MISSING = "host_states.missing"
UNKNOWN_VM = "unknown.vm"
UNKNOWN_HOST = "unknown.host"
UNKNOWN_RULE = "unknown.rule"
VIOLATION_UNREPORTED = "violation.unreported"  # a broken priority-2/3 rule missing from plan.violations
VIOLATION_SPURIOUS = "violation.spurious"  # plan.violations names a rule the final state satisfies
VIOLATION_ENTRY = "violation.entry"  # an entry that misdescribes its rule (priority, VMs, listed twice)
CONFLICTS_EMPTY = "conflicts.empty"
PLAN_FORMAT = "plan.format"
PLAN_CLUSTER = "plan.cluster"
PLAN_STATUS = "plan.status"


@dataclass(frozen=True, slots=True)
class Finding:
    """One requirement a placement or plan breaks.

    ``code`` is a stable dotted identifier (the constants above); ``message`` is for people;
    ``at_s`` is the plan time of the event that broke it (None for final-state findings).
    """

    code: str
    message: str
    at_s: float | None = None
    host: str | None = None
    vm: str | None = None
    rule: str | None = None

    def __str__(self) -> str:
        when = f"t={self.at_s:g}s: " if self.at_s is not None else ""
        return f"[{self.code}] {when}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, without the empty fields."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("at_s", "host", "vm", "rule"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

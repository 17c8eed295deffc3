"""Cluster policy: DRS, DPM, memory overcommit, IMC baseline and migration settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from scheduler.model import defaults as d
from scheduler.model.host import CpuModel


class Measure(StrEnum):
    """What DRS balances."""

    CPU = "cpu"
    MEMORY = "memory"
    CPU_MEMORY = "cpu_memory"

    @property
    def resources(self) -> tuple[str, ...]:
        if self is Measure.CPU:
            return ("cpu",)
        if self is Measure.MEMORY:
            return ("memory",)
        return ("cpu", "memory")


@dataclass(frozen=True, slots=True)
class DrsPolicy:
    enabled: bool = d.DEFAULT_DRS_ENABLED
    measure: Measure = Measure.CPU_MEMORY  # DEFAULT_DRS_MEASURE
    threshold: int = d.DEFAULT_DRS_THRESHOLD  # 1 conservative .. 5 aggressive


@dataclass(frozen=True, slots=True)
class DpmPolicy:
    enabled: bool = d.DEFAULT_DPM_ENABLED
    threshold: int = d.DEFAULT_DPM_THRESHOLD
    target_utilization: tuple[float, float] = d.DEFAULT_DPM_TARGET_UTILIZATION
    min_hosts_on: int = d.DEFAULT_DPM_MIN_HOSTS_ON


@dataclass(frozen=True, slots=True)
class MigrationPolicy:
    network_gbps: float = d.DEFAULT_NETWORK_GBPS
    max_concurrent_per_host: int = d.DEFAULT_MAX_CONCURRENT_PER_HOST
    downtime_limit_ms: float = d.DEFAULT_DOWNTIME_LIMIT_MS
    hypervisor: str = d.DEFAULT_HYPERVISOR
    timeout_s: float | None = d.DEFAULT_MIGRATION_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class Policy:
    drs: DrsPolicy = field(default_factory=DrsPolicy)
    dpm: DpmPolicy = field(default_factory=DpmPolicy)
    memory_overcommit: float = d.DEFAULT_MEMORY_OVERCOMMIT
    imc: CpuModel | None = None  # cluster CPU baseline; None = no IMC
    migration: MigrationPolicy = field(default_factory=MigrationPolicy)

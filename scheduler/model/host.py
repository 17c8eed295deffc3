"""Hosts: capacity, CPU model, attached storage and networks, power state and power curve."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from scheduler.model.defaults import DEFAULT_BOOT_S, DEFAULT_IDLE_W, DEFAULT_MAX_W


class HostState(StrEnum):
    """Power and administrative state of a host (docs/inventory.md)."""

    UP = "up"
    MAINTENANCE = "maintenance"  # must be emptied, receives nothing
    STANDBY = "standby"  # powered off by DPM, may be powered on
    DOWN = "down"  # unusable


@dataclass(frozen=True, slots=True)
class CpuModel:
    """CPU vendor and generation, as compared by the IMC compatibility rule."""

    vendor: str
    generation: int


@dataclass(frozen=True, slots=True)
class PowerModel:
    """Linear power curve (idle to max on CPU utilization) and the time to boot from standby."""

    idle_w: float = DEFAULT_IDLE_W
    max_w: float = DEFAULT_MAX_W
    boot_s: float = DEFAULT_BOOT_S

    def watts(self, cpu_utilization: float) -> float:
        """Power drawn at a CPU utilization in [0, 1] (values above 1 are clipped)."""
        u = min(max(cpu_utilization, 0.0), 1.0)
        return self.idle_w + (self.max_w - self.idle_w) * u


@dataclass(frozen=True, slots=True)
class Host:
    """A compute host (a CNA in FusionCompute, an ESXi host in vSphere)."""

    name: str
    cpu_mhz: int
    memory_mib: int
    cpu: CpuModel
    datastores: frozenset[str] = frozenset()
    networks: frozenset[str] = frozenset()
    state: HostState = HostState.UP
    power: PowerModel = PowerModel()

    @property
    def is_usable(self) -> bool:
        """Whether the host can run VMs at the end of a plan (possibly after a power-on)."""
        return self.state in (HostState.UP, HostState.STANDBY)

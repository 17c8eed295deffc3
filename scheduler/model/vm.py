"""Virtual machines: configured size, current demand, dirty rate and what ties them down."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.model.defaults import DEFAULT_DIRTY_RATE_MIBPS


@dataclass(frozen=True, slots=True)
class VM:
    """A virtual machine as the inventory describes it.

    ``host`` is ``None`` for a new VM that needs initial placement. Demands are what the balancer
    measures; ``memory_mib`` (configured) is what capacity admission counts.
    """

    name: str
    host: str | None
    vcpus: int
    memory_mib: int
    cpu_demand_mhz: int
    memory_demand_mib: int
    dirty_rate_mibps: float = DEFAULT_DIRTY_RATE_MIBPS
    datastores: frozenset[str] = frozenset()
    networks: frozenset[str] = frozenset()
    drs_enabled: bool = True
    pinned: bool = False
    devices: tuple[str, ...] = ()
    linked_clone: bool = False
    nonzero_mib: int | None = None  # memory holding non-zero pages, when known

    @property
    def is_new(self) -> bool:
        """Whether the VM has no host yet (initial placement)."""
        return self.host is None

    def immobility_reasons(self) -> list[str]:
        """Why the optimizer may never move this VM (empty when it may)."""
        reasons: list[str] = []
        if self.pinned:
            reasons.append("pinned to its host")
        if self.devices:
            reasons.append("has devices: " + ", ".join(self.devices))
        if not self.drs_enabled:
            reasons.append("DRS disabled for this VM")
        if self.linked_clone:
            reasons.append("linked clone (its parent volume cannot move)")
        return reasons

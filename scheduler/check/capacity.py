"""Per-host loads of a placement and the capacity rule of docs/inventory.md.

Capacity, per host h over the VMs v placed on it:
    Σ cpu_demand_mhz(v) ≤ cpu_mhz(h)
    Σ memory_mib(v)     ≤ memory_mib(h) × memory_overcommit      (configured memory, not demand)
Balance and metrics use demand instead: memory utilization = Σ memory_demand_mib / memory_mib.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scheduler.check.findings import CAPACITY_CPU, CAPACITY_MEMORY, Finding
from scheduler.model import NO_HOST, Instance
from scheduler.model.instance import BoolArray, FloatArray, IntArray

# Memory admission is a float (host memory × overcommit); integer sums are compared with this slack
# so that a load equal to the admission limit never fails on rounding.
CAPACITY_SLACK = 1e-9


@dataclass(frozen=True, slots=True)
class HostLoads:
    """Sums over the VMs on each host, in ``instance.hosts`` order."""

    cpu_demand_mhz: IntArray
    memory_demand_mib: IntArray
    memory_configured_mib: IntArray
    num_vms: IntArray


def placement_indices(instance: Instance, placement: Mapping[str, str]) -> IntArray:
    """Host index of every VM under ``placement`` (``NO_HOST`` where it names no known host)."""
    host_index = instance.host_index
    return np.array(
        [host_index.get(placement.get(v.name, ""), NO_HOST) for v in instance.vms],
        dtype=np.int64,
    )


def host_loads(instance: Instance, host_of_vm: IntArray) -> HostLoads:
    """Loads per host for a placement given as host indices (``NO_HOST`` VMs count nowhere).

    Vectorized with ``np.bincount``: O(VMs + hosts).
    """
    placed = host_of_vm != NO_HOST
    where = host_of_vm[placed]
    n = instance.num_hosts

    def total(column: IntArray) -> IntArray:
        sums = np.bincount(where, weights=column[placed].astype(np.float64), minlength=n)
        return np.rint(sums).astype(np.int64)  # exact: integer sums well below 2**53

    return HostLoads(
        cpu_demand_mhz=total(instance.vm_cpu_demand_mhz),
        memory_demand_mib=total(instance.vm_memory_demand_mib),
        memory_configured_mib=total(instance.vm_memory_mib),
        num_vms=np.bincount(where, minlength=n).astype(np.int64),
    )


def cpu_over(instance: Instance, cpu_demand_mhz: IntArray) -> BoolArray:
    """Hosts whose CPU demand exceeds their capacity."""
    over: BoolArray = cpu_demand_mhz > instance.host_cpu_mhz
    return over


def memory_over(instance: Instance, memory_configured_mib: IntArray | FloatArray) -> BoolArray:
    """Hosts whose configured VM memory exceeds memory × overcommit."""
    limit = instance.host_memory_admission_mib
    over: BoolArray = memory_configured_mib > limit * (1.0 + CAPACITY_SLACK)
    return over


def over_capacity(instance: Instance, loads: HostLoads) -> BoolArray:
    """Hosts over capacity in CPU or memory."""
    over: BoolArray = cpu_over(instance, loads.cpu_demand_mhz) | memory_over(
        instance, loads.memory_configured_mib
    )
    return over


def capacity_findings(instance: Instance, loads: HostLoads, at_s: float | None = None) -> list[Finding]:
    """One finding per host and resource over capacity."""
    out: list[Finding] = []
    for i in np.flatnonzero(cpu_over(instance, loads.cpu_demand_mhz)):
        h = instance.hosts[i]
        out.append(
            Finding(
                CAPACITY_CPU,
                f"host {h.name}: CPU demand {int(loads.cpu_demand_mhz[i])} MHz exceeds {h.cpu_mhz} MHz",
                at_s=at_s,
                host=h.name,
            )
        )
    for i in np.flatnonzero(memory_over(instance, loads.memory_configured_mib)):
        h = instance.hosts[i]
        limit = float(instance.host_memory_admission_mib[i])
        out.append(
            Finding(
                CAPACITY_MEMORY,
                f"host {h.name}: configured memory {int(loads.memory_configured_mib[i])} MiB exceeds "
                f"{limit:g} MiB (memory × overcommit)",
                at_s=at_s,
                host=h.name,
            )
        )
    return out

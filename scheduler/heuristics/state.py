"""A mutable placement with incrementally maintained host loads, for greedy algorithms."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scheduler.model import NO_HOST, Instance, RuleKind

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class LoadState:
    """Host loads of one assignment (VM index → host index), updated in O(1) per move.

    Capacity admission counts CPU demand and *configured* memory (docs/inventory.md); balance is measured
    on CPU demand and memory demand. All three loads are kept.
    """

    def __init__(self, instance: Instance, assignment: IntArray) -> None:
        self.instance = instance
        self.assignment = assignment.astype(np.int64).copy()
        n = instance.num_hosts
        placed = self.assignment != NO_HOST
        hosts = self.assignment[placed]
        self.cpu = np.bincount(hosts, instance.vm_cpu_demand_mhz[placed], minlength=n).astype(np.int64)
        self.mem_config = np.bincount(hosts, instance.vm_memory_mib[placed], minlength=n).astype(np.int64)
        self.mem_demand = np.bincount(hosts, instance.vm_memory_demand_mib[placed], minlength=n).astype(
            np.int64
        )
        self.cpu_capacity = instance.host_cpu_mhz
        self.mem_capacity = instance.host_memory_admission_mib
        self.count = np.bincount(hosts, minlength=n).astype(np.int64)

    def admits(
        self,
        hosts: IntArray | slice,
        cpu: FloatArray | float,
        mem_config: FloatArray | float,
        mem_demand: FloatArray | float,
        cpu_limit: FloatArray | None = None,
        mem_demand_limit: FloatArray | None = None,
    ) -> BoolArray:
        """Whether each of ``hosts`` stays within its limits with the given loads added (scalars,
        or one per host; negative for load that leaves): CPU demand within ``cpu_limit`` (its
        capacity by default), configured memory within the admission limit, memory demand within
        ``mem_demand_limit`` (unlimited by default). Every greedy that places VMs asks this one
        question, so they agree on what fits."""
        cpu_cap = self.cpu_capacity[hosts] if cpu_limit is None else cpu_limit[hosts]
        within = (self.cpu[hosts] + cpu <= cpu_cap) & (
            self.mem_config[hosts] + mem_config <= self.mem_capacity[hosts]
        )
        if mem_demand_limit is not None:
            within &= self.mem_demand[hosts] + mem_demand <= mem_demand_limit[hosts]
        return np.asarray(within, dtype=np.bool_)

    def fits_mask(self, vm: int, cpu_limit: FloatArray | None = None) -> BoolArray:
        """Hosts ``vm`` fits on, as a boolean vector (its own host counts as fitting)."""
        inst = self.instance
        mask = self.admits(
            slice(None),
            inst.vm_cpu_demand_mhz[vm],
            inst.vm_memory_mib[vm],
            inst.vm_memory_demand_mib[vm],
            cpu_limit,
        )
        current = self.assignment[vm]
        if current != NO_HOST:
            mask[current] = True
        return mask

    def move(self, vm: int, host: int) -> None:
        """Move (or place, or unplace with ``NO_HOST``) one VM."""
        inst = self.instance
        old = self.assignment[vm]
        if old == host:
            return
        cpu, mem, dem = inst.vm_cpu_demand_mhz[vm], inst.vm_memory_mib[vm], inst.vm_memory_demand_mib[vm]
        if old != NO_HOST:
            self.cpu[old] -= cpu
            self.mem_config[old] -= mem
            self.mem_demand[old] -= dem
            self.count[old] -= 1
        if host != NO_HOST:
            self.cpu[host] += cpu
            self.mem_config[host] += mem
            self.mem_demand[host] += dem
            self.count[host] += 1
        self.assignment[vm] = host

    def over_capacity(self) -> BoolArray:
        return np.asarray(
            (self.cpu > self.cpu_capacity) | (self.mem_config > self.mem_capacity), dtype=np.bool_
        )

    def load(self, resource: str) -> IntArray:
        """Demand per host for ``cpu`` or ``memory`` (docs/inventory.md, balance), in the units
        of ``Instance.balance_columns``."""
        return self.cpu if resource == "cpu" else self.mem_demand

    def utilization(self, resource: str) -> FloatArray:
        """Demand utilization per host for ``cpu`` or ``memory`` (docs/inventory.md, balance)."""
        return self.load(resource) / self.instance.balance_columns(resource)[1].astype(np.float64)


def displaced(instance: Instance, allowed: BoolArray, on_mask: BoolArray) -> BoolArray:
    """VMs that cannot stay where they are: new VMs (no host), VMs on a host that is not among
    ``on_mask`` and VMs whose host ``allowed`` forbids them (compatibility, priority-1 rules)."""
    current = instance.current_host
    out = current == NO_HOST
    placed = np.flatnonzero(~out)
    out[placed] = ~on_mask[current[placed]] | ~allowed[placed, current[placed]]
    return np.asarray(out, dtype=np.bool_)


def high_target_limits(instance: Instance, high_target: float) -> tuple[FloatArray, FloatArray]:
    """Per-host CPU and memory-demand limits at DPM's high target, floored as the CP model has them
    (so that a greedy result within them is feasible for the model too)."""
    return (
        np.floor(instance.host_cpu_mhz * high_target).astype(np.float64),
        np.floor(instance.host_memory_mib * high_target).astype(np.float64),
    )


def rule_groups(instance: Instance, kind: RuleKind) -> IntArray:
    """Per VM, the index of its rule of ``kind`` among ``instance.rules_of_kind(kind)``, or -1
    (a VM is in at most one affinity and one anti-affinity rule)."""
    group = np.full(instance.num_vms, -1, dtype=np.int64)
    for g, rule in enumerate(instance.rules_of_kind(kind)):
        group[[instance.vm_index[name] for name in rule.vms]] = g
    return group


def partner_hosts(anti_group: IntArray, assignment: IntArray, vm: int) -> IntArray:
    """The hosts holding ``vm``'s anti-affinity partners (``anti_group`` from ``rule_groups``):
    where it may not go. Empty when it is in no anti-affinity rule."""
    if anti_group[vm] < 0:
        return np.zeros(0, dtype=np.int64)
    partners = np.flatnonzero(anti_group == anti_group[vm])
    hosts = assignment[partners[partners != vm]]
    return np.asarray(hosts[hosts != NO_HOST], dtype=np.int64)

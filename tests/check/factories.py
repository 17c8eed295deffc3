"""Builders for tiny, hand-checkable instances and plans, straight from the model dataclasses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from scheduler.model import (
    VM,
    CpuModel,
    DpmPolicy,
    Host,
    HostRuleMode,
    HostState,
    Instance,
    Migration,
    MigrationEstimateRecord,
    MigrationPolicy,
    MoveReason,
    Plan,
    PlanStatus,
    Policy,
    PowerAction,
    PowerActionKind,
    PowerModel,
    Rule,
    RuleKind,
    Violation,
)


def host(
    name: str,
    cpu_mhz: int = 10_000,
    memory_mib: int = 16_384,
    *,
    vendor: str = "intel",
    generation: int = 3,
    datastores: Iterable[str] = ("ds-1",),
    networks: Iterable[str] = ("dvs-1",),
    state: HostState | str = HostState.UP,
    idle_w: float = 100.0,
    max_w: float = 300.0,
    boot_s: float = 300.0,
) -> Host:
    """A host with round numbers: 10 GHz, 16 GiB, Intel generation 3, on ds-1 and dvs-1."""
    return Host(
        name=name,
        cpu_mhz=cpu_mhz,
        memory_mib=memory_mib,
        cpu=CpuModel(vendor, generation),
        datastores=frozenset(datastores),
        networks=frozenset(networks),
        state=HostState(state),
        power=PowerModel(idle_w=idle_w, max_w=max_w, boot_s=boot_s),
    )


def vm(
    name: str,
    on: str | None,
    cpu_mhz: int = 1_000,
    memory_mib: int = 1_024,
    *,
    memory_demand_mib: int | None = None,
    datastores: Iterable[str] = ("ds-1",),
    networks: Iterable[str] = ("dvs-1",),
    pinned: bool = False,
    devices: Sequence[str] = (),
    drs_enabled: bool = True,
    linked_clone: bool = False,
) -> VM:
    """A VM whose demand equals its size unless told otherwise (memory demand = configured)."""
    return VM(
        name=name,
        host=on,
        vcpus=2,
        memory_mib=memory_mib,
        cpu_demand_mhz=cpu_mhz,
        memory_demand_mib=memory_mib if memory_demand_mib is None else memory_demand_mib,
        datastores=frozenset(datastores),
        networks=frozenset(networks),
        pinned=pinned,
        devices=tuple(devices),
        drs_enabled=drs_enabled,
        linked_clone=linked_clone,
    )


def vms_on(counts: Mapping[str, int], cpu_mhz: int = 1_000) -> list[VM]:
    """``counts[h]`` VMs of ``cpu_mhz`` (defaults otherwise) on each host h, named h-0, h-1, …"""
    return [vm(f"{h}-{j}", h, cpu_mhz) for h, n in counts.items() for j in range(n)]


def affinity(name: str, *vms: str) -> Rule:
    return Rule(name, RuleKind.AFFINITY, tuple(vms))


def anti_affinity(name: str, *vms: str) -> Rule:
    return Rule(name, RuleKind.ANTI_AFFINITY, tuple(vms))


def vm_host(name: str, mode: str, vms: Sequence[str], hosts: Sequence[str]) -> Rule:
    return Rule(name, RuleKind.VM_HOST, tuple(vms), tuple(hosts), HostRuleMode(mode))


def make_instance(
    hosts: Sequence[Host],
    vms: Sequence[VM],
    rules: Sequence[Rule] = (),
    *,
    max_concurrent_per_host: int = 2,
    memory_overcommit: float = 1.0,
    imc: CpuModel | None = None,
    dpm: DpmPolicy | None = None,
    drs_threshold: int = 3,
    name: str = "test",
) -> Instance:
    """An instance with the default policy except for the few knobs tests turn."""
    base = Policy()
    policy = replace(
        base,
        memory_overcommit=memory_overcommit,
        imc=imc,
        dpm=dpm if dpm is not None else base.dpm,
        drs=replace(base.drs, threshold=drs_threshold),
        migration=MigrationPolicy(max_concurrent_per_host=max_concurrent_per_host),
    )
    return Instance(name=name, hosts=tuple(hosts), vms=tuple(vms), rules=tuple(rules), policy=policy)


def move(vm_name: str, source: str, target: str, start_s: float, duration_s: float = 10.0) -> Migration:
    """A migration whose estimate agrees with its interval."""
    estimate = MigrationEstimateRecord(
        total_s=duration_s, downtime_ms=100.0, transferred_mib=1024.0, iterations=3, converges=True
    )
    return Migration(vm_name, source, target, start_s, start_s + duration_s, MoveReason.DRS, estimate)


def power_off(host_name: str, at_s: float) -> PowerAction:
    return PowerAction(host_name, PowerActionKind.POWER_OFF, at_s)


def power_on(host_name: str, at_s: float) -> PowerAction:
    return PowerAction(host_name, PowerActionKind.POWER_ON, at_s)


def make_plan(
    instance: Instance,
    migrations: Sequence[Migration] = (),
    power_actions: Sequence[PowerAction] = (),
    *,
    placement: Mapping[str, str] | None = None,
    host_states: Mapping[str, str] | None = None,
    status: PlanStatus = PlanStatus.FEASIBLE,
    violations: Sequence[Violation] = (),
    **extra: Any,
) -> Plan:
    """A plan whose final state is what its actions lead to, unless given explicitly.

    The derived placement applies migrations by end time; the derived host states apply power
    actions by time. New VMs must be placed through ``placement`` overrides.
    """
    if placement is None:
        where = instance.current_placement()
        for m in sorted(migrations, key=lambda m: m.end_s):
            where[m.vm] = m.target
        placement = where
    if host_states is None:
        states = {h.name: h.state.value for h in instance.hosts}
        for p in sorted(power_actions, key=lambda p: p.at_s):
            states[p.host] = "standby" if p.action is PowerActionKind.POWER_OFF else "up"
        host_states = states
    return Plan(
        cluster=instance.name,
        status=status,
        placement=dict(placement),
        host_states=dict(host_states),
        migrations=tuple(migrations),
        power_actions=tuple(power_actions),
        violations=tuple(violations),
        **extra,
    )

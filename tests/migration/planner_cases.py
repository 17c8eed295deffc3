"""Tiny hand-checkable clusters for the migration planner's tests, built with the model directly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scheduler.check.verify import VerificationReport, verify_plan
from scheduler.migration.planner import Schedule
from scheduler.model import (
    VM,
    CpuModel,
    Host,
    HostState,
    Instance,
    MigrationPolicy,
    Plan,
    PlanStatus,
    Policy,
    PowerModel,
)

CPU = CpuModel("intel", 4)


def host(
    name: str,
    *,
    cpu_mhz: int = 10_000,
    memory_mib: int = 8_192,
    state: HostState = HostState.UP,
    boot_s: float = 0,
) -> Host:
    """A host with the given capacity; ``boot_s`` matters only when it is powered on."""
    return Host(name, cpu_mhz, memory_mib, CPU, state=state, power=PowerModel(boot_s=boot_s))


def vm(
    name: str, on: str | None, *, memory_mib: int = 4_096, cpu_mhz: int = 1_000, dirty_mibps: float = 0.0
) -> VM:
    """A VM on host ``on`` holding ``memory_mib`` of configured memory (what capacity counts)."""
    return VM(
        name,
        on,
        vcpus=2,
        memory_mib=memory_mib,
        cpu_demand_mhz=cpu_mhz,
        memory_demand_mib=memory_mib // 2,
        dirty_rate_mibps=dirty_mibps,
    )


def cluster(
    hosts: Sequence[Host],
    vms: Sequence[VM],
    *,
    network_gbps: float = 10.0,
    max_concurrent: int = 2,
    hypervisor: str = "qemu",
) -> Instance:
    """An instance with no rules and the given migration policy."""
    policy = Policy(
        migration=MigrationPolicy(
            network_gbps=network_gbps, max_concurrent_per_host=max_concurrent, hypervisor=hypervisor
        )
    )
    return Instance("test", tuple(hosts), tuple(vms), policy=policy)


def as_plan(
    instance: Instance,
    schedule: Schedule,
    placement: Mapping[str, str],
    host_states: Mapping[str, str] | None = None,
) -> Plan:
    """The plan (docs/plan.md) of a schedule (rules-free instances: no violations to list)."""
    states = dict(schedule.host_states)
    if host_states is not None:
        states.update(host_states)
    full = {v.name: placement.get(v.name, v.host or "") for v in instance.vms}
    status = PlanStatus.FEASIBLE if schedule.migrations or schedule.power_actions else PlanStatus.UNCHANGED
    return Plan(
        cluster=instance.name,
        status=status,
        placement=full,
        host_states=states,
        migrations=schedule.migrations,
        power_actions=schedule.power_actions,
    )


def verify(
    instance: Instance,
    schedule: Schedule,
    placement: Mapping[str, str],
    host_states: Mapping[str, str] | None = None,
) -> VerificationReport:
    """The checker's verdict on the schedule turned into a plan."""
    return verify_plan(instance, as_plan(instance, schedule, placement, host_states))


def state_of(hosts: Sequence[Host]) -> dict[str, str]:
    return {h.name: h.state.value for h in hosts}

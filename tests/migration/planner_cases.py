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


# A five-host QEMU cluster (10 Gbit/s, 4 moves per host) draining h0 for maintenance while h2 and
# h3 trade two 32 GiB VMs: (VM, host, GiB, dirty MiB/s, target).
_DRAIN_AND_SWAP = (
    ("v0", "h0", 16, 110, "h1"), ("v1", "h2", 32, 113, "h3"), ("v3", "h3", 32, 50, "h2"),
    ("v4", "h2", 1, 0, "h2"), ("v5", "h1", 4, 0, "h1"), ("v6", "h4", 1, 105, "h3"),
    ("v7", "h4", 4, 114, "h2"), ("v8", "h0", 8, 5, "h4"), ("v9", "h3", 1, 82, "h4"),
    ("v10", "h4", 8, 5, "h4"), ("v11", "h0", 16, 109, "h4"), ("v12", "h2", 16, 97, "h1"),
    ("v13", "h1", 32, 73, "h1"), ("v14", "h3", 1, 119, "h3"), ("v15", "h3", 32, 85, "h4"),
    ("v16", "h4", 2, 0, "h4"), ("v17", "h4", 4, 5, "h4"), ("v18", "h2", 2, 85, "h2"),
    ("v19", "h4", 32, 50, "h4"), ("v20", "h0", 16, 120, "h4"), ("v21", "h4", 1, 64, "h4"),
    ("v22", "h2", 4, 50, "h2"), ("v23", "h1", 1, 114, "h3"), ("v24", "h4", 32, 93, "h4"),
    ("v25", "h0", 4, 0, "h3"), ("v26", "h1", 8, 100, "h1"), ("v27", "h3", 16, 0, "h3"),
    ("v28", "h0", 32, 5, "h2"),
)  # fmt: skip


def drain_and_swap_at_four_per_host() -> tuple[Instance, dict[str, str]]:
    """The cluster and target above: at 4 moves per host the timed run stalls where the search
    finds no way on (its budget, above 8 VMs); at 2 per host the moves get through."""
    gib = 1024
    hosts = [
        host("h0", memory_mib=96 * gib, cpu_mhz=1_000_000, state=HostState.MAINTENANCE),
        *(host(n, memory_mib=m * gib, cpu_mhz=1_000_000) for n, m in (("h1", 80), ("h2", 75), ("h3", 82))),
        host("h4", memory_mib=152 * gib, cpu_mhz=1_000_000),
    ]
    vms = [vm(n, h, memory_mib=g * gib, dirty_mibps=d) for n, h, g, d, _ in _DRAIN_AND_SWAP]
    return cluster(hosts, vms, max_concurrent=4), {n: t for n, *_, t in _DRAIN_AND_SWAP}

"""An independent checker of the invariants a synthetic instance promises, from the instance alone."""

from __future__ import annotations

from collections import Counter

from scheduler.model import HostState, Instance, Rule, RuleKind
from scheduler.synth import SynthSpec


def usage(inst: Instance, placement: dict[str, str]) -> tuple[Counter[str], Counter[str]]:
    """CPU demand and configured memory per host under ``placement``."""
    cpu: Counter[str] = Counter()
    mem: Counter[str] = Counter()
    for vm in inst.vms:
        host = placement.get(vm.name)
        if host is not None:
            cpu[host] += vm.cpu_demand_mhz
            mem[host] += vm.memory_mib
    return cpu, mem


def _within_capacity(inst: Instance, placement: dict[str, str]) -> list[str]:
    cpu, mem = usage(inst, placement)
    over = []
    for h in inst.hosts:
        if cpu[h.name] > h.cpu_mhz or mem[h.name] > h.memory_mib * inst.policy.memory_overcommit + 1e-6:
            over.append(h.name)
    return over


def rule_holds(rule: Rule, placement: dict[str, str]) -> bool:
    """Whether ``rule`` holds for the placed VMs of ``placement``."""
    hosts = [placement[v] for v in rule.vms if v in placement]
    if rule.kind is RuleKind.AFFINITY:
        return len(set(hosts)) <= 1
    if rule.kind is RuleKind.ANTI_AFFINITY:
        return len(set(hosts)) == len(hosts)
    return all(rule.allows_host(h) for h in hosts)


def check(inst: Instance, witness: dict[str, str], spec: SynthSpec) -> None:
    """Every promise of the generator, checked from the instance alone (plus the witness)."""
    hosts = {h.name: h for h in inst.hosts}
    vms = {v.name: v for v in inst.vms}
    assert len(hosts) == spec.hosts
    assert len(vms) == spec.vms
    states = Counter(h.state for h in inst.hosts)
    assert states[HostState.MAINTENANCE] == spec.maintenance_hosts
    assert states[HostState.STANDBY] == spec.standby_hosts
    assert states[HostState.DOWN] == spec.down_hosts
    assert sum(v.host is None for v in inst.vms) == spec.new_vms
    overcommit = inst.policy.memory_overcommit
    assert overcommit >= 1.0
    if spec.memory_overcommit is not None:
        assert overcommit == spec.memory_overcommit

    # The initial state: within capacity, nothing on standby or down hosts, attachments seen.
    initial = inst.current_placement()
    assert _within_capacity(inst, initial) == []
    for vm_name, host_name in initial.items():
        vm, host = vms[vm_name], hosts[host_name]
        assert host.state in (HostState.UP, HostState.MAINTENANCE), (vm_name, host.state)
        assert vm.datastores <= host.datastores, vm_name
        assert vm.networks <= host.networks, vm_name

    # Rules: every kind's invariants, priority 1 and affinity hold initially.
    affinity: Counter[str] = Counter()
    anti: Counter[str] = Counter()
    up_hosts = sum(h.state is HostState.UP for h in inst.hosts)
    for rule in inst.rules:
        assert set(rule.vms) <= vms.keys()
        assert set(rule.hosts) <= hosts.keys()
        if rule.kind is RuleKind.AFFINITY:
            assert len(rule.vms) >= 2
            affinity.update(rule.vms)
        elif rule.kind is RuleKind.ANTI_AFFINITY:
            assert 2 <= len(rule.vms) <= up_hosts
            anti.update(rule.vms)
        else:
            assert rule.mode is not None
            assert rule.vm_group
            assert rule.host_group
            assert inst.vm_groups[rule.vm_group] == rule.vms
            assert inst.host_groups[rule.host_group] == rule.hosts
        if rule.priority == 1 or rule.kind is RuleKind.AFFINITY:
            assert rule_holds(rule, initial), rule.name
        assert all(vms[v].host is not None for v in rule.vms), "rule VMs are never new"
    assert max(affinity.values(), default=1) == 1
    assert max(anti.values(), default=1) == 1

    # The witness: a solution meeting every hard and soft rule, reachable by legal moves.
    assert witness.keys() == vms.keys()
    assert _within_capacity(inst, witness) == []
    for vm_name, target_name in witness.items():
        vm, target = vms[vm_name], hosts[target_name]
        assert target.state is HostState.UP
        assert vm.datastores <= target.datastores
        assert vm.networks <= target.networks
        if vm.host is not None:
            source = hosts[vm.host]
            baseline = inst.policy.imc.generation if inst.policy.imc else source.cpu.generation
            assert target.cpu.vendor == source.cpu.vendor
            assert target.cpu.generation >= baseline
            if vm.immobility_reasons():
                assert target_name == vm.host
    for rule in inst.rules:
        assert rule_holds(rule, witness), rule.name

    # Maintenance hosts hold VMs whenever a movable VM, not already on another maintenance host,
    # could legally have come from its witness host.
    in_rules = {v for r in inst.rules for v in r.vms}
    for m in (h for h in inst.hosts if h.state is HostState.MAINTENANCE):
        donors = [
            v
            for v in inst.vms
            if v.host is not None
            and hosts[v.host].state is HostState.UP
            and v.name not in in_rules
            and not v.immobility_reasons()
            and hosts[witness[v.name]].cpu.vendor == m.cpu.vendor
            and (inst.policy.imc is not None or hosts[witness[v.name]].cpu.generation >= m.cpu.generation)
            and v.datastores <= m.datastores
            and v.networks <= m.networks
        ]
        if donors:
            assert any(h == m.name for h in initial.values()), m.name


def cpu_utilization(inst: Instance) -> float:
    up = [h for h in inst.hosts if h.state is HostState.UP]
    return sum(v.cpu_demand_mhz for v in inst.vms) / sum(h.cpu_mhz for h in up)

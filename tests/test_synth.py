"""The synthetic cluster generator: determinism, realism of the mix, and a feasible, solvable start."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.errors import InputError
from scheduler.model import HostRuleMode, HostState, Instance, Rule, RuleKind
from scheduler.synth import (
    AZURE_VM_SIZES,
    SpecError,
    SynthSpec,
    synthesize,
    synthesize_datacenter,
    synthesize_with_witness,
)

# -- an independent checker of the invariants a synthetic instance promises ----------------------


def _usage(inst: Instance, placement: dict[str, str]) -> tuple[Counter[str], Counter[str]]:
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
    cpu, mem = _usage(inst, placement)
    over = []
    for h in inst.hosts:
        if cpu[h.name] > h.cpu_mhz or mem[h.name] > h.memory_mib * inst.policy.memory_overcommit + 1e-6:
            over.append(h.name)
    return over


def _rule_holds(rule: Rule, placement: dict[str, str]) -> bool:
    """Whether ``rule`` holds for the placed VMs of ``placement``."""
    hosts = [placement[v] for v in rule.vms if v in placement]
    if rule.kind is RuleKind.AFFINITY:
        return len(set(hosts)) <= 1
    if rule.kind is RuleKind.ANTI_AFFINITY:
        return len(set(hosts)) == len(hosts)
    return all(rule.allows_host(h) for h in hosts)


def _check(inst: Instance, witness: dict[str, str], spec: SynthSpec) -> None:
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
            assert _rule_holds(rule, initial), rule.name
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
        assert _rule_holds(rule, witness), rule.name

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


def _cpu_utilization(inst: Instance) -> float:
    up = [h for h in inst.hosts if h.state is HostState.UP]
    return sum(v.cpu_demand_mhz for v in inst.vms) / sum(h.cpu_mhz for h in up)


# -- examples --------------------------------------------------------------------------------


MEDIUM = SynthSpec(
    hosts=64,
    vms=4_000,
    seed=7,
    maintenance_hosts=2,
    standby_hosts=2,
    down_hosts=1,
    new_vms=20,
    cpu_generations=3,
    immobile_fraction=0.01,
)


@pytest.fixture(scope="module")
def medium() -> tuple[Instance, dict[str, str]]:
    """A mid-size cluster with every option on, shared by the example tests."""
    return synthesize_with_witness(MEDIUM)


def test_same_seed_gives_equal_instance_and_other_seed_differs() -> None:
    """Generation is a pure function of the spec."""
    spec = SynthSpec(hosts=12, vms=300, seed=5, maintenance_hosts=1, new_vms=3)
    assert synthesize(spec) == synthesize(spec)
    assert synthesize(spec) != synthesize(
        SynthSpec(hosts=12, vms=300, seed=6, maintenance_hosts=1, new_vms=3)
    )


def test_medium_cluster_meets_every_invariant(medium: tuple[Instance, dict[str, str]]) -> None:
    """Capacity, compatibility, rules, maintenance and the witness all hold at a realistic size."""
    _check(*medium, MEDIUM)


def test_maintenance_hosts_hold_vms_and_standby_hosts_none(medium: tuple[Instance, dict[str, str]]) -> None:
    """There is evacuation work, and DPM's sleeping hosts are empty."""
    inst, _ = medium
    placed = Counter(inst.current_placement().values())
    for host in inst.hosts:
        if host.state is HostState.MAINTENANCE:
            assert placed[host.name] >= 5
        if host.state in (HostState.STANDBY, HostState.DOWN):
            assert placed[host.name] == 0


def test_rule_mix_contains_every_kind_and_mode(medium: tuple[Instance, dict[str, str]]) -> None:
    """Affinity, anti-affinity and all four VM-to-host modes appear, about 3 per 100 VMs."""
    inst, _ = medium
    kinds = Counter((r.kind, r.mode) for r in inst.rules)
    assert kinds[(RuleKind.AFFINITY, None)] > 0
    assert kinds[(RuleKind.ANTI_AFFINITY, None)] > 0
    for mode in HostRuleMode:
        assert kinds[(RuleKind.VM_HOST, mode)] > 0
    assert 0.9 * 0.03 * MEDIUM.vms <= len(inst.rules) <= 1.05 * 0.03 * MEDIUM.vms


def test_some_soft_rules_start_violated_for_the_optimizer(medium: tuple[Instance, dict[str, str]]) -> None:
    """Anti-affinity and should / should_not rules leave rule work; priority 1 never starts broken."""
    inst, _ = medium
    initial = inst.current_placement()
    broken = Counter(r.priority for r in inst.rules if not _rule_holds(r, initial))
    assert broken[1] == 0
    assert broken[2] > 0
    assert broken[3] > 0


def test_immobile_and_new_vms_are_present(medium: tuple[Instance, dict[str, str]]) -> None:
    """Each immobility reason appears, and new VMs have no host."""
    inst, _ = medium
    reasons = Counter(r.split(":")[0] for v in inst.vms for r in v.immobility_reasons())
    assert len(reasons) == 4
    assert sum(v.is_new for v in inst.vms) == MEDIUM.new_vms


def test_hosts_are_heterogeneous_with_incompatibility_islands(
    medium: tuple[Instance, dict[str, str]],
) -> None:
    """Several generations (older ones fewer), a datastore and a network not every host sees."""
    inst, _ = medium
    generations = Counter(h.cpu.generation for h in inst.hosts)
    assert sorted(generations) == [1, 2, 3]
    assert generations[1] < generations[2] < generations[3]
    all_datastores = set().union(*(h.datastores for h in inst.hosts))
    all_networks = set().union(*(h.networks for h in inst.hosts))
    assert any(h.datastores != all_datastores for h in inst.hosts)
    assert any(h.networks != all_networks for h in inst.hosts)
    for h in inst.hosts:
        assert 64 * 2_000 <= h.cpu_mhz <= 128 * 3_000
        assert 384 * 1024 <= h.memory_mib <= 1024 * 1024
        assert h.power.idle_w < h.power.max_w


def test_vm_size_mix_matches_the_azure_table() -> None:
    """The main Azure flavours appear in their published proportions (within 1.5 points)."""
    inst = synthesize(SynthSpec(hosts=128, vms=20_000, seed=11, rule_density="none"))
    seen = Counter((v.vcpus, v.memory_mib) for v in inst.vms)
    total = sum(count for _, _, count in AZURE_VM_SIZES)
    for vcpus, gib, count in AZURE_VM_SIZES:
        expected = count / total
        observed = seen[(vcpus, int(gib * 1024))] / inst.num_vms
        assert abs(observed - expected) < 0.015, (vcpus, gib, observed, expected)


@pytest.mark.parametrize("load", [0.35, 0.60, 0.85])
def test_mean_cpu_utilization_equals_load(load: float) -> None:
    """Demand is scaled so that the up hosts' mean CPU utilization is the requested load."""
    inst = synthesize(SynthSpec(hosts=32, vms=2_500, seed=2, load=load, maintenance_hosts=1))
    assert _cpu_utilization(inst) == pytest.approx(load, abs=0.005)


def test_demands_and_dirty_rates_are_plausible(medium: tuple[Instance, dict[str, str]]) -> None:
    """Demand within the VM's size, most VMs quiet, a tail of busy ones below 400 MiB/s."""
    inst, _ = medium
    rates = sorted(v.dirty_rate_mibps for v in inst.vms)
    assert sum(r <= 20 for r in rates) / len(rates) > 0.7
    assert rates[-1] <= 400
    assert rates[int(0.99 * len(rates))] > 50
    for v in inst.vms:
        assert 0 < v.cpu_demand_mhz <= v.vcpus * 3_000
        assert 0 <= v.memory_demand_mib <= v.memory_mib


def test_hotspots_make_some_hosts_much_hotter() -> None:
    """DRS has work: the hottest up host is well above the mean."""
    inst = synthesize(SynthSpec(hosts=40, vms=3_000, seed=4, load=0.5, skew="hotspots"))
    cpu, _ = _usage(inst, inst.current_placement())
    utilization = [cpu[h.name] / h.cpu_mhz for h in inst.hosts if h.state is HostState.UP]
    assert max(utilization) >= 0.5 + 0.2


def test_after_maintenance_leaves_a_returned_host_empty_and_the_rest_fuller() -> None:
    """A host back from maintenance is up and empty while the others carry its share."""
    spec = SynthSpec(hosts=20, vms=1_500, seed=9, load=0.5, skew="after_maintenance")
    inst, witness = synthesize_with_witness(spec)
    _check(inst, witness, spec)
    placed = Counter(inst.current_placement().values())
    empty = [h for h in inst.hosts if h.state is HostState.UP and placed[h.name] == 0]
    assert len(empty) == 1
    assert Counter(witness.values())[empty[0].name] > 0


def test_memory_overcommit_is_raised_only_when_vms_need_it() -> None:
    """A light cluster keeps 1.0; a dense one gets the smallest factor that fits."""
    light = synthesize(SynthSpec(hosts=16, vms=500, seed=1, rule_density="none"))
    dense = synthesize(SynthSpec(hosts=8, vms=2_000, seed=1, rule_density="none"))
    assert light.policy.memory_overcommit == 1.0
    assert dense.policy.memory_overcommit > 1.0


def test_explicit_overcommit_too_small_is_a_spec_error() -> None:
    """A fixed overcommit that cannot hold the VMs is reported against that field."""
    with pytest.raises(SpecError) as info:
        synthesize(SynthSpec(hosts=3, vms=600, seed=1, memory_overcommit=1.0))
    assert info.value.problems[0][0] == "memory_overcommit"


def test_bad_spec_values_name_their_fields() -> None:
    """Every bad field is reported at once."""
    with pytest.raises(SpecError) as info:
        SynthSpec(hosts=2, load=1.5, rule_density="lots", maintenance_hosts=2, vendors=2, imc=True)  # type: ignore[arg-type]
    fields = {name for name, _ in info.value.problems}
    assert {"load", "rule_density", "maintenance_hosts", "imc"} <= fields


def test_too_few_up_hosts_names_the_flag_asking_for_the_most_hosts() -> None:
    with pytest.raises(SpecError) as info:
        SynthSpec(hosts=4, vms=20, down_hosts=3, standby_hosts=1)
    assert [name for name, _ in info.value.problems] == ["down_hosts"]


def test_policy_fields_follow_the_spec() -> None:
    """DPM, DRS, IMC and migration settings are written as asked."""
    inst = synthesize(
        SynthSpec(
            hosts=6,
            vms=60,
            dpm_enabled=True,
            drs_threshold=5,
            measure="cpu",
            hypervisor="fusioncompute",
            network_gbps=25,
            imc=True,
        )
    )
    assert inst.policy.dpm.enabled
    assert inst.policy.drs.threshold == 5
    assert inst.policy.drs.measure == "cpu"
    assert inst.policy.migration.hypervisor == "fusioncompute"
    assert inst.policy.migration.network_gbps == 25.0
    assert inst.policy.imc is not None
    assert inst.policy.imc.generation == 1


def test_datacenter_clusters_are_independent_with_distinct_names() -> None:
    """cluster-00, cluster-01, ...: different content, no host or VM name shared."""
    clusters = synthesize_datacenter(3, 6, 100, seed=1)
    assert [c.name for c in clusters] == ["cluster-00", "cluster-01", "cluster-02"]
    names = [h.name for c in clusters for h in c.hosts] + [v.name for c in clusters for v in c.vms]
    assert len(names) == len(set(names))
    assert clusters[0].hosts[0].cpu_mhz > 0
    assert clusters[0] != clusters[1]
    assert synthesize_datacenter(3, 6, 100, seed=1) == clusters


def test_large_cluster_generates_quickly() -> None:
    """128 hosts x 10,000 VMs is an everyday size: it must be cheap (well under ten seconds)."""
    import time

    start = time.perf_counter()
    inst = synthesize(SynthSpec(hosts=128, vms=10_000, seed=3, maintenance_hosts=1))
    assert time.perf_counter() - start < 10.0
    assert inst.num_vms == 10_000


# -- any small spec ------------------------------------------------------------------------------


@st.composite
def small_specs(draw: st.DrawFn) -> SynthSpec:
    """Small specs over every option: 3-20 hosts, 10-200 VMs, any states, skews and rules."""
    hosts = draw(st.integers(3, 20))
    vms = draw(st.integers(10, 200))
    maintenance = draw(st.integers(0, hosts // 4))
    standby = draw(st.integers(0, hosts // 4))
    down = draw(st.integers(0, 1 if hosts - maintenance - standby > 2 else 0))
    vendors = draw(st.sampled_from([1, 2]))
    return SynthSpec(
        hosts=hosts,
        vms=vms,
        seed=draw(st.integers(0, 2**32 - 1)),
        load=draw(st.sampled_from([0.1, 0.35, 0.6, 0.85, 0.9])),
        rule_density=draw(st.sampled_from(["none", "typical", "dense"])),
        skew=draw(st.sampled_from(["none", "hotspots", "after_maintenance"])),
        cpu_generations=draw(st.integers(1, 4)),
        vendors=vendors,
        maintenance_hosts=maintenance,
        standby_hosts=standby,
        down_hosts=down,
        new_vms=draw(st.integers(0, vms // 2)),
        immobile_fraction=draw(st.sampled_from([0.0, 0.005, 0.05, 0.1])),
        dpm_enabled=draw(st.booleans()),
        imc=vendors == 1 and draw(st.booleans()),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=small_specs())
def test_any_small_spec_meets_every_invariant(spec: SynthSpec) -> None:
    """Whatever the options, the start is feasible, the rules well-formed and the witness valid."""
    inst, witness = synthesize_with_witness(spec)
    _check(inst, witness, spec)
    # The load is reached unless the VMs' vCPUs cannot carry it (then every VM runs flat out).
    vcpu_mhz = sum(v.vcpus for v in inst.vms) * 2_000
    if vcpu_mhz >= 2 * spec.load * sum(h.cpu_mhz for h in inst.hosts if h.state is HostState.UP):
        assert _cpu_utilization(inst) == pytest.approx(spec.load, abs=0.02)
    assert _cpu_utilization(inst) <= spec.load + 0.005


# -- the command ---------------------------------------------------------------------------------


def test_command_rejects_bad_flags_with_input_error(tmp_path: Path) -> None:
    """Bad values become one InputError naming each flag (the CLI exits with status 2)."""
    from scheduler.cli.synth import command

    with pytest.raises(InputError) as info:
        command.main(
            ["--hosts", "0", "--load", "2", "--rules", "lots", "-o", str(tmp_path / "x.txt")],
            standalone_mode=False,
        )
    flags = {p.field for p in info.value.problems}
    assert flags == {"--hosts", "--load", "--rules", "--output"}
    assert all(p.file == "command line" for p in info.value.problems)


@pytest.mark.parametrize(("name", "fmt"), [("c.yaml", None), ("c.json", None), ("folder", "csv")])
def test_command_writes_an_inventory_the_reader_accepts(tmp_path: Path, name: str, fmt: str | None) -> None:
    """The written inventory reads back as the same instance."""
    from scheduler.cli.synth import command
    from scheduler.io import read_inventory

    out = tmp_path / name
    args = ["--hosts", "8", "--vms", "200", "--seed", "3", "--maintenance", "1", "-o", str(out)]
    status = command.main([*args, *(["--format", fmt] if fmt else [])], standalone_mode=False)
    assert status == 0
    assert read_inventory(out) == synthesize(SynthSpec(hosts=8, vms=200, seed=3, maintenance_hosts=1))


@pytest.mark.parametrize(("hypervisor", "gbps"), [("qemu", 10.0), ("fusioncompute", 1.0)])
def test_vms_to_evacuate_can_be_live_migrated(hypervisor: str, gbps: float) -> None:
    """A maintenance host holds only VMs whose migration completes under the cluster's hypervisor
    and link (QEMU's 128 MiB/s cap, a 1 Gbit/s link): otherwise the instance would be infeasible,
    which the witness promises it is not."""
    from scheduler.migration.precopy import migration_input_for, preset_for_policy, simulate
    from scheduler.model import HostState

    inst = synthesize(
        SynthSpec(hosts=10, vms=200, seed=0, hypervisor=hypervisor, network_gbps=gbps, maintenance_hosts=2)
    )
    policy = inst.policy.migration
    leaving = {h.name for h in inst.hosts if h.state is HostState.MAINTENANCE}
    evacuated = [vm for vm in inst.vms if vm.host in leaving]
    assert evacuated
    for vm in evacuated:
        assert simulate(migration_input_for(vm, policy), preset_for_policy(policy)).outcome != "aborted"

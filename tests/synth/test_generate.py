"""The generator end to end: determinism, every invariant at a realistic size and for any small spec,
data centres and speed."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.model import HostState, Instance
from scheduler.synth import SynthSpec, synthesize, synthesize_datacenter, synthesize_with_witness

from .conftest import MEDIUM
from .invariants import check, cpu_utilization


def test_same_seed_gives_equal_instance_and_other_seed_differs() -> None:
    """Generation is a pure function of the spec."""
    spec = SynthSpec(hosts=12, vms=300, seed=5, maintenance_hosts=1, new_vms=3)
    assert synthesize(spec) == synthesize(spec)
    assert synthesize(spec) != synthesize(
        SynthSpec(hosts=12, vms=300, seed=6, maintenance_hosts=1, new_vms=3)
    )


def test_medium_cluster_meets_every_invariant(medium: tuple[Instance, dict[str, str]]) -> None:
    """Capacity, compatibility, rules, maintenance and the witness all hold at a realistic size."""
    check(*medium, MEDIUM)


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
    check(inst, witness, spec)
    # The load is reached unless the VMs' vCPUs cannot carry it (then every VM runs flat out).
    vcpu_mhz = sum(v.vcpus for v in inst.vms) * 2_000
    if vcpu_mhz >= 2 * spec.load * sum(h.cpu_mhz for h in inst.hosts if h.state is HostState.UP):
        assert cpu_utilization(inst) == pytest.approx(spec.load, abs=0.02)
    assert cpu_utilization(inst) <= spec.load + 0.005

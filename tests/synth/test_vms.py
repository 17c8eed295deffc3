"""VMs: the Azure size mix, CPU demand scaled to the load, plausible memory demand and dirty rates."""

from __future__ import annotations

from collections import Counter

import pytest

from scheduler.model import Instance
from scheduler.synth import AZURE_VM_SIZES, SynthSpec, synthesize

from .invariants import cpu_utilization


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
    assert cpu_utilization(inst) == pytest.approx(load, abs=0.005)


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

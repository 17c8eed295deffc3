"""The initial placement: evacuation work, the skews, rules left for the optimizer, immobile and new
VMs, all reachable back to the witness by legal migrations."""

from __future__ import annotations

from collections import Counter

import pytest

from scheduler.model import HostState, Instance
from scheduler.synth import SynthSpec, synthesize, synthesize_with_witness

from .conftest import MEDIUM
from .invariants import check, rule_holds, usage


def test_maintenance_hosts_hold_vms_and_standby_hosts_none(medium: tuple[Instance, dict[str, str]]) -> None:
    """There is evacuation work, and DPM's sleeping hosts are empty."""
    inst, _ = medium
    placed = Counter(inst.current_placement().values())
    for host in inst.hosts:
        if host.state is HostState.MAINTENANCE:
            assert placed[host.name] >= 5
        if host.state in (HostState.STANDBY, HostState.DOWN):
            assert placed[host.name] == 0


def test_some_soft_rules_start_violated_for_the_optimizer(medium: tuple[Instance, dict[str, str]]) -> None:
    """Anti-affinity and should / should_not rules leave rule work; priority 1 never starts broken."""
    inst, _ = medium
    initial = inst.current_placement()
    broken = Counter(r.priority for r in inst.rules if not rule_holds(r, initial))
    assert broken[1] == 0
    assert broken[2] > 0
    assert broken[3] > 0


def test_immobile_and_new_vms_are_present(medium: tuple[Instance, dict[str, str]]) -> None:
    """Each immobility reason appears, and new VMs have no host."""
    inst, _ = medium
    reasons = Counter(r.split(":")[0] for v in inst.vms for r in v.immobility_reasons())
    assert len(reasons) == 4
    assert sum(v.is_new for v in inst.vms) == MEDIUM.new_vms


def test_hotspots_make_some_hosts_much_hotter() -> None:
    """DRS has work: the hottest up host is well above the mean."""
    inst = synthesize(SynthSpec(hosts=40, vms=3_000, seed=4, load=0.5, skew="hotspots"))
    cpu, _ = usage(inst, inst.current_placement())
    utilization = [cpu[h.name] / h.cpu_mhz for h in inst.hosts if h.state is HostState.UP]
    assert max(utilization) >= 0.5 + 0.2


def test_after_maintenance_leaves_a_returned_host_empty_and_the_rest_fuller() -> None:
    """A host back from maintenance is up and empty while the others carry its share."""
    spec = SynthSpec(hosts=20, vms=1_500, seed=9, load=0.5, skew="after_maintenance")
    inst, witness = synthesize_with_witness(spec)
    check(inst, witness, spec)
    placed = Counter(inst.current_placement().values())
    empty = [h for h in inst.hosts if h.state is HostState.UP and placed[h.name] == 0]
    assert len(empty) == 1
    assert Counter(witness.values())[empty[0].name] > 0


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

"""Building the instance: the policy is written as the spec asks."""

from __future__ import annotations

from scheduler.synth import SynthSpec, synthesize


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

"""The witness placement and the memory overcommit it is built at."""

from __future__ import annotations

import pytest

from scheduler.synth import SpecError, SynthSpec, synthesize


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

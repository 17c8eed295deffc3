"""A mid-size cluster with every option on, generated once and shared by the example tests."""

from __future__ import annotations

import pytest

from scheduler.model import Instance
from scheduler.synth import SynthSpec, synthesize_with_witness

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


@pytest.fixture(scope="package")
def medium() -> tuple[Instance, dict[str, str]]:
    """A mid-size cluster with every option on, shared by the example tests."""
    return synthesize_with_witness(MEDIUM)

"""Synthetic inventories survive the inventory formats: read(write(x)) == x, in YAML, JSON and CSV."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.io import read_inventory, write_inventory
from scheduler.synth import SynthSpec, synthesize

TARGETS: tuple[tuple[Literal["yaml", "json", "csv"], str], ...] = (
    ("yaml", "cluster.yaml"),
    ("json", "cluster.json"),
    ("csv", "cluster"),
)


@st.composite
def small_specs(draw: st.DrawFn) -> SynthSpec:
    """Small specs with every option that changes what is written (states, rules, devices, IMC)."""
    hosts = draw(st.integers(3, 16))
    vms = draw(st.integers(10, 150))
    vendors = draw(st.sampled_from([1, 2]))
    return SynthSpec(
        hosts=hosts,
        vms=vms,
        seed=draw(st.integers(0, 2**32 - 1)),
        load=draw(st.sampled_from([0.35, 0.6, 0.85])),
        rule_density=draw(st.sampled_from(["none", "typical", "dense"])),
        skew=draw(st.sampled_from(["none", "hotspots", "after_maintenance"])),
        cpu_generations=draw(st.integers(1, 3)),
        vendors=vendors,
        maintenance_hosts=draw(st.integers(0, hosts // 4)),
        standby_hosts=draw(st.integers(0, hosts // 4)),
        new_vms=draw(st.integers(0, vms // 4)),
        immobile_fraction=draw(st.sampled_from([0.0, 0.1])),
        dpm_enabled=draw(st.booleans()),
        measure=draw(st.sampled_from(["cpu", "memory", "cpu_memory"])),
        hypervisor=draw(st.sampled_from(["qemu", "xen", "vmware", "fusioncompute"])),
        imc=vendors == 1 and draw(st.booleans()),
        name_prefix=draw(st.sampled_from(["", "c07-"])),
    )


@settings(max_examples=25, deadline=None)
@given(spec=small_specs())
def test_any_synthetic_inventory_round_trips_through_every_format(spec: SynthSpec) -> None:
    """Writing and reading back gives an equal instance, so the reader's validation accepts it too."""
    instance = synthesize(spec)
    with tempfile.TemporaryDirectory() as folder:
        for fmt, name in TARGETS:
            path = Path(folder) / name
            write_inventory(instance, path, fmt)
            assert read_inventory(path) == instance, fmt

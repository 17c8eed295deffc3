"""The spec: every bad field is reported at once, against the field to blame."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.io import read_inventory, write_inventory
from scheduler.synth import SpecError, SynthSpec, synthesize


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


@pytest.mark.parametrize(
    ("fields", "blamed"),
    [
        ({"memory_overcommit": 1e300}, "memory_overcommit"),
        ({"network_gbps": 1e-9}, "network_gbps"),
        ({"network_gbps": 1e9}, "network_gbps"),
        ({"name": ""}, "name"),
        ({"name": "a\nb"}, "name"),
        ({"name_prefix": "dc;1-"}, "name_prefix"),
    ],
)
def test_a_spec_whose_inventory_would_not_read_back_is_refused(
    fields: dict[str, object], blamed: str
) -> None:
    """What ``scheduler synth`` writes must pass the inventory reader's own bounds."""
    with pytest.raises(SpecError) as info:
        SynthSpec(hosts=4, vms=20, **fields)  # type: ignore[arg-type]
    assert [name for name, _ in info.value.problems] == [blamed]


def test_a_spec_at_the_inventory_bounds_reads_back(tmp_path: Path) -> None:
    spec = SynthSpec(
        hosts=4, vms=20, memory_overcommit=100.0, network_gbps=0.01, name="edge é", name_prefix="dc-1 "
    )
    instance = synthesize(spec)
    for fmt, name in (("yaml", "inv.yaml"), ("json", "inv.json"), ("csv", "inv")):
        path = tmp_path / name
        write_inventory(instance, path, fmt)
        assert read_inventory(path).policy == instance.policy

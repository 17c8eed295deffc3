"""``with_what_if``: the CLI's what-if flags change exactly what they name, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from check.entries import host_entry, vm_entry

from scheduler.errors import InputError
from scheduler.io import parse_inventory
from scheduler.model import HostState, Instance, Measure
from scheduler.what_if import with_what_if


@pytest.fixture
def busy() -> Instance:
    """h1 runs a, b, c; h2 and h3 are empty, h4 is in standby; DPM on."""
    data = {
        "name": "what-if",
        "policy": {"dpm": {"enabled": True}},
        "hosts": [host_entry("h1"), host_entry("h2"), host_entry("h3"), host_entry("h4", "standby")],
        "vms": [vm_entry("a", "h1", 3_000), vm_entry("b", "h1", 3_000), vm_entry("c", "h1", 3_000)],
        "rules": [],
    }
    return parse_inventory(data, "test inventory")


def test_what_if_maintenance_puts_only_the_named_host_in_maintenance(busy: Instance):
    changed = with_what_if(busy, maintenance=("h2",))
    assert [h.state for h in changed.hosts] == [
        HostState.UP,
        HostState.MAINTENANCE,
        HostState.UP,
        HostState.STANDBY,
    ]
    assert changed.vms == busy.vms
    assert busy.host("h2").state is HostState.UP  # the input instance is left alone


def test_what_if_overrides_threshold_measure_and_dpm(busy: Instance):
    changed = with_what_if(busy, threshold=5, measure="memory", dpm=False)
    assert changed.policy.drs.threshold == 5
    assert changed.policy.drs.measure is Measure.MEMORY
    assert changed.policy.dpm.enabled is False
    assert changed.policy.migration == busy.policy.migration


def test_what_if_without_flags_changes_nothing(busy: Instance):
    assert with_what_if(busy) == busy


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        pytest.param({"maintenance": ("h9",)}, "--maintenance", id="unknown-host"),
        pytest.param({"threshold": 7}, "--threshold", id="threshold-7"),
        pytest.param({"threshold": 0}, "--threshold", id="threshold-0"),
    ],
)
def test_what_if_rejects_bad_flags_naming_the_flag(busy: Instance, flags: dict[str, Any], field: str):
    with pytest.raises(InputError) as caught:
        with_what_if(busy, **flags)
    assert [p.field for p in caught.value.problems] == [field]

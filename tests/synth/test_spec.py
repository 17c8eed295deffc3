"""The spec: every bad field is reported at once, against the field to blame."""

from __future__ import annotations

import pytest

from scheduler.synth import SpecError, SynthSpec


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

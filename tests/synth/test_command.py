"""``scheduler synth``: bad flags become one InputError, and what it writes reads back equal."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.errors import InputError
from scheduler.synth import SynthSpec, synthesize


def test_command_rejects_bad_flags_with_input_error(tmp_path: Path) -> None:
    """Bad values become one InputError naming each flag (the CLI exits with status 2)."""
    from scheduler.cli.synth import command

    with pytest.raises(InputError) as info:
        command.main(
            ["--hosts", "0", "--load", "2", "--rules", "lots", "-o", str(tmp_path / "x.txt")],
            standalone_mode=False,
        )
    flags = {p.field for p in info.value.problems}
    assert flags == {"--hosts", "--load", "--rules", "--output"}
    assert all(p.file == "command line" for p in info.value.problems)


@pytest.mark.parametrize(("name", "fmt"), [("c.yaml", None), ("c.json", None), ("folder", "csv")])
def test_command_writes_an_inventory_the_reader_accepts(tmp_path: Path, name: str, fmt: str | None) -> None:
    """The written inventory reads back as the same instance."""
    from scheduler.cli.synth import command
    from scheduler.io import read_inventory

    out = tmp_path / name
    args = ["--hosts", "8", "--vms", "200", "--seed", "3", "--maintenance", "1", "-o", str(out)]
    status = command.main([*args, *(["--format", fmt] if fmt else [])], standalone_mode=False)
    assert status == 0
    assert read_inventory(out) == synthesize(SynthSpec(hosts=8, vms=200, seed=3, maintenance_hosts=1))

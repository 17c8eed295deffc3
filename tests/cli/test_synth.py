"""``scheduler synth``: sizes beyond what the generator handles and unusable outputs are refused
before anything is generated (the flag checks of the spec are in tests/synth/test_spec.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import scheduler.cli.synth as synth_command
from scheduler.errors import InputError


def no_synthesis(*args: object, **kwargs: object) -> None:
    raise AssertionError("the command line is checked before generating")


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param(["--hosts", "99999999999999999999"], id="hosts"),
        pytest.param(["--vms", "99999999999999"], id="vms"),
    ],
)
def test_sizes_beyond_the_generator_are_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str]
) -> None:
    monkeypatch.setattr(synth_command, "synthesize", no_synthesis)
    result = CliRunner().invoke(synth_command.command, [*flags, "-o", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2
    assert "is not in the range" in result.output


def test_missing_output_folder_is_reported_with_the_other_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synth_command, "synthesize", no_synthesis)
    with pytest.raises(InputError) as info:
        synth_command.command.main(
            ["--hosts", "0", "-o", str(tmp_path / "missing" / "c.yaml")], standalone_mode=False
        )
    assert {p.field for p in info.value.problems} == {"--hosts", "--output"}
    assert f"no folder {tmp_path / 'missing'}" in str(info.value)


def test_csv_folder_holding_other_files_is_refused_before_generating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synth_command, "synthesize", no_synthesis)
    out = tmp_path / "cluster"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"holds other files, not replacing it: notes\.txt"):
        synth_command.command.main(["--format", "csv", "-o", str(out)], standalone_mode=False)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_failed_write_names_the_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import scheduler.io.atomic as atomic

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    out = tmp_path / "c.yaml"
    with pytest.raises(InputError) as info:
        synth_command.command.main(["--hosts", "4", "--vms", "20", "-o", str(out)], standalone_mode=False)
    assert str(info.value) == f"command line: --output: cannot write {out}: No space left on device"
    assert list(tmp_path.iterdir()) == []

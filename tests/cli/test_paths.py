"""Command-line paths and values checked before any work: output folders, inputs that are not
regular files, non-finite numbers."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import scheduler.cli.paths as paths
from scheduler.cli.params import FiniteFloatRange, InputPath
from scheduler.cli.paths import check_output_file, check_output_folder, naming_option
from scheduler.errors import InputError
from scheduler.io.atomic import WriteError


def problem_text(info: pytest.ExceptionInfo[InputError]) -> str:
    (problem,) = info.value.problems
    assert (problem.file, problem.field) == ("command line", "--output")
    return problem.message


def test_output_file_needs_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        check_output_file(tmp_path / "missing" / "plan.json", "--output")
    assert problem_text(info) == f"cannot write {tmp_path}/missing/plan.json: no folder {tmp_path}/missing"
    assert list(tmp_path.iterdir()) == []


def test_output_file_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError) as info:
        check_output_file(tmp_path / "notes.txt" / "plan.json", "--output")
    assert problem_text(info).endswith(f"{tmp_path}/notes.txt is not a folder")


def test_output_file_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        check_output_file(tmp_path, "--output")
    assert problem_text(info) == f"{tmp_path} is a folder; name a file"


def test_output_file_in_a_folder_that_takes_no_files_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root, access() says yes to /proc and read-only mounts: only creating a file tells."""

    def refuse(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(paths.os, "open", refuse)
    with pytest.raises(InputError) as info:
        check_output_file(tmp_path / "plan.json", "--output")
    assert problem_text(info).endswith(f"cannot create a file in {tmp_path} (Permission denied)")


def test_output_check_leaves_no_probe_behind(tmp_path: Path) -> None:
    check_output_file(tmp_path / "plan.json", "--output")
    check_output_folder(tmp_path / "report", "--output")
    assert list(tmp_path.iterdir()) == []


def test_a_long_valid_name_is_written_and_a_name_too_long_is_refused(tmp_path: Path) -> None:
    """Temporary and probe names stay short, so a 250-byte name (valid) can be written; a 260-byte
    one is refused up front with the reason, not with a traceback from the first stat()."""
    from scheduler.io.atomic import atomic_write_text

    valid = tmp_path / ("p" * 245 + ".json")
    check_output_file(valid, "--output")
    atomic_write_text(valid, "{}\n")
    assert valid.read_text() == "{}\n"
    with pytest.raises(InputError, match="longer than the 255 bytes a file name may have"):
        check_output_file(tmp_path / ("p" * 255 + ".json"), "--output")
    with pytest.raises(InputError, match="longer than"):
        check_output_folder(tmp_path / ("r" * 256), "--output")


def test_output_file_equal_to_an_input_is_refused(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.json"
    inventory.write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.json").symlink_to(inventory)
    for output in (inventory, tmp_path / "sub" / ".." / "inv.json", tmp_path / "link.json"):
        with pytest.raises(InputError) as info:
            check_output_file(output, "--output", {"inventory": str(inventory)})
        assert problem_text(info) == f"{output} is the inventory; writing there would replace it"
    check_output_file(tmp_path / "plan.json", "--output", {"inventory": str(inventory)})


def test_output_file_inside_an_inventory_folder_is_refused(tmp_path: Path) -> None:
    """A CSV-folder inventory: writing into it could replace hosts.csv, vms.csv... or add to it."""
    folder = tmp_path / "inventory"
    folder.mkdir()
    (folder / "hosts.csv").write_text("name\n")
    for output in (folder / "hosts.csv", folder / "plan.json"):
        with pytest.raises(InputError) as info:
            check_output_file(output, "--output", {"inventory": str(folder)})
        assert problem_text(info) == f"{output} is inside the inventory folder {folder}; write it elsewhere"
    assert (folder / "hosts.csv").read_text() == "name\n"
    check_output_file(tmp_path / "plan.json", "--output", {"inventory": str(folder)})


def test_output_file_that_is_a_pipe_is_refused(tmp_path: Path) -> None:
    """An atomic write renames a new file over its target: a pipe or a device (``/dev/null``
    written as root) would become a plain file."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError) as info:
        check_output_file(fifo, "--output")
    assert (
        problem_text(info)
        == f"{fifo} is not a regular file (a device or a pipe); outputs are written as new files"
    )
    assert fifo.is_fifo()


def test_output_folder_parents_are_not_created(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        check_output_folder(tmp_path / "missing" / "deeper" / "report", "--output")
    assert problem_text(info).endswith(f"no folder {tmp_path}/missing/deeper")
    assert list(tmp_path.iterdir()) == []


def test_output_folder_that_is_a_file_or_holds_other_files_or_inputs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError) as info:
        check_output_folder(tmp_path / "file", "--output")
    assert problem_text(info) == f"{tmp_path}/file exists and is not a folder"
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.md").write_text("old")
    (report / "keep.me").write_text("mine")
    with pytest.raises(InputError) as info:
        check_output_folder(report, "--output", owned_names=frozenset({"report.md"}))
    assert problem_text(info).endswith("holds other files, not replacing it: keep.me")
    with pytest.raises(InputError) as info:
        check_output_folder(report, "--output", {"plan": str(report / "keep.me")})
    assert problem_text(info) == f"{report} holds the plan; writing there would replace it"


def test_naming_option_reports_a_failed_write_under_the_option(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info, naming_option("--output"):
        raise WriteError(tmp_path / "plan.json", "No space left on device")
    assert problem_text(info) == f"cannot write {tmp_path}/plan.json: No space left on device"


def _echo_command(param_type: click.ParamType) -> click.Command:
    @click.command()
    @click.argument("value", type=param_type)
    def echo(value: object) -> None:
        click.echo(repr(value))

    return echo


def test_input_path_refuses_a_fifo_without_opening_it(tmp_path: Path) -> None:
    """Opening a FIFO blocks until a writer comes: the check must not open it."""
    fifo = tmp_path / "inventory.yaml"
    os.mkfifo(fifo)
    for dir_okay in (False, True):
        result = CliRunner().invoke(_echo_command(InputPath(dir_okay=dir_okay)), [str(fifo)])
        assert result.exit_code == 2
        assert "is not a regular file" in result.output
    ok = CliRunner().invoke(_echo_command(InputPath(dir_okay=True)), [str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    folder = CliRunner().invoke(_echo_command(InputPath()), [str(tmp_path)])
    assert folder.exit_code == 2


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_finite_float_range_refuses_nan_and_inf(value: str) -> None:
    result = CliRunner().invoke(_echo_command(FiniteFloatRange(min=1.0)), ["--", value])
    assert result.exit_code == 2
    assert "not a finite number" in result.output or "not in the range" in result.output
    assert CliRunner().invoke(_echo_command(FiniteFloatRange(min=1.0)), ["2.5"]).output == "2.5\n"

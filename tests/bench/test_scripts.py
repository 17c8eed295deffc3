"""The component measurements' command lines (``python -m benchmarks.<name>``): ``--help`` runs
nothing, outputs are checked before the work, and precopy_validation fails on a missed target."""

from __future__ import annotations

import csv
import importlib
from pathlib import Path

import pytest

from benchmarks import common, migration_target, precopy_validation, symmetry_speed

SCRIPTS = (
    "analyze_speed",
    "compat_speed",
    "migration_target",
    "planner_scale",
    "precopy_speed",
    "precopy_validation",
    "symmetry_speed",
    "synth_speed",
)


def test_every_script_is_listed() -> None:
    here = Path(common.__file__).parent
    found = {p.stem for p in here.glob("*.py")} - {"__init__", "common"}
    assert found == set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_describes_the_script_and_runs_nothing(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for part in ("Measures:", "Writes:", "Takes:", "2 cores", "Reading it:"):
        assert part in text, f"{name} --help lacks {part!r}"
    # Every option has help text: on its own line, or on the next when the option is long.
    lines = [line.strip() for line in text.split("options:", 1)[1].splitlines()]
    for i, line in enumerate(lines):
        if line.startswith("-") and "  " not in line:
            following = lines[i + 1] if i + 1 < len(lines) else ""
            assert following, f"{name}: {line} has no help text"
            assert not following.startswith("-"), f"{name}: {line} has no help text"


def test_planner_scale_takes_only_a_known_hypervisor(capsys: pytest.CaptureFixture[str]) -> None:
    planner_scale = importlib.import_module("benchmarks.planner_scale")
    with pytest.raises(SystemExit) as exit_info:
        planner_scale.main(["--hypervisor", "kvm"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'kvm'" in capsys.readouterr().err


def test_planner_scale_lands_every_move_with_eight_per_host(capsys: pytest.CaptureFixture[str]) -> None:
    """Eight moves per host at full link rate. Before a start had to pay for the link it shares,
    moves started beside busy guests slowed them until one aborted, and this target was declared
    unreachable."""
    planner_scale = importlib.import_module("benchmarks.planner_scale")
    args = ["--hosts", "16", "--vms", "400", "--moves", "80", "--seed", "1", "--concurrency", "8"]
    assert planner_scale.main(args) == 0
    assert "checker: valid" in capsys.readouterr().out


def test_an_unwritable_output_folder_stops_migration_target_before_any_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_work(*_: object) -> None:
        raise AssertionError("measured before checking the outputs")

    monkeypatch.setattr(migration_target, "measure", no_work)
    with pytest.raises(SystemExit) as exit_info:
        migration_target.main(["--seeds", "0", "--out", str(tmp_path / "missing")])
    assert exit_info.value.code == 2
    assert f"cannot write {tmp_path}/missing/migration_target.csv: no folder" in capsys.readouterr().err


def test_an_unwritable_output_folder_stops_symmetry_speed_before_any_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_work(*_: object) -> None:
        raise AssertionError("planned before checking the outputs")

    monkeypatch.setattr(symmetry_speed, "run", no_work)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(SystemExit) as exit_info:
        symmetry_speed.main(["--out", str(tmp_path / "a-file")])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("script", [migration_target, symmetry_speed, precopy_validation])
def test_outputs_default_to_the_results_folder_next_to_the_scripts_wherever_they_run(
    script: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Path] = []

    def record(_parser: object, out: Path, _names: object) -> list[Path]:
        asked.append(out)
        raise SystemExit(0)  # stop before the work

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(script, "checked_outputs", record)
    with pytest.raises(SystemExit):
        script.main([])  # type: ignore[attr-defined]
    assert asked == [Path(common.__file__).resolve().parent / "results"]


def test_precopy_validation_exits_0_when_both_targets_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert precopy_validation.main(["--out", str(tmp_path)]) == 0
    assert "(meets the 15 % target)" in capsys.readouterr().out
    with (tmp_path / "precopy_validation.csv").open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) > 0


def _measurements_with(tmp_path: Path, change: dict[str, str], *, converging: bool) -> Path:
    """The published measurements with ``change`` applied to the (non-)converging migrations."""
    with precopy_validation.DATA.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        fields = list(reader.fieldnames or [])
    for row in rows:
        if (row["measured_converges"].strip().lower() == "true") == converging:
            row.update(change)
    path = tmp_path / "measurements.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_precopy_validation_exits_1_when_the_median_error_misses_15_percent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every converging migration measured at a few seconds: the estimates are far off.
    data = _measurements_with(tmp_path, {"measured_total_s": "4.5"}, converging=True)
    assert precopy_validation.main(["--data", str(data), "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "(misses the 15 % target)" in out
    assert "target missed: median error on total time" in out
    assert (tmp_path / "precopy_validation.csv").exists()  # written all the same, to see why


def test_precopy_validation_exits_1_when_a_non_converging_migration_is_predicted_to_converge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The guest of the non-converging set dirtying almost nothing: the estimate says it converges.
    change = {"hot_set_mib": "1", "cold_dirty_rate_mibps": "0", "dirty_rate_mibps": "0"}
    data = _measurements_with(tmp_path, change, converging=False)
    assert precopy_validation.main(["--data", str(data), "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "(meets the 15 % target)" in out  # the median alone would pass
    assert "measured non-converging migration(s) predicted to converge" in out

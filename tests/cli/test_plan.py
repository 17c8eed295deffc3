"""``scheduler plan``: exit 0 with a verified plan, 1 for an infeasible inventory (plan with conflicts
still written), 2 for bad input (nothing written), 3 when no placement is found in time (nothing
written); what-if flags; atomic output.

Runs the console entry point (``scheduler.cli.main:main``) so that exit statuses are the ones a
shell sees.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from check.entries import host_entry, vm_entry

import scheduler.cli.plan as plan_command
from scheduler.check import verify_plan
from scheduler.cli.main import main
from scheduler.io import read_inventory, read_plan
from scheduler.model import PlanStatus
from scheduler.pipeline import with_what_if
from scheduler.solver.staged import NoSolutionError

QUICK = ["--time-limit", "2", "--workers", "2", "-q"]


def hot_cluster() -> dict[str, Any]:
    """h1 runs a and b (4,000 MHz each: 80 %), h2 is empty, h3 is in standby; DRS threshold 3, DPM off.

    Threshold 3 moves one VM to h2; threshold 1 moves nothing; with ``--dpm`` a and b fit on one
    host (80 %, within the 81 % high target), so only one of h1 and h2 stays up.
    """
    return {
        "name": "cli",
        "hosts": [host_entry("h1"), host_entry("h2"), host_entry("h3", "standby")],
        "vms": [vm_entry("a", "h1", 4_000), vm_entry("b", "h1", 4_000)],
    }


def impossible_cluster() -> dict[str, Any]:
    """a must run on h1 and must run on h2: infeasible."""
    return {
        "name": "cli",
        "hosts": [host_entry("h1"), host_entry("h2")],
        "vms": [vm_entry("a", "h1")],
        "rules": [
            {"name": "on-h1", "kind": "vm_host", "mode": "must", "vms": ["a"], "hosts": ["h1"]},
            {"name": "on-h2", "kind": "vm_host", "mode": "must", "vms": ["a"], "hosts": ["h2"]},
        ],
    }


def write(tmp_path: Path, data: dict[str, Any], name: str = "inventory.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def run(*args: str) -> int:
    """Run ``scheduler plan ARGS`` as the console script does; return its exit status."""
    with pytest.raises(SystemExit) as caught:
        main(["plan", *args])
    code = caught.value.code
    return 0 if code is None else int(code)


def plan_at(inventory: Path, out: Path, *flags: str) -> tuple[int, Any]:
    status = run(str(inventory), "-o", str(out), *QUICK, *flags)
    return status, read_plan(out) if out.exists() else None


# -- exit 0 -----------------------------------------------------------------------------------------


def test_feasible_inventory_exits_0_with_a_verified_plan(tmp_path: Path):
    inventory = write(tmp_path, hot_cluster())
    out = tmp_path / "plan.json"
    status, plan = plan_at(inventory, out)
    assert status == 0
    assert plan.status in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE)
    assert len(plan.migrations) == 1
    assert verify_plan(read_inventory(inventory), plan).valid
    assert json.loads(out.read_text())["format"] == "scheduler-plan/1"


def test_threshold_flag_changes_the_plan(tmp_path: Path):
    inventory = write(tmp_path, hot_cluster())
    status, plan = plan_at(inventory, tmp_path / "plan.json", "--threshold", "1")
    assert status == 0
    assert plan.status is PlanStatus.UNCHANGED
    assert plan.migrations == ()


def test_maintenance_flag_evacuates_the_host(tmp_path: Path):
    inventory = write(tmp_path, hot_cluster())
    status, plan = plan_at(inventory, tmp_path / "plan.json", "--maintenance", "h1")
    assert status == 0
    assert plan.host_states["h1"] == "maintenance"
    assert "h1" not in plan.placement.values()
    assert verify_plan(with_what_if(read_inventory(inventory), maintenance=("h1",)), plan).valid
    assert all(m.reason.value == "maintenance" for m in plan.migrations)


def test_dpm_flags_turn_consolidation_on_and_off(tmp_path: Path):
    """With ``--dpm`` one of h1/h2 ends in standby (a and b fit on one host at 80 %); with
    ``--no-dpm`` both stay up and h3 stays in standby."""
    inventory = write(tmp_path, hot_cluster())
    _, on = plan_at(inventory, tmp_path / "on.json", "--dpm")
    _, off = plan_at(inventory, tmp_path / "off.json", "--no-dpm", "--threshold", "1")
    assert list(on.host_states.values()).count("standby") == 2
    assert off.host_states == {"h1": "up", "h2": "up", "h3": "standby"}


def test_max_migrations_flag_caps_optional_moves(tmp_path: Path):
    inventory = write(tmp_path, hot_cluster())
    status, plan = plan_at(inventory, tmp_path / "plan.json", "--max-migrations", "0")
    assert status == 0
    assert plan.migrations == ()


@pytest.mark.parametrize(("flags", "reproducible"), [([], False), (["--reproducible"], True)])
def test_reproducible_flag_reaches_the_solver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str], reproducible: bool
):
    seen = []
    make_plan = plan_command.make_plan

    def recording(instance: Any, options: Any) -> Any:
        seen.append(options.reproducible)
        return make_plan(instance, options)

    monkeypatch.setattr(plan_command, "make_plan", recording)
    status, plan = plan_at(write(tmp_path, hot_cluster()), tmp_path / "plan.json", *flags)
    assert status == 0
    assert plan is not None
    assert seen == [reproducible]


def test_json_inventory_is_read_too(tmp_path: Path):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(hot_cluster()))
    status, plan = plan_at(inventory, tmp_path / "plan.json")
    assert status == 0
    assert verify_plan(read_inventory(inventory), plan).valid


# -- exit 1 -----------------------------------------------------------------------------------------


def test_infeasible_inventory_exits_1_and_still_writes_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    inventory = write(tmp_path, impossible_cluster())
    status, plan = plan_at(inventory, tmp_path / "plan.json")
    assert status == 1
    assert plan is not None
    assert plan.status is PlanStatus.INFEASIBLE
    assert {r for c in plan.conflicts for r in c.rules} == {"on-h1", "on-h2"}
    assert verify_plan(read_inventory(inventory), plan).valid
    assert "infeasible" in capsys.readouterr().out


# -- exit 2 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param(["--threshold", "7"], id="threshold-7"),
        pytest.param(["--maintenance", "unknown-host"], id="unknown-maintenance-host"),
        pytest.param(["--measure", "disk"], id="unknown-measure"),
        pytest.param(["--max-migrations", "-1"], id="negative-budget"),
        pytest.param(["--time-limit", "0"], id="zero-time-limit"),
        pytest.param(["--time-limit", "nan"], id="nan-time-limit"),
        pytest.param(["--time-limit", "inf"], id="infinite-time-limit"),
        pytest.param(["--seed", "-5"], id="negative-seed"),
        pytest.param(["--seed", "3000000000"], id="seed-beyond-int32"),
        pytest.param(["--seed", "99999999999999999999999"], id="huge-seed"),
        pytest.param(["--workers", "1099511627776"], id="huge-workers"),
        pytest.param(["--max-migrations", "99999999999999999999999"], id="huge-budget"),
    ],
)
def test_bad_flag_exits_2_and_writes_nothing(tmp_path: Path, flags: list[str]):
    inventory = write(tmp_path, hot_cluster())
    out = tmp_path / "plan.json"
    assert run(str(inventory), "-o", str(out), *flags) == 2
    assert not out.exists()


def test_bad_flag_names_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    inventory = write(tmp_path, hot_cluster())
    run(str(inventory), "-o", str(tmp_path / "plan.json"), "--maintenance", "unknown-host")
    err = capsys.readouterr().err
    assert "--maintenance" in err
    assert "unknown-host" in err


def test_bad_inventory_exits_2_names_the_field_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = hot_cluster()
    data["vms"][1]["cpu_demand_mhz"] = -5
    inventory = write(tmp_path, data)
    out = tmp_path / "plan.json"
    assert run(str(inventory), "-o", str(out)) == 2
    assert not out.exists()
    assert "cpu_demand_mhz" in capsys.readouterr().err


def test_missing_inventory_exits_2(tmp_path: Path):
    out = tmp_path / "plan.json"
    assert run(str(tmp_path / "nowhere.yaml"), "-o", str(out)) == 2
    assert not out.exists()


def test_no_placement_found_in_time_exits_3_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """Where the search ends without any placement (no feasible warm start, nothing found by
    CP-SAT in time), the user gets the reason and a status of its own, not a traceback."""

    def no_placement(*args: object, **kwargs: object) -> None:
        raise NoSolutionError("no placement found within 2 s (level priority-2 rules); raise --time-limit")

    monkeypatch.setattr(plan_command, "make_plan", no_placement)
    inventory = write(tmp_path, hot_cluster())
    out = tmp_path / "plan.json"
    assert run(str(inventory), "-o", str(out), *QUICK) == 3
    assert not out.exists()
    assert "raise --time-limit" in capsys.readouterr().err


def test_bad_input_leaves_an_existing_plan_untouched(tmp_path: Path):
    inventory = write(tmp_path, hot_cluster())
    out = tmp_path / "plan.json"
    out.write_text("previous plan\n")
    assert run(str(inventory), "-o", str(out), "--threshold", "7") == 2
    assert out.read_text() == "previous plan\n"


# -- atomic output ----------------------------------------------------------------------------------


def test_plan_replaces_an_old_file_and_leaves_no_temporary_files(tmp_path: Path):
    inventory = write(tmp_path, hot_cluster())
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "plan.json"
    out.write_text("previous plan\n")
    status, plan = plan_at(inventory, out)
    assert status == 0
    assert plan is not None
    assert sorted(p.name for p in out_dir.iterdir()) == ["plan.json"]


def test_failed_write_keeps_the_old_plan_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """If the final rename fails, the previous plan is still there, complete, and no temp file is
    left; the user reads why, under the option that named the file, with exit status 2."""
    import scheduler.io.atomic as atomic

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    inventory = write(tmp_path, hot_cluster())
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "plan.json"
    out.write_text("previous plan\n")
    monkeypatch.setattr(atomic.os, "replace", refuse)
    assert run(str(inventory), "-o", str(out), *QUICK) == 2
    monkeypatch.undo()
    assert out.read_text() == "previous plan\n"
    assert sorted(p.name for p in out_dir.iterdir()) == ["plan.json"]
    assert f"--output: cannot write {out}: No space left on device" in capsys.readouterr().err


# -- output paths, checked before the solve ---------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "message"),
    [
        pytest.param(
            "missing/p.json", "cannot write {tmp}/missing/p.json: no folder {tmp}/missing", id="no-folder"
        ),
        pytest.param("inventory.yaml/p.json", "{tmp}/inventory.yaml is not a folder", id="file-as-folder"),
        pytest.param(".", "is a directory", id="folder"),
        pytest.param(
            "inventory.yaml", "is the inventory; writing there would replace it", id="the-inventory"
        ),
    ],
)
def test_bad_output_path_exits_2_before_the_solve(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    output: str,
    message: str,
):
    def no_solve(*args: object, **kwargs: object) -> None:
        raise AssertionError("the output path is checked before solving")

    monkeypatch.setattr(plan_command, "make_plan", no_solve)
    inventory = write(tmp_path, hot_cluster())
    before = inventory.read_text()
    assert run(str(inventory), "-o", str(tmp_path / output), *QUICK) == 2
    err = capsys.readouterr().err
    assert "--output" in err
    assert message.format(tmp=tmp_path) in err
    assert inventory.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inventory.yaml"]


# -- what is printed --------------------------------------------------------------------------------


def test_dpm_level_is_shown_only_with_dpm_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """With DPM off the optimizer still reports its (fixed) hosts-on level: not worth a line."""
    inventory = write(tmp_path, hot_cluster())
    status, plan = plan_at(inventory, tmp_path / "off.json", "--no-dpm")
    assert status == 0
    assert plan_command.DPM_LEVEL in [level["level"] for level in plan.metrics["levels"]]
    capsys.readouterr()
    run(str(inventory), "-o", str(tmp_path / "off.json"), "--time-limit", "2", "--workers", "2", "--no-dpm")
    assert "level dpm hosts on" not in capsys.readouterr().out
    run(str(inventory), "-o", str(tmp_path / "on.json"), "--time-limit", "2", "--workers", "2", "--dpm")
    assert "level dpm hosts on: 1 hosts" in capsys.readouterr().out


def test_progress_is_a_line_per_event_off_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """rich hides its spinner when stderr is no terminal; batch logs still show the search."""
    real = plan_command.make_plan

    def with_events(instance: Any, options: Any) -> Any:
        options.progress("drs imbalance", "solving from 12 (1.0 s budget)")
        options.progress("drs imbalance", "3 units (bound 3)")
        return real(instance, options)

    monkeypatch.setattr(plan_command, "make_plan", with_events)
    inventory = write(tmp_path, hot_cluster())
    args = [str(inventory), "-o", str(tmp_path / "plan.json"), "--time-limit", "2", "--workers", "2"]
    assert run(*args) == 0
    lines = capsys.readouterr().err.splitlines()
    # What was read, the events, and the planning stage after the search.
    assert lines[0].endswith(" s] inventory: 3 hosts, 2 VMs, 0 rules")
    assert lines[1].endswith(" s] drs imbalance: solving from 12 (1.0 s budget)")
    assert lines[2].endswith(" s] drs imbalance: 3 units (bound 3)")
    assert any(" s] plan: ordering and timing " in line for line in lines[3:])
    assert all(line.startswith("[") for line in lines)
    assert run(*args, "-q") == 0
    assert capsys.readouterr().err == ""


def test_quiet_summary_is_one_line_off_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    inventory = write(tmp_path, hot_cluster())
    out = tmp_path / ("a-rather-long-folder-name-" * 4) / "plan.json"
    out.parent.mkdir()
    assert run(str(inventory), "-o", str(out), *QUICK) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.endswith(f"written to {out}")

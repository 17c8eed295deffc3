"""``scheduler report``: exit 0 with a full report, exit 2 on bad input with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scheduler.cli import main as cli_main
from scheduler.cli.report import command
from scheduler.io import write_plan
from scheduler.model import Plan

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "demo.yaml"


def small_plan() -> Plan:
    """The demo's maintenance host cna-07 drained onto cna-06: a valid plan, scheduled and verified
    without a solve."""
    from scheduler.io import read_inventory
    from scheduler.pipeline import plan_from_target

    demo = read_inventory(DEMO)
    placement = {v.name: ("cna-06" if v.host == "cna-07" else v.host or "") for v in demo.vms}
    plan, _ = plan_from_target(demo, placement, {h.name: h.state.value for h in demo.hosts})
    return plan


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    write_plan(small_plan(), path)
    return path


def run(*args: str) -> int:
    """Run through the real entry point, as ``scheduler report ...`` does; return the exit status."""
    cli_main.cli.add_command(command)
    with pytest.raises(SystemExit) as info:
        cli_main.main(list(args))
    code = info.value.code
    assert isinstance(code, int)
    return code


def test_writes_the_report_and_exits_0(plan_file: Path, tmp_path: Path):
    out = tmp_path / "report"
    assert run("report", str(DEMO), str(plan_file), "-o", str(out), "--dpi", "50") == 0
    assert {"report.html", "report.md", "migration-gantt.png"} <= {p.name for p in out.iterdir()}
    # The command verifies the plan before writing, and the report says what that found.
    assert "re-simulated on the shared host links" in (out / "report.md").read_text()


def test_callback_returns_its_exit_status(plan_file: Path, tmp_path: Path):
    status = command.main(
        args=[str(DEMO), str(plan_file), "-o", str(tmp_path / "r"), "--dpi", "50"], standalone_mode=False
    )
    assert status == 0


def test_malformed_plan_exits_2_and_writes_nothing(tmp_path: Path):
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps({"format": "scheduler-plan/1", "status": "sideways"}))
    out = tmp_path / "report"
    assert run("report", str(DEMO), str(bad), "-o", str(out)) == 2
    assert not out.exists()


def test_plan_for_another_inventory_exits_2_and_writes_nothing(
    plan_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = json.loads(plan_file.read_text())
    data["placement"]["ghost-01"] = "cna-99"
    data["migrations"][0]["vm"] = "ghost-02"
    plan_file.write_text(json.dumps(data))
    out = tmp_path / "report"
    assert run("report", str(DEMO), str(plan_file), "-o", str(out)) == 2
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]
    err = capsys.readouterr().err
    assert f"{plan_file}: placement.ghost-01: vm: unknown VM 'ghost-01'" in err
    assert f"{plan_file}: migrations[0]: vm: unknown VM 'ghost-02'" in err


def test_a_plan_the_checker_rejects_gets_no_report(
    plan_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """The first move starts on cna-05 although its VM is on cna-07: exit 1, the checker's
    findings, nothing written."""
    data = json.loads(plan_file.read_text())
    data["migrations"][0]["source"] = "cna-05"
    plan_file.write_text(json.dumps(data))
    out = tmp_path / "report"
    assert run("report", str(DEMO), str(plan_file), "-o", str(out)) == 1
    assert not out.exists()
    err = capsys.readouterr().err
    assert "invalid plan" in err
    assert "[migration.source]" in err


def test_missing_inventory_exits_2(plan_file: Path, tmp_path: Path):
    assert run("report", str(tmp_path / "nope.yaml"), str(plan_file), "-o", str(tmp_path / "r")) == 2


def test_failure_while_writing_keeps_the_previous_report(
    plan_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Atomic: a crash half-way leaves the old report as it was and no temporary folder behind."""
    out = tmp_path / "report"
    assert run("report", str(DEMO), str(plan_file), "-o", str(out), "--dpi", "50") == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*_args: object) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr("scheduler.report.writer.render_markdown", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        command.main(args=[str(DEMO), str(plan_file), "-o", str(out)], standalone_mode=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json", "report"]


def test_folder_with_foreign_files_exits_2(plan_file: Path, tmp_path: Path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "keep.me").write_text("x")
    assert run("report", str(DEMO), str(plan_file), "-o", str(out)) == 2
    assert [p.name for p in out.iterdir()] == ["keep.me"]


def test_missing_parent_folder_exits_2_and_creates_nothing(
    plan_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """Missing parents are not created: a mistyped path is reported, not turned into folders."""
    out = tmp_path / "missing" / "deeper" / "report"
    assert run("report", str(DEMO), str(plan_file), "-o", str(out)) == 2
    assert f"--output: cannot write {out}: no folder {out.parent}" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_output_that_is_a_file_exits_2(plan_file: Path, tmp_path: Path):
    assert run("report", str(DEMO), str(plan_file), "-o", str(plan_file)) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_folder_with_foreign_files_is_refused_before_rendering(
    plan_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def no_render(*args: object, **kwargs: object) -> None:
        raise AssertionError("the output folder is checked before the report is built")

    monkeypatch.setattr("scheduler.report.writer.build_report", no_render)
    out = tmp_path / "report"
    out.mkdir()
    (out / "keep.me").write_text("x")
    assert run("report", str(DEMO), str(plan_file), "-o", str(out)) == 2


def test_failed_write_exits_2_and_keeps_the_previous_report(
    plan_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "report"
    assert run("report", str(DEMO), str(plan_file), "-o", str(out), "--dpi", "50") == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def disk_full(*_args: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("scheduler.report.writer.render_markdown", disk_full)
    assert run("report", str(DEMO), str(plan_file), "-o", str(out), "--dpi", "50") == 2
    assert f"--output: cannot write {out}: No space left on device" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json", "report"]


def test_report_describes_the_policy_the_plan_was_made_under(plan_file: Path, tmp_path: Path):
    """A plan recording ``metrics.policy`` (``scheduler plan --dpm --threshold 4``) is reported
    under it, and the Summary says where the inventory's differs; without it, the inventory's."""
    data = json.loads(plan_file.read_text())
    data["metrics"]["policy"] = {
        "drs": {"enabled": True, "threshold": 4, "measure": "cpu_memory"},
        "dpm": {"enabled": True, "threshold": 3, "target_utilization": [0.45, 0.81], "min_hosts_on": 2},
    }
    recorded = tmp_path / "recorded.json"
    recorded.write_text(json.dumps(data))
    out = tmp_path / "report"
    assert run("report", str(DEMO), str(recorded), "-o", str(out), "--dpi", "50") == 0
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "DRS on (threshold 4, measure cpu_memory); DPM on (target 45%–81%, at least 2 hosts on)" in md
    assert "Planned with DRS threshold 4; the inventory has 3." in md
    assert "Planned with DPM on; the inventory has it off." in md
    plain = tmp_path / "plain"
    assert run("report", str(DEMO), str(plan_file), "-o", str(plain), "--dpi", "50") == 0
    md = (plain / "report.md").read_text(encoding="utf-8")
    assert "(threshold 3, measure cpu_memory); DPM off" in md
    assert "Planned with" not in md

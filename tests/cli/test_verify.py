"""``scheduler verify`` (and ``schedule`` and ``report``) with ``--maintenance``: a what-if plan
is checked against the inventory with the same hosts put in maintenance; and ``--no-timing``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from check.entries import host_entry, vm_entry

from scheduler.cli.main import main


def run(*args: str) -> int:
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    code = caught.value.code
    return 0 if code is None else int(code)


@pytest.fixture
def what_if(tmp_path: Path) -> tuple[Path, Path]:
    """An inventory and a plan made with ``--maintenance h1`` (h1's VMs go to h2 and h3)."""
    inventory = tmp_path / "inventory.yaml"
    data = {
        "name": "cli",
        "hosts": [host_entry("h1"), host_entry("h2"), host_entry("h3")],
        "vms": [vm_entry("a", "h1", 2_000), vm_entry("b", "h1", 2_000)],
    }
    inventory.write_text(yaml.safe_dump(data))
    plan = tmp_path / "plan.json"
    flags = ["--time-limit", "2", "--workers", "2", "-q"]
    assert run("plan", str(inventory), "-o", str(plan), "--maintenance", "h1", *flags) == 0
    return inventory, plan


def test_what_if_plan_verifies_with_the_same_flag_only(
    what_if: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    inventory, plan = what_if
    capsys.readouterr()
    assert run("verify", str(inventory), str(plan)) == 1
    out = capsys.readouterr().out
    assert "host h1: cannot go from up to maintenance" in out
    assert "(a plan made with --maintenance is verified with the same flag)" in out
    assert run("verify", str(inventory), str(plan), "--maintenance", "h1") == 0
    assert "valid" in capsys.readouterr().out


def test_verify_re_simulates_migration_times_unless_told_not_to(
    what_if: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each move said to last twice as long as the shared links make it: invalid by default, valid
    with --no-timing (the replay alone takes the estimates as given)."""
    inventory, plan = what_if
    document = json.loads(plan.read_text())
    assert document["migrations"]
    for m in document["migrations"]:
        m["estimate"]["total_s"] *= 2
        m["end_s"] = m["start_s"] + m["estimate"]["total_s"]
    plan.write_text(json.dumps(document))
    capsys.readouterr()
    assert run("verify", str(inventory), str(plan), "--maintenance", "h1") == 1
    out = capsys.readouterr().out
    assert "[migration.timing]" in out
    assert "re-simulated on the shared links" in out
    assert run("verify", str(inventory), str(plan), "--maintenance", "h1", "--no-timing") == 0
    capsys.readouterr()
    assert run("verify", str(inventory), str(plan), "--maintenance", "h1", "--json") == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["valid"] is False
    assert verdict["timing_checked"] is True
    assert verdict["migrations"] == len(document["migrations"])
    assert {f["code"] for f in verdict["findings"]} == {"migration.timing"}
    assert {f["vm"] for f in verdict["findings"]} == {m["vm"] for m in document["migrations"]}
    assert run("verify", str(inventory), str(plan), "--maintenance", "h1", "--json", "--no-timing") == 0
    assert json.loads(capsys.readouterr().out) == {
        "status": document["status"],
        "migrations": len(document["migrations"]),
        "power_actions": len(document["power_actions"]),
        "timing_checked": False,
        "valid": True,
        "findings": [],
    }


def test_what_if_plan_schedules_and_reports_with_the_same_flag(
    what_if: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory, plan = what_if
    out = tmp_path / "scheduled.json"
    assert run("schedule", str(inventory), str(plan), "-o", str(out)) == 2
    assert "(a target made with --maintenance is scheduled with the same flag)" in capsys.readouterr().err
    assert not out.exists()
    assert run("schedule", str(inventory), str(plan), "-o", str(out), "--maintenance", "h1", "-q") == 0
    assert run("verify", str(inventory), str(out), "--maintenance", "h1") == 0
    report = tmp_path / "report"
    assert (
        run("report", str(inventory), str(plan), "-o", str(report), "--dpi", "50", "--maintenance", "h1") == 0
    )
    assert (report / "report.html").exists()


def test_unknown_maintenance_host_exits_2(
    what_if: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    inventory, plan = what_if
    assert run("verify", str(inventory), str(plan), "--maintenance", "nowhere") == 2
    assert "--maintenance: unknown host 'nowhere'" in capsys.readouterr().err

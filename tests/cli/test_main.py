"""The entry points and what every command shares: ``python -m scheduler``, unwrapped output off a
terminal, inputs that are not regular files refused before they are opened."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.cli.console import make_console
from scheduler.cli.main import main

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "demo.yaml"


def run(*args: str) -> int:
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    code = caught.value.code
    return 0 if code is None else int(code)


def test_python_dash_m_runs_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "scheduler, version" in result.stdout


def test_console_off_a_terminal_does_not_wrap(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buffer)
    console = make_console()
    assert not console.is_terminal
    line = "feasible: " + "x" * 300 + " written to plan.json"
    console.print(line)
    assert buffer.getvalue() == line + "\n"


def test_error_messages_stay_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One problem, one line, however long its path: logs are searched with grep."""
    deep = tmp_path / ("long-folder-name-" * 6) / "plan.json"
    assert run("plan", str(DEMO), "-o", str(deep)) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[1] == f"  command line: --output: cannot write {deep}: no folder {deep.parent}"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["analyze", "{fifo}"], id="analyze"),
        pytest.param(["plan", "{fifo}", "-o", "{tmp}/p.json"], id="plan"),
        pytest.param(["verify", "{fifo}", "{plan}"], id="verify-inventory"),
        pytest.param(["verify", str(DEMO), "{fifo}"], id="verify-plan"),
        pytest.param(["schedule", str(DEMO), "{fifo}", "-o", "{tmp}/p.json"], id="schedule-target"),
        pytest.param(["report", str(DEMO), "{fifo}", "-o", "{tmp}/r"], id="report-plan"),
    ],
)
def test_a_fifo_as_input_exits_2_instead_of_hanging(
    tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "input.yaml"
    os.mkfifo(fifo)
    plan = tmp_path / "plan.json"
    plan.write_text("{}")
    filled = [a.format(fifo=fifo, tmp=tmp_path, plan=plan) for a in args]
    assert run(*filled) == 2
    assert "is not a regular file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.yaml", "plan.json"]

"""``scheduler estimate``: table, JSON, sweep, plot and input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scheduler.cli.estimate import command
from scheduler.errors import InputError

BASE = ["--memory-mib", "16384", "--dirty-rate-mibps", "80", "--network-gbps", "10", "--hypervisor", "qemu"]


def test_prints_a_table() -> None:
    """The default output is a table naming the key quantities."""
    result = CliRunner().invoke(command, BASE)
    assert result.exit_code == 0, result.output
    assert "total_s" in result.output
    assert "converged" in result.output


def test_json_is_the_plan_estimate_object() -> None:
    """``--json`` prints the five contract keys and the extras."""
    result = CliRunner().invoke(command, [*BASE, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"total_s", "downtime_ms", "transferred_mib", "iterations", "converges"} <= set(data)
    assert data["converges"] is True
    assert data["hypervisor"] == "qemu"
    assert data["downtime_ms"] <= 300


def test_flags_override_the_preset() -> None:
    """A lifted cap makes the same move much faster; a pass cap of 1 stops Xen after its first pass."""
    fast = json.loads(CliRunner().invoke(command, [*BASE, "--bandwidth-cap-mibps", "1000", "--json"]).output)
    slow = json.loads(CliRunner().invoke(command, [*BASE, "--json"]).output)
    assert fast["total_s"] < slow["total_s"] / 4
    capped = json.loads(
        CliRunner().invoke(command, [*BASE, "--hypervisor", "xen", "--max-rounds", "1", "--json"]).output
    )
    assert capped["iterations"] == 1


def test_working_set_flags() -> None:
    """The working-set flags replace the constant dirty rate."""
    args = [
        "--memory-mib",
        "8192",
        "--hot-set-mib",
        "256",
        "--hot-period-s",
        "2",
        "--cold-dirty-rate-mibps",
        "1",
    ]
    result = CliRunner().invoke(command, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["iterations"] >= 2


SWEEP = ["--memory-mib", "1024", "--sweep", "memory", "--sweep-from", "1", "--sweep-to", "2"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--memory-mib", "-5"], "--memory-mib"),
        (["--memory-mib", "1024", "--network-gbps", "0"], "--network-gbps"),
        (["--memory-mib", "1024", "--hypervisor", "hyperv"], "--hypervisor"),
        (["--memory-mib", "1024", "--share", "1.5"], "--share"),
        (["--memory-mib", "1024", "--sweep", "memory"], "--sweep"),
        (["--memory-mib", "1024", "--downtime-limit-ms", "0"], "--downtime-limit-ms"),
        ([*SWEEP, "--sweep-steps", "10000000"], "--sweep-steps"),
        ([*SWEEP, "--plot", "missing/sweep.png"], "--plot"),
    ],
)
def test_bad_values_are_input_errors(args: list[str], field: str) -> None:
    """Bad values raise InputError naming the flag (the CLI main turns it into exit status 2)."""
    result = CliRunner().invoke(command, args)
    assert isinstance(result.exception, InputError)
    assert field in [p.field for p in result.exception.problems]
    assert all(p.file == "command line" for p in result.exception.problems)


def test_sweep_table_and_plot(tmp_path: Path) -> None:
    """A dirty-rate sweep prints every point, marks the non-converging ones, and writes a PNG atomically."""
    out = tmp_path / "sweep.png"
    args = ["--memory-mib", "8192", "--sweep", "dirty-rate", "--sweep-from", "0", "--sweep-to", "200"]
    result = CliRunner().invoke(command, [*args, "--sweep-steps", "5", "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert "aborted" in result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.png"]


def test_sweep_json_lists_each_point() -> None:
    """``--json`` with a sweep gives one object per point, with its x value."""
    args = ["--memory-mib", "8192", "--sweep", "bandwidth", "--sweep-from", "1", "--sweep-to", "25"]
    result = CliRunner().invoke(command, [*args, "--sweep-steps", "4", "--json"])
    points = json.loads(result.output)
    assert [p["x"] for p in points] == [1.0, 9.0, 17.0, 25.0]
    assert points[0]["total_s"] > points[-1]["total_s"]

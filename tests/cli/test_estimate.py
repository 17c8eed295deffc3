"""``scheduler estimate``: table, JSON, sweep, plot and input errors."""

from __future__ import annotations

import json
import math
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
        ([*SWEEP, "--plot", "sweep.txt"], "--plot"),
        (["--memory-mib", "16384", "--dirty-rate-mibps", "1e308"], "--dirty-rate-mibps"),
        (["--memory-mib", "1e308"], "--memory-mib"),
        (["--memory-mib", "1024", "--network-gbps", "0.001"], "--network-gbps"),
        (
            ["--memory-mib", "1024", "--sweep", "bandwidth", "--sweep-from", "1", "--sweep-to", "1e6"],
            "--sweep-to",
        ),
        (["--memory-mib", "1024", "--sweep", "memory", "--sweep-from", "2", "--sweep-to", "2"], "--sweep-to"),
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


def test_sweep_plot_keeps_aborted_runs_apart() -> None:
    """QEMU's 8 GiB move aborts above its 128 MiB/s cap: crosses at the time lost, labelled aborted,
    never joined to the converged points, and no downtime point (0 ms is no switchover)."""
    import matplotlib.pyplot as plt

    from scheduler.cli.estimate import plot_sweep, sweep_title
    from scheduler.migration.precopy import MigrationInput, estimate
    from scheduler.migration.presets import preset_for

    preset = preset_for("qemu")
    base = MigrationInput(memory_mib=8192, dirty_rate_mibps=0, network_gbps=10)
    xs = [0.0, 50.0, 100.0, 150.0, 200.0]
    estimates = [
        estimate(MigrationInput(memory_mib=8192, dirty_rate_mibps=x, network_gbps=10), preset) for x in xs
    ]
    assert [e.outcome for e in estimates][-2:] == ["aborted", "aborted"]
    ax = plot_sweep(xs, estimates, "dirty-rate", sweep_title(base, "dirty-rate", preset))
    try:
        total, crosses = ax.get_lines()[:2]
        assert all(math.isnan(y) for y in total.get_ydata()[-2:])
        assert list(crosses.get_xdata()) == [150.0, 200.0]
        assert crosses.get_label().startswith("aborted")
        downtime = ax.figure.axes[1].get_lines()[0]
        assert all(math.isnan(y) for y in downtime.get_ydata()[-2:])
        assert ax.get_title() == "Pre-copy estimate vs dirty rate (MiB/s) (qemu, 8 GiB VM, 10 Gbit/s link)"
        ax.figure.canvas.draw()
        assert ax.get_legend().get_window_extent().x0 >= ax.figure.axes[1].get_window_extent().x1
    finally:
        plt.close(ax.figure)


def test_sweep_table_gives_no_downtime_for_an_aborted_run() -> None:
    args = ["--memory-mib", "8192", "--sweep", "dirty-rate", "--sweep-from", "0", "--sweep-to", "200"]
    result = CliRunner().invoke(command, [*args, "--sweep-steps", "2"])
    assert result.exit_code == 0, result.output
    aborted = next(line for line in result.output.splitlines() if "aborted" in line)
    assert "–" in aborted
    assert "0.0 " not in aborted


def test_json_at_the_inventory_bounds_is_strict_json() -> None:
    """At the largest memory and dirty rate and the slowest link an inventory allows, every
    figure stays finite: no Infinity or NaN, which JSON does not have."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-finite {constant} in the JSON")

    args = [
        "--memory-mib",
        "1073741824",
        "--dirty-rate-mibps",
        "10000000",
        "--network-gbps",
        "0.01",
        "--json",
    ]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output, parse_constant=refuse)["converges"] is False

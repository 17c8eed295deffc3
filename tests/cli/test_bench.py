"""``scheduler bench``: the smoke suite end to end, resume, --only, exit status, the recorded command."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pandas as pd
import pytest

from scheduler.bench.runner import read_rows
from scheduler.cli.bench import _command_line, command, failed_runs
from scheduler.errors import InputError


def invoke(*args: str) -> int:
    """Run the command as the CLI group does (standalone off: the callback's int is the exit status)."""
    status = command.main(args=list(args), standalone_mode=False)
    assert isinstance(status, int)
    return status


def test_smoke_suite_writes_csv_manifest_plots_and_summary(tmp_path: Path) -> None:
    assert invoke("--suite", "smoke", "--out", str(tmp_path), "-q") == 0
    rows = read_rows(tmp_path / "smoke.csv")
    assert {r["contender"] for r in rows} == {"ours-t3", "greedy-drs", "greedy-drs-costaware", "ffd-dpm"}
    assert all(r["valid"] == "True" for r in rows)
    for name in ("pareto", "solve-time", "hosts-on", "host-utilization"):
        assert (tmp_path / f"smoke-{name}.png").stat().st_size > 1000
    summary = (tmp_path / "smoke-summary.md").read_text()
    assert "scheduler bench --suite smoke" in summary
    assert "| tiny-" in summary
    assert (tmp_path / "smoke-manifest.csv").exists()
    # Resume: nothing left to compute.
    assert invoke("--suite", "smoke", "--out", str(tmp_path), "-q", "--no-plots") == 0
    resumed = (tmp_path / "smoke-summary.md").read_text()
    assert "0 computed in this invocation, 4 reused" in resumed
    runs_s = sum(float(r["wall_s"]) for r in rows)
    assert f"the runs' own wall times add up to {runs_s:,.0f} s (reused ones as first measured)" in resumed


def test_only_a_family_the_suite_lacks_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(click.UsageError, match="no run in XL"):
        invoke("--suite", "smoke", "--out", str(tmp_path), "--only", "XL")


def test_a_baseline_without_a_target_is_a_finding_but_an_invalid_plan_or_our_failure_fails_the_run() -> None:
    rows = pd.DataFrame(
        [
            ("ffd-dpm", "failed"),  # no packing under the DPM target: a result
            ("proxlb-t3", "skipped"),
            ("greedy-drs", "feasible"),
            ("greedy-drs", "invalid"),  # the checker rejected a plan: fails, whoever made it
            ("greedy-drs-costaware", "error"),  # a crash
            ("ours-t3", "failed"),
            ("ours-t3-dpm", "optimal"),
        ],
        columns=["contender", "status"],
    )
    assert failed_runs(rows).values.tolist() == [
        ["greedy-drs", "invalid"],
        ["greedy-drs-costaware", "error"],
        ["ours-t3", "failed"],
    ]


@pytest.mark.parametrize(
    ("args", "recorded"),
    [
        (["--fresh", "-q"], "scheduler bench --suite quick --fresh --quiet"),
        (
            ["--suite", "full", "--only", "L", "--only", "XL"],
            "scheduler bench --suite full --only L --only XL",
        ),
        (["--suite", "peer", "--time-limit", "10"], "scheduler bench --suite peer --time-limit 10.0"),
    ],
)
def test_the_summary_records_the_suite_even_at_its_default(args: list[str], recorded: str) -> None:
    """A summary names the suite that made it; other options only where they differ from the default."""
    with command.make_context("bench", list(args)) as ctx:
        assert _command_line(ctx) == recorded


@pytest.mark.parametrize(
    "flags", [["--time-limit", "nan"], ["--time-limit", "inf"], ["--cp-workers", "100000"]]
)
def test_out_of_range_options_are_usage_errors(tmp_path: Path, flags: list[str]) -> None:
    with pytest.raises(click.BadParameter):
        invoke("--suite", "smoke", "--out", str(tmp_path), *flags)


@pytest.mark.parametrize(
    "blocked", ["smoke-summary.md", "smoke-pareto.png", "smoke-manifest.json", "smoke.csv"]
)
def test_an_output_path_taken_by_a_folder_is_refused_before_any_run(tmp_path: Path, blocked: str) -> None:
    (tmp_path / blocked).mkdir()
    with pytest.raises(InputError, match=rf"--out.*{re.escape(blocked)} is a folder"):
        invoke("--suite", "smoke", "--out", str(tmp_path), "-q")
    assert sorted(p.name for p in tmp_path.iterdir()) == [blocked]


def test_plots_left_out_are_not_checked(tmp_path: Path) -> None:
    """--no-plots writes no figure, so a folder where one would go is no obstacle."""
    (tmp_path / "smoke-pareto.png").mkdir()
    assert invoke("--suite", "smoke", "--out", str(tmp_path), "-q", "--no-plots", "--only", "tiny") == 0
    assert (tmp_path / "smoke-summary.md").is_file()


def test_an_out_folder_that_cannot_be_created_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match=r"--out.*cannot create the folder"):
        invoke("--suite", "smoke", "--out", str(tmp_path / "file" / "results"), "-q")

"""``scheduler bench``: run a benchmark suite, resumably, serially or on dask; CSV, plots, summary."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click
import pandas as pd

from scheduler.bench.contenders import ERROR, INVALID, contender
from scheduler.bench.families import SUITES, manifest_paths, suite
from scheduler.bench.plots import frame, plot_paths, write_plots
from scheduler.bench.runner import result_paths, run_suite
from scheduler.bench.summary import summary_markdown
from scheduler.cli.console import make_console
from scheduler.cli.params import FiniteFloatRange
from scheduler.cli.paths import WHERE, check_output_file
from scheduler.errors import InputError, Problem
from scheduler.io import atomic_write_text

FAMILIES = ("S", "M", "L", "XL", "DC", "tiny")


@click.command("bench")
@click.option(
    "--suite",
    "suite_name",
    type=click.Choice(sorted(SUITES)),
    default="quick",
    show_default=True,
    help="quick: minutes (S variants; one M with every contender, three M load levels with DPM); "
    "full: every family up to XL and a data centre; peer: the M family against proxlb-solver; "
    "smoke: seconds, for tests.",
)
@click.option(
    "--executor",
    type=click.Choice(["serial", "dask"]),
    default="serial",
    show_default=True,
    help="serial: one run at a time, each in its own process; dask: fan out on dask.distributed.",
)
@click.option(
    "--scheduler",
    "scheduler_address",
    metavar="ADDRESS",
    help="Address of a running dask scheduler (tcp://host:8786); default: a LocalCluster.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Worker processes of the dask LocalCluster.",
)
@click.option(
    "--time-limit",
    "time_limit_s",
    type=FiniteFloatRange(min=0.5, max=7 * 24 * 3600),
    help="Seconds per run for every time-limited contender (default: the suite's).",
)
@click.option(
    "--cp-workers",
    type=click.IntRange(min=0, max=256),
    default=0,
    show_default=True,
    help="CP-SAT workers for ours (0 = as `plan --workers 0`: the cores, 2 to 8).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="benchmarks/results",
    show_default=True,
    help="Folder for <suite>.csv, the manifest, the plots and <suite>-summary.md.",
)
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(FAMILIES, case_sensitive=False),
    help="Run only this family (repeat for several).",
)
@click.option("--fresh", is_flag=True, help="Ignore rows of earlier runs and recompute everything.")
@click.option("--no-plots", is_flag=True, help="Write the CSV and summary only.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def command(
    suite_name: str,
    executor: str,
    scheduler_address: str | None,
    workers: int,
    time_limit_s: float | None,
    cp_workers: int,
    out_dir: str,
    only: tuple[str, ...],
    fresh: bool,
    no_plots: bool,
    quiet: bool,
) -> int:
    """Run a benchmark suite: ours at several thresholds, DRS greedy and FFD baselines, proxlb-solver.

    Each (instance, contender, seed) becomes one row of OUT/<suite>.csv; rows already there are
    not recomputed (use --fresh). Every plan is verified; invalid plans and crashes are rows too.
    Exit 1 when a plan fails the checker or a run crashes (in any contender), or when our
    optimizer has no valid plan; a baseline that finds no target (FFD with no packing under the
    DPM target, a peer's solver giving up) is a result in the table, not a failed run. Exit 0
    otherwise.
    """
    chosen = suite(suite_name)
    if only:
        chosen = chosen.only(only)
        if not chosen.runs:
            raise click.UsageError(f"suite {suite_name} has no run in {', '.join(only)}")
    out = Path(out_dir)
    _check_outputs(out, chosen.name, plots=not no_plots)
    console = make_console(stderr=True)
    result = run_suite(
        chosen,
        out,
        executor="dask" if executor == "dask" else "serial",
        scheduler_address=scheduler_address,
        workers=workers,
        time_limit_s=time_limit_s,
        cp_workers=cp_workers,
        fresh=fresh,
        progress=not quiet,
        console=console,
    )
    df = frame(result.rows)
    plots: list[str] = []
    if not no_plots:
        plots = [p.name for p in write_plots(df, result.hosts, out, chosen.name)]
    command_line = _command_line(click.get_current_context())
    summary = summary_markdown(
        df,
        suite_name=chosen.name,
        command=command_line.strip(),
        wall_s=result.wall_s,
        computed=result.computed,
        reused=result.reused,
        plots=plots,
        cores=os.cpu_count(),
    )
    summary_path = _summary_path(out, chosen.name)
    atomic_write_text(summary_path, summary)
    no_plan = df[~df["status"].isin(PLAN_WRITTEN)]
    bad = failed_runs(df)
    make_console().print(
        f"{len(df)} runs ({result.computed} computed, {result.reused} reused) in {result.wall_s:.0f} s; "
        f"{len(no_plan)} without a valid plan ({len(bad)} of them an invalid plan, a crash or ours); "
        f"results in {result.csv_path}, summary in {summary_path}"
    )
    return 1 if len(bad) else 0


def _summary_path(out: Path, suite_name: str) -> Path:
    return out / f"{suite_name}-summary.md"


def _check_outputs(out: Path, suite_name: str, *, plots: bool) -> None:
    """Check every file the suite writes before its runs, which take minutes to hours: a summary
    path that is a folder was found only after them.

    The folder is created now (with its parents, as the runner always has): the manifest is
    written into it before the first run anyway.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        problem = Problem(WHERE, "", "--out", f"cannot create the folder {out} ({reason})")
        raise InputError([problem]) from None
    files = [*result_paths(out, suite_name), *manifest_paths(out, suite_name), _summary_path(out, suite_name)]
    if plots:
        files += plot_paths(out, suite_name)
    for path in files:
        check_output_file(path, "--out")


PLAN_WRITTEN = ("optimal", "feasible", "unchanged", "skipped")


def failed_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that make the command fail: a plan the checker rejects or a crash, whoever ran,
    and our optimizer without a valid plan. A baseline with no target is a benchmark finding."""
    broken = df["status"].isin((INVALID, ERROR))
    ours = df["contender"].map(lambda name: contender(name).kind == "ours")
    return df[broken | (ours & ~df["status"].isin(PLAN_WRITTEN))]


# Recorded even at their default: a summary must name the suite that made it, and the default
# suite may change, which would make an old summary's command line mean something else.
ALWAYS_RECORDED = frozenset({"suite_name"})


def _command_line(ctx: click.Context) -> str:
    """The invocation, rebuilt for the summary: the suite always, other options where they differ
    from their defaults."""
    words = ["scheduler", "bench"]
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        value = ctx.params.get(param.name)
        at_default = value == param.default or value in (None, (), False)
        if at_default and param.name not in ALWAYS_RECORDED:
            continue
        flag = max(param.opts, key=len)
        if param.is_flag:
            words.append(flag)
        elif isinstance(value, tuple):
            words += [w for v in value for w in (flag, str(v))]
        else:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)

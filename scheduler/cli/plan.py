"""``scheduler plan``: inventory in, verified and costed plan out."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import click
from rich.console import Console
from rich.table import Table

from scheduler.cli.console import make_console
from scheduler.cli.params import FiniteFloatRange, InputPath
from scheduler.cli.paths import check_output_file, naming_option
from scheduler.io import read_inventory, write_plan
from scheduler.model import Plan, PlanStatus
from scheduler.pipeline import make_plan
from scheduler.solver.options import ProgressCallback, SolveOptions
from scheduler.solver.result import DPM_LEVEL, level_amount
from scheduler.solver.staged import NoSolutionError
from scheduler.what_if import with_what_if

EXIT_NO_PLAN = 3  # the search found no placement in time: nothing written
MAX_SEED = 2**31 - 1  # CP-SAT's random seed is a signed 32-bit integer, numpy's may not be negative
MAX_WORKERS = 256
MAX_MIGRATIONS = 10**9
MAX_TIME_LIMIT_S = 7 * 24 * 3600.0


@click.command("plan")
@click.argument("inventory", type=InputPath(dir_okay=True))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="plan.json",
    show_default=True,
    help="Where to write the plan (JSON, docs/plan.md); its folder must exist.",
)
@click.option(
    "--maintenance", multiple=True, metavar="HOST", help="What-if: put HOST in maintenance (repeat)."
)
@click.option(
    "--threshold",
    type=click.IntRange(1, 5),
    help="What-if: DRS threshold 1 (conservative) .. 5 (aggressive).",
)
@click.option("--dpm/--no-dpm", default=None, help="What-if: turn DPM on or off.")
@click.option("--measure", type=click.Choice(["cpu", "memory", "cpu_memory"]), help="What-if: DRS measure.")
@click.option("--max-migrations", type=click.IntRange(0, MAX_MIGRATIONS), help="Budget of optional moves.")
@click.option(
    "--time-limit",
    "time_limit_s",
    type=FiniteFloatRange(1.0, MAX_TIME_LIMIT_S),
    default=30.0,
    show_default=True,
    help="Solver wall-clock limit in seconds (at most a week).",
)
@click.option(
    "--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True, help="Solver random seed."
)
@click.option(
    "--workers",
    type=click.IntRange(0, MAX_WORKERS),
    default=0,
    help="CP-SAT workers (0 = the cores, at least 2, at most 8).",
)
@click.option(
    "--reproducible",
    is_flag=True,
    help="Same inventory, options and seed give the same plan wherever every level is proven, and "
    "the local search of large clusters ends on its budget, within the time limit (CP-SAT's workers "
    "interleaved instead of racing, local-search rounds bounded in deterministic time: slower).",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress; print only the summary line (and the conflicts, when infeasible).",
)
def command(
    inventory: str,
    output: str,
    maintenance: tuple[str, ...],
    threshold: int | None,
    dpm: bool | None,
    measure: str | None,
    max_migrations: int | None,
    time_limit_s: float,
    seed: int,
    workers: int,
    reproducible: bool,
    quiet: bool,
) -> int:
    """Plan where every VM runs and which hosts stay on (DPM > rules > DRS), with timed moves.

    Exit 0 when a plan is written (optimal, feasible, unchanged), 1 when the inventory is
    infeasible (the plan with its conflicts is still written), 2 on bad input (nothing written),
    3 when the search found no placement at all within the time limit (nothing written; rare:
    the greedy warm start is usually one). Ctrl-C stops the search and keeps the best plan
    found so far. Progress goes to stderr: a spinner on a terminal, a line per step otherwise.
    """
    check_output_file(output, "--output", {"inventory": inventory})
    err = make_console(stderr=True)
    with _progress(err, quiet) as progress:
        instance = with_what_if(
            read_inventory(inventory),
            maintenance=maintenance,
            threshold=threshold,
            dpm=dpm,
            measure=measure,
        )
        progress(
            "inventory",
            f"{instance.num_hosts:,} hosts, {instance.num_vms:,} VMs, {len(instance.rules):,} rules",
        )
        options = SolveOptions(
            time_limit_s=time_limit_s,
            seed=seed,
            num_workers=workers,
            max_migrations=max_migrations,
            progress=progress,
            reproducible=reproducible,
        )
        try:
            outcome = make_plan(instance, options)
        except NoSolutionError as exc:
            err.print(f"[bold red]error:[/] {exc}; nothing written")
            return EXIT_NO_PLAN
    with naming_option("--output"):
        write_plan(outcome.plan, output)
    _summary(outcome.plan, output, make_console(), quiet, dpm_enabled=instance.policy.dpm.enabled)
    return 1 if outcome.plan.status is PlanStatus.INFEASIBLE else 0


@contextlib.contextmanager
def _progress(err: Console, quiet: bool) -> Iterator[ProgressCallback]:
    """The solver's progress callback: a spinner on a terminal; off one, where rich shows no
    spinner, a plain timed line per event so that logs of batch runs show how the search went.
    Nothing at all with ``quiet``."""
    if quiet:

        def silent(level: str, message: str) -> None:
            return None

        yield silent
        return
    if err.is_terminal:
        with err.status("reading the inventory…") as status:

            def update(level: str, message: str) -> None:
                status.update(f"{level}: {message}")

            yield update
        return
    started = time.monotonic()

    def line(level: str, message: str) -> None:
        err.print(f"[{time.monotonic() - started:6.1f} s] {level}: {message}", markup=False)

    yield line


def _summary(plan: Plan, output: str, console: Console, quiet: bool, *, dpm_enabled: bool) -> None:
    if plan.status is PlanStatus.INFEASIBLE:
        console.print(f"[red]infeasible[/]: plan with {len(plan.conflicts)} conflict(s) written to {output}")
        for c in plan.conflicts:
            console.print(f"  [{c.kind}] {c.explanation}", markup=False)
        return
    before, after = plan.metrics.get("before", {}), plan.metrics.get("after", {})
    stats = plan.metrics.get("schedule", {})
    console.print(
        f"[bold]{plan.status.value}[/]: {len(plan.migrations)} migrations, "
        f"{len(plan.power_actions)} power actions, makespan {stats.get('makespan_s', 0.0):.0f} s, "
        f"written to {output}"
    )
    if quiet:
        return
    table = Table(title="Before → after")
    table.add_column("indicator")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    for resource in ("cpu", "memory"):
        table.add_row(
            f"imbalance {resource}",
            f"{before.get('imbalance', {}).get(resource, 0):.4f}",
            f"{after.get('imbalance', {}).get(resource, 0):.4f}",
        )
        table.add_row(
            f"max utilization {resource}",
            f"{100 * before.get('max_utilization', {}).get(resource, 0):.1f} %",
            f"{100 * after.get('max_utilization', {}).get(resource, 0):.1f} %",
        )
    table.add_row("hosts up", str(before.get("hosts_up")), str(after.get("hosts_up")))
    table.add_row("power", f"{before.get('total_watts', 0):.0f} W", f"{after.get('total_watts', 0):.0f} W")
    console.print(table)
    console.print(
        f"migration time {stats.get('total_migration_s', 0.0):.0f} s in total, "
        f"{stats.get('total_transferred_mib', 0.0) / 1024:.1f} GiB moved, "
        f"peak {stats.get('peak_concurrent_moves', 0)} concurrent moves; "
        f"solve {plan.metrics.get('solve_time_s', 0.0):.1f} s"
    )
    for level in plan.metrics.get("levels", []):
        if level["level"] == DPM_LEVEL and not dpm_enabled:
            continue
        unit = level["unit"]
        bound = "optimal" if level["optimal"] else f"bound {level_amount(level['bound'], unit, named=False)}"
        console.print(f"  level {level['level']}: {level_amount(level['value'], unit)} ({bound})")
    for v in plan.violations:
        console.print(f"  rule {v.rule} (priority {v.priority}) left broken: {v.detail}", markup=False)
    for note in plan.metrics.get("notes", []):
        console.print(f"  note: {note}", markup=False)

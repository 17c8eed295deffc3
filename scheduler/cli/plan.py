"""``scheduler plan``: inventory in, verified and costed plan out."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from scheduler.io import read_inventory, write_plan
from scheduler.model import Plan, PlanStatus
from scheduler.pipeline import make_plan, with_what_if
from scheduler.solver.options import SolveOptions
from scheduler.solver.staged import NoSolutionError

EXIT_NO_PLAN = 3  # the search found no placement in time: nothing written


@click.command("plan")
@click.argument("inventory", type=click.Path(exists=True, dir_okay=True))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="plan.json",
    show_default=True,
    help="Where to write the plan (JSON, CONTRACT §2).",
)
@click.option(
    "--maintenance", multiple=True, metavar="HOST", help="What-if: put HOST in maintenance (repeat)."
)
@click.option("--threshold", type=int, help="What-if: DRS threshold 1 (conservative) .. 5 (aggressive).")
@click.option("--dpm/--no-dpm", default=None, help="What-if: turn DPM on or off.")
@click.option("--measure", type=click.Choice(["cpu", "memory", "cpu_memory"]), help="What-if: DRS measure.")
@click.option("--max-migrations", type=click.IntRange(min=0), help="Budget of optional moves.")
@click.option(
    "--time-limit",
    "time_limit_s",
    type=click.FloatRange(min=1.0),
    default=30.0,
    show_default=True,
    help="Solver wall-clock limit in seconds.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Solver random seed.")
@click.option("--workers", type=click.IntRange(min=0), default=0, help="CP-SAT workers (0 = auto).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary line.")
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
    quiet: bool,
) -> int:
    """Plan where every VM runs and which hosts stay on (DPM > rules > DRS), with timed moves.

    Exit 0 when a plan is written (optimal, feasible, unchanged), 1 when the inventory is
    infeasible (the plan with its conflicts is still written), 2 on bad input (nothing written),
    3 when the search found no placement at all within the time limit (nothing written; rare:
    the greedy warm start is usually one). Ctrl-C stops the search and keeps the best plan
    found so far.
    """
    instance = with_what_if(
        read_inventory(inventory),
        maintenance=maintenance,
        threshold=threshold,
        dpm=dpm,
        measure=measure,
    )
    console = Console(stderr=True)
    with console.status("optimizing…") as status:

        def progress(level: str, message: str) -> None:
            status.update(f"{level}: {message}")

        options = SolveOptions(
            time_limit_s=time_limit_s,
            seed=seed,
            num_workers=workers,
            max_migrations=max_migrations,
            progress=progress,
        )
        try:
            outcome = make_plan(instance, options)
        except NoSolutionError as exc:
            console.print(f"[bold red]error:[/] {exc}; nothing written", highlight=False, soft_wrap=True)
            return EXIT_NO_PLAN
    write_plan(outcome.plan, output)
    _summary(outcome.plan, output, Console(), quiet)
    return 1 if outcome.plan.status is PlanStatus.INFEASIBLE else 0


def _summary(plan: Plan, output: str, console: Console, quiet: bool) -> None:
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
        flag = "optimal" if level["optimal"] else f"bound {level['bound']:g}"
        console.print(f"  level {level['level']}: {level['value']:g} {level['unit']} ({flag})")
    for v in plan.violations:
        console.print(f"  rule {v.rule} (priority {v.priority}) left broken: {v.detail}", markup=False)
    for note in plan.metrics.get("notes", []):
        console.print(f"  note: {note}", markup=False)

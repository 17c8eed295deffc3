"""``scheduler schedule``: the timed migration plan from an inventory to a given target placement.

Why a command of its own: operators and other tools often know the target already (a what-if, a
maintenance drain, another balancer's answer) and only need a safe order with realistic times.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scheduler.check.feasibility import check_placement
from scheduler.check.findings import CAPACITY_CPU, CAPACITY_MEMORY
from scheduler.check.rules import check_rule
from scheduler.check.verify import verify_plan
from scheduler.cli.console import make_console
from scheduler.cli.params import InputPath, maintenance_option
from scheduler.cli.paths import check_output_file, naming_option
from scheduler.compat import compatibility, unmovable
from scheduler.errors import InconsistentSolutionError, InputError, Problem
from scheduler.io import read_inventory, read_target, write_plan
from scheduler.migration.planner import Schedule, UnreachableTargetError, plan_migrations
from scheduler.model import Instance, Plan, PlanStatus, Violation
from scheduler.what_if import with_what_if

EXIT_OK = 0
EXIT_UNREACHABLE = 1
PROGRESS_MIN_MOVES = 200  # below this many moves planning is instant: no progress bar
PROGRESS_LINES = 10  # off a terminal, one line per tenth of the moves

_CAPACITY_CODES = frozenset({CAPACITY_CPU, CAPACITY_MEMORY})


@click.command("schedule")
@click.argument("inventory", type=InputPath(dir_okay=True))
@click.argument("target", type=InputPath())
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    required=True,
    help="Where to write the plan (JSON, docs/plan.md); its folder must exist.",
)
@maintenance_option("target")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary line.")
def command(inventory: str, target: str, output: str, maintenance: tuple[str, ...], quiet: bool) -> int:
    """Order and time the migrations taking INVENTORY to TARGET (a placement, or a plan file).

    Exit 0 when the plan is written, 1 when no safe order reaches the target (nothing written),
    2 on bad input (nothing written).
    """
    check_output_file(output, "--output", {"inventory": inventory, "target": target})
    instance = read_inventory(inventory)
    if maintenance:
        instance = with_what_if(instance, maintenance=maintenance)
    placement, host_states = read_target(target)
    full = _complete_placement(instance, placement)
    err = make_console(stderr=True)
    out = make_console()
    try:
        schedule = _plan_with_progress(instance, full, host_states, target, err, quiet)
    except UnreachableTargetError as exc:
        err.print(f"[bold red]unreachable:[/] {exc.message}")
        err.print(f"  hosts: {', '.join(exc.hosts)}", markup=False)
        err.print(f"  VMs:   {', '.join(exc.vms)}", markup=False)
        return EXIT_UNREACHABLE
    _check_target(instance, full, schedule.host_states, target)
    plan = _to_plan(instance, full, schedule)
    report = verify_plan(instance, plan)
    if not report.valid:
        raise InconsistentSolutionError(f"the schedule fails its own checker:\n{report}")
    with naming_option("--output"):
        write_plan(plan, output)
    _summary(out, plan, schedule, Path(output), quiet)
    return EXIT_OK


def _complete_placement(instance: Instance, placement: Mapping[str, str]) -> dict[str, str]:
    """The target with every placed VM it leaves out kept where it is (new VMs must be named)."""
    full = {v.name: v.host for v in instance.vms if v.host is not None}
    full.update(placement)
    return full


def _plan_with_progress(
    instance: Instance,
    placement: Mapping[str, str],
    host_states: Mapping[str, str] | None,
    source: str,
    err: Console,
    quiet: bool,
) -> Schedule:
    """Run the planner, showing progress on stderr when the plan has many moves: a bar on a
    terminal; off one, where rich shows no bar, a plain line per tenth of the moves for logs."""
    current = {v.name: v.host for v in instance.vms}
    expected = sum(1 for vm, h in placement.items() if current.get(vm) not in (None, h))
    if quiet or expected < PROGRESS_MIN_MOVES:
        return plan_migrations(instance, placement, host_states, source=source)
    if not err.is_terminal:
        shown = 0

        def line(done: int, total: int) -> None:
            nonlocal shown
            step = done * PROGRESS_LINES // max(total, 1)
            if step > shown:
                shown = step
                err.print(f"scheduling moves: {done}/{total}", markup=False)

        return plan_migrations(instance, placement, host_states, progress=line, source=source)
    columns = (TextColumn("scheduling moves"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("schedule", total=expected)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return plan_migrations(instance, placement, host_states, progress=progress, source=source)


def _check_target(
    instance: Instance, placement: Mapping[str, str], host_states: Mapping[str, str], source: str
) -> None:
    """The target must be a valid end state; what the planner does not judge is an input error.

    Capacity is the planner's (an overfull target is unreachable, reported before this runs).
    """
    findings = [f for f in check_placement(instance, placement, host_states) if f.code not in _CAPACITY_CODES]
    if findings:
        raise InputError(
            [Problem(source, f.vm or f.host or "", "", f"[{f.code}] {f.message}") for f in findings]
        )


def _to_plan(instance: Instance, placement: dict[str, str], schedule: Schedule) -> Plan:
    """The plan document (docs/plan.md): final state, timed actions, soft rules left broken, figures."""
    violations = []
    for rule in instance.rules:
        if rule.is_hard:
            continue
        status = check_rule(rule, placement)
        if not status.satisfied:
            violations.append(Violation(rule.name, rule.priority, status.violating_vms, status.detail))
    changed = bool(schedule.migrations or schedule.power_actions)
    return Plan(
        cluster=instance.name,
        status=PlanStatus.FEASIBLE if changed else PlanStatus.UNCHANGED,
        placement=placement,
        host_states=dict(schedule.host_states),
        migrations=schedule.migrations,
        power_actions=schedule.power_actions,
        violations=tuple(violations),
        unmovable=tuple(unmovable(instance, compatibility(instance))),
        metrics={
            "schedule": schedule.stats.as_dict(),
            **({"notes": list(schedule.notes)} if schedule.notes else {}),
        },
    )


def _summary(console: Console, plan: Plan, schedule: Schedule, output: Path, quiet: bool) -> None:
    s = schedule.stats
    line = (
        f"[green]{plan.status.value}[/]: {s.moves} moves ({s.parking_moves} parking), "
        f"{len(plan.power_actions)} power actions, makespan {_duration(s.makespan_s)} → {output}"
    )
    console.print(line)
    for note in schedule.notes:
        console.print(f"note: {note}", markup=False)
    if quiet:
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("moves", str(s.moves))
    table.add_row("parking moves", str(s.parking_moves))
    table.add_row("makespan", _duration(s.makespan_s))
    table.add_row("lower bound", _duration(s.lower_bound_s))
    table.add_row("total migration time", _duration(s.total_migration_s))
    table.add_row("data moved", f"{s.total_transferred_mib / 1024:,.1f} GiB")
    table.add_row("peak concurrent moves", str(s.peak_concurrent_moves))
    if s.non_converging_moves:
        table.add_row("moves over the downtime budget", f"[yellow]{s.non_converging_moves}[/]")
    on = sum(1 for a in plan.power_actions if a.action.value == "power_on")
    table.add_row("hosts powered on / off", f"{on} / {len(plan.power_actions) - on}")
    if s.critical_path:
        path = " → ".join(s.critical_path[:6]) + (" → …" if len(s.critical_path) > 6 else "")
        table.add_row("critical path", path)
    console.print(table)


def _duration(seconds: float) -> str:
    """Seconds as ``1 h 02 min``, ``3 min 05 s`` or ``12.3 s``."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    if seconds >= 60:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{seconds:.1f} s"

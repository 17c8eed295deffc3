"""``scheduler verify``: check a plan against an inventory (docs/plan.md), solver-free."""

from __future__ import annotations

import click

from scheduler.check.verify import verify_plan
from scheduler.cli.console import make_console
from scheduler.cli.params import InputPath, maintenance_option
from scheduler.io import read_inventory, read_plan
from scheduler.what_if import with_what_if


@click.command("verify")
@click.argument("inventory", type=InputPath(dir_okay=True))
@click.argument("plan", type=InputPath())
@maintenance_option("plan")
@click.option(
    "--timing/--no-timing",
    default=True,
    show_default=True,
    help="Re-simulate every migration on the shared host links and require the plan's end times, "
    "verdicts, downtimes and data to match; --no-timing takes each move's estimate as given "
    "(for plans timed by another migration model).",
)
def command(inventory: str, plan: str, maintenance: tuple[str, ...], timing: bool) -> int:
    """Check PLAN against INVENTORY; list every problem. Exit 0 valid, 1 invalid, 2 bad input.

    A plan made with ``plan --maintenance HOST`` is checked with the same ``--maintenance HOST``.
    """
    instance = read_inventory(inventory)
    if maintenance:
        instance = with_what_if(instance, maintenance=maintenance)
    document = read_plan(plan)
    report = verify_plan(instance, document, timing=timing)
    console = make_console()
    if report.valid:
        console.print(
            f"[green]valid[/]: {len(document.migrations)} migrations, "
            f"{len(document.power_actions)} power actions, status {document.status.value}"
        )
        return 0
    console.print(f"[red]invalid[/]: {len(report.findings)} problem(s)")
    for finding in report.findings:
        console.print(f"  {finding}", markup=False)
    return 1

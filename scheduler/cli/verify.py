"""``scheduler verify``: check a plan against an inventory (docs/plan.md), solver-free."""

from __future__ import annotations

import json

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
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the verdict as JSON: valid, the plan's status and counts, and every finding with "
    "its code, message, time, host, VM and rule.",
)
def command(inventory: str, plan: str, maintenance: tuple[str, ...], timing: bool, as_json: bool) -> int:
    """Check PLAN against INVENTORY; list every problem. Exit 0 valid, 1 invalid, 2 bad input.

    A plan made with ``plan --maintenance HOST`` is checked with the same ``--maintenance HOST``.
    """
    instance = read_inventory(inventory)
    if maintenance:
        instance = with_what_if(instance, maintenance=maintenance)
    document = read_plan(plan)
    report = verify_plan(instance, document, timing=timing)
    if as_json:
        verdict = {
            "status": document.status.value,
            "migrations": len(document.migrations),
            "power_actions": len(document.power_actions),
            **report.to_dict(),
        }
        click.echo(json.dumps(verdict, indent=2))
        return 0 if report.valid else 1
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

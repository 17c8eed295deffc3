"""``scheduler verify``: check a plan against an inventory (CONTRACT §2), solver-free."""

from __future__ import annotations

import click
from rich.console import Console

from scheduler.check.verify import verify_plan
from scheduler.io import read_inventory, read_plan


@click.command("verify")
@click.argument("inventory", type=click.Path(exists=True, dir_okay=True))
@click.argument("plan", type=click.Path(exists=True, dir_okay=False))
def command(inventory: str, plan: str) -> int:
    """Check PLAN against INVENTORY; list every problem. Exit 0 valid, 1 invalid, 2 bad input."""
    instance = read_inventory(inventory)
    document = read_plan(plan)
    report = verify_plan(instance, document)
    console = Console()
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

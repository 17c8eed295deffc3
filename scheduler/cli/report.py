"""``scheduler report``: an HTML and a Markdown report of a plan, with its figures.

Why a command: the plan JSON is for machines; the people who approve a change window want to see
the hosts before and after, the moves on a timeline and what the plan could not do.
"""

from __future__ import annotations

import click

from scheduler.io import read_inventory, read_plan


@click.command("report")
@click.argument("inventory", type=click.Path(exists=True, dir_okay=True))
@click.argument("plan", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False),
    default="report",
    show_default=True,
    help="Folder to write report.html, report.md and the PNG figures into (replaced whole).",
)
@click.option(
    "--dpi", type=click.IntRange(min=50, max=300), default=110, show_default=True, help="Figure DPI."
)
def command(inventory: str, plan: str, output: str, dpi: int) -> int:
    """Write a self-contained HTML report and a Markdown report of PLAN on INVENTORY.

    Exit 0 when the report is written, 2 on bad input (unreadable files, a plan naming hosts or
    VMs the inventory lacks, an output folder holding other files); nothing is written then.
    """
    import matplotlib

    matplotlib.use("Agg")  # batch rendering: never open a window, work without a display

    from scheduler.report.writer import write_report

    instance = read_inventory(inventory)
    document = read_plan(plan)
    files = write_report(instance, document, output, dpi=dpi)
    click.echo(f"report written to {output}: " + ", ".join(f.name for f in files))
    return 0

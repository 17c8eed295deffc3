"""``scheduler report``: an HTML and a Markdown report of a plan, with its figures.

Why a command: the plan JSON is for machines; the people who approve a change window want to see
the hosts before and after, the moves on a timeline and what the plan could not do.
"""

from __future__ import annotations

import click

from scheduler.check.verify import verify_plan
from scheduler.cli.console import make_console
from scheduler.cli.params import InputPath, maintenance_option
from scheduler.cli.paths import check_output_folder, naming_option
from scheduler.io import read_inventory, read_plan
from scheduler.what_if import with_what_if


@click.command("report")
@click.argument("inventory", type=InputPath(dir_okay=True))
@click.argument("plan", type=InputPath())
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False),
    default="report",
    show_default=True,
    help="Folder to write report.html, report.md and the PNG figures into (replaced whole; "
    "its parent folder must exist).",
)
@click.option(
    "--dpi", type=click.IntRange(min=50, max=300), default=110, show_default=True, help="Figure DPI."
)
@maintenance_option("plan")
def command(inventory: str, plan: str, output: str, dpi: int, maintenance: tuple[str, ...]) -> int:
    """Write a self-contained HTML report and a Markdown report of PLAN on INVENTORY.

    The plan is verified first, as `scheduler verify` does: a report shows a change window to
    the people who approve it, so one of a plan the checker rejects is not written. Exit 0 when
    the report is written, 1 when the plan is invalid (its problems are listed), 2 on bad input
    (unreadable files, a plan naming hosts or VMs the inventory lacks, an output folder holding
    other files or whose parent is missing); nothing is written unless the exit status is 0.
    """
    import matplotlib

    matplotlib.use("Agg")  # batch rendering: never open a window, work without a display

    from scheduler.report.frames import check_plan_names
    from scheduler.report.metrics_form import check_metrics_form
    from scheduler.report.writer import OWNED_NAMES, write_report

    check_output_folder(output, "--output", {"inventory": inventory, "plan": plan}, OWNED_NAMES)
    instance = read_inventory(inventory)
    if maintenance:
        instance = with_what_if(instance, maintenance=maintenance)
    document = read_plan(plan)
    # Checked here as well as by the writer, so that the problems name the plan's path.
    check_plan_names(instance, document, source=plan)
    check_metrics_form(document, source=plan)
    verdict = verify_plan(instance, document)
    if not verdict.valid:
        err = make_console(stderr=True)
        err.print(f"[red]invalid plan[/]: {len(verdict.findings)} problem(s); no report written")
        for finding in verdict.findings:
            err.print(f"  {finding}", markup=False)
        return 1
    with naming_option("--output"):
        files = write_report(instance, document, output, dpi=dpi, verdict=verdict)
    click.echo(f"report written to {output}: " + ", ".join(f.name for f in files))
    return 0

"""Write a report folder atomically: report.html, report.md and the figures as PNG files.

Why atomic: a report is often published by a script right after it is written; it must see the
previous report or the new one, never a folder with half of the files.
"""

from __future__ import annotations

from pathlib import Path

from scheduler.check.verify import VerificationReport
from scheduler.io.atomic import atomic_folder
from scheduler.model import Instance, Plan
from scheduler.report.document import build_report
from scheduler.report.figures import FIGURES
from scheduler.report.html import render_html
from scheduler.report.markdown import render_markdown

HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"
OWNED_NAMES = frozenset({HTML_NAME, MARKDOWN_NAME, *(f"{key}.png" for key in FIGURES)})
"""Every file the writer produces: a folder holding only these may be replaced by a new report."""


def write_report(
    instance: Instance,
    plan: Plan,
    folder: str | Path,
    *,
    dpi: int = 110,
    verdict: VerificationReport | None = None,
) -> list[Path]:
    """Write the report of ``plan`` into ``folder`` (created or replaced whole); return the files.
    ``verdict``: the checker's on the plan, stated in the Summary (``build_report``).

    Raises ``InputError`` when the plan names VMs or hosts the inventory lacks, or when ``folder``
    holds files this writer did not produce (they are the user's, and are not deleted).
    """
    report = build_report(instance, plan, dpi=dpi, verdict=verdict)
    target = Path(folder)
    with atomic_folder(target, OWNED_NAMES) as tmp:
        (tmp / HTML_NAME).write_text(render_html(report), encoding="utf-8")
        (tmp / MARKDOWN_NAME).write_text(render_markdown(report), encoding="utf-8")
        for figure in report.figures:
            (tmp / figure.file_name).write_bytes(figure.png)
    return sorted(
        target / name for name in [HTML_NAME, MARKDOWN_NAME, *(f.file_name for f in report.figures)]
    )

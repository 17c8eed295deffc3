"""Render a ``Report`` as Markdown that links its figures as PNG files next to it.

Why a Markdown version: it reads in a merge request, a wiki or a terminal, and diffs well
between two plans; the PNG files are written by the report writer.
"""

from __future__ import annotations

from scheduler.report.document import Report, Section, Table


def _cell(text: str) -> str:
    """A table cell: pipes escaped, line breaks flattened (they would end the row)."""
    return text.replace("|", "\\|").replace("\n", " ")


def _table(table: Table) -> str:
    lines = [f"**{table.caption}**", ""]
    lines.append("| " + " | ".join(_cell(c) for c in table.columns) + " |")
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows)
    return "\n".join(lines)


def _section(section: Section) -> str:
    parts = [f"## {section.heading}"]
    parts.extend(section.paragraphs)
    parts.extend(f"![{f.caption}]({f.file_name})" for f in section.figures)
    parts.extend(_table(t) for t in section.tables)
    return "\n\n".join(parts)


def render_markdown(report: Report) -> str:
    """The report as Markdown; figures are referenced by their ``file_name``."""
    head = f"# {report.title}\n\n_{report.subtitle}_"
    return head + "\n\n" + "\n\n".join(_section(s) for s in report.sections) + "\n"

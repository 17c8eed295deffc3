"""Render a ``Report`` as Markdown that links its figures as PNG files next to it.

Why a Markdown version: it reads in a merge request, a wiki or a terminal, and diffs well
between two plans; the PNG files are written by the report writer.
"""

from __future__ import annotations

from scheduler.report.document import Report, Section, Table

_LITERAL = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]"})


def _text(text: str) -> str:
    """Report text as Markdown shows it: names come from the inventory, and a VM called
    ``<img src=x onerror=...>`` or ``[x](http://...)`` must read as itself, not become markup
    or a link. (Back-quoted commands in the text stay code on purpose.)"""
    return text.translate(_LITERAL)


def _cell(text: str) -> str:
    """A table cell: pipes escaped, line breaks flattened (they would end the row)."""
    return _text(text).replace("|", "\\|").replace("\n", " ")


def _table(table: Table) -> str:
    lines = [f"**{_text(table.caption)}**", ""]
    lines.append("| " + " | ".join(_cell(c) for c in table.columns) + " |")
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows)
    return "\n".join(lines)


def _section(section: Section) -> str:
    parts = [f"## {_text(section.heading)}"]
    parts.extend(_text(p) for p in section.paragraphs)
    parts.extend(f"![{_text(f.caption)}]({f.file_name})" for f in section.figures)
    parts.extend(_table(t) for t in section.tables)
    return "\n\n".join(parts)


def render_markdown(report: Report) -> str:
    """The report as Markdown; figures are referenced by their ``file_name``."""
    head = f"# {_text(report.title)}\n\n_{_text(report.subtitle)}_"
    return head + "\n\n" + "\n\n".join(_section(s) for s in report.sections) + "\n"

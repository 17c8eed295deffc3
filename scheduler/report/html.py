"""Render a ``Report`` as one self-contained HTML page.

Why self-contained: a report is mailed, attached to a change ticket or opened on a jump host with
no network; figures are inline base64 PNGs and the style sheet is inline, so nothing is fetched.
"""

from __future__ import annotations

import base64
from html import escape

from scheduler.report.document import Report, Section, Table

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1d2330; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } .subtitle { color: #5b6477; margin-top: 0; }
h2 { border-bottom: 2px solid #d6dbe4; padding-bottom: 0.2rem; margin-top: 2.2rem; }
nav ol { columns: 2; } nav a { color: #1f4e8c; text-decoration: none; }
table { border-collapse: collapse; margin: 0.8rem 0 1.4rem; font-size: 0.88rem; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
th, td { border: 1px solid #d6dbe4; padding: 0.25rem 0.55rem; vertical-align: top; }
th { background: #eef1f6; text-align: left; } tr:nth-child(even) td { background: #f8f9fb; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1rem 0 1.6rem; } figure img { max-width: 100%; height: auto; border: 1px solid #e3e6ec; }
figcaption { color: #5b6477; font-size: 0.88rem; }
"""


def _is_number(cell: str) -> bool:
    stripped = cell.replace(",", "").replace("–", "").replace(".", "", 1).lstrip("-")
    return stripped.isdigit() or cell == "–"


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(c)}</td>' if _is_number(c) else f"<td>{escape(c)}</td>" for c in row
        )
        + "</tr>"
        for row in table.rows
    )
    return (
        f"<table>\n<caption>{escape(table.caption)}</caption>\n"
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
    )


def _section(section: Section) -> str:
    parts = [f'<section id="{escape(section.key)}">', f"<h2>{escape(section.heading)}</h2>"]
    parts.extend(f"<p>{escape(p)}</p>" for p in section.paragraphs)
    for figure in section.figures:
        data = base64.b64encode(figure.png).decode("ascii")
        parts.append(
            f'<figure id="fig-{escape(figure.key)}">'
            f'<img src="data:image/png;base64,{data}" alt="{escape(figure.caption)}" '
            f'data-figure="{escape(figure.key)}">'
            f"<figcaption>{escape(figure.title)}: {escape(figure.caption)}.</figcaption></figure>"
        )
    parts.extend(_table(t) for t in section.tables)
    parts.append("</section>")
    return "\n".join(parts)


def render_html(report: Report) -> str:
    """The report as one HTML document (UTF-8, no external resources)."""
    toc = "".join(f'<li><a href="#{escape(s.key)}">{escape(s.heading)}</a></li>' for s in report.sections)
    body = "\n".join(_section(s) for s in report.sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(report.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<header><h1>{escape(report.title)}</h1>\n"
        f'<p class="subtitle">{escape(report.subtitle)}</p></header>\n'
        f"<nav><ol>{toc}</ol></nav>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )

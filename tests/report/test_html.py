"""The report folder: every file present, every figure embedded, nothing fetched from a network."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from scheduler.errors import InputError
from scheduler.model import Instance, Plan
from scheduler.report import write_report
from scheduler.report.figures import FIGURES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, demo: Instance, demo_plan: Plan) -> Path:
    folder = tmp_path_factory.mktemp("report") / "demo-report"
    write_report(demo, demo_plan, folder, dpi=60)
    return folder


def test_report_folder_holds_html_markdown_and_every_figure(report: Path):
    names = {p.name for p in report.iterdir()}
    assert names == {"report.html", "report.md", *(f"{k}.png" for k in FIGURES)}
    for key in FIGURES:
        assert (report / f"{key}.png").read_bytes().startswith(PNG_MAGIC)


def test_every_figure_is_embedded_as_a_png_data_uri(report: Path):
    html = (report / "report.html").read_text(encoding="utf-8")
    for key in FIGURES:
        match = re.search(
            rf'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]*data-figure="{key}"', html
        )
        assert match, key
        assert base64.b64decode(match.group(1)) == (report / f"{key}.png").read_bytes()


def test_html_references_nothing_outside_itself(report: Path):
    html = (report / "report.html").read_text(encoding="utf-8")
    assert "http://" not in html
    assert "https://" not in html
    assert "//" not in re.sub(r"data:[^\"]+", "", html)
    assert "<script" not in html
    assert "<link" not in html
    assert all(src.startswith("data:") for src in re.findall(r'src="([^"]*)"', html))


def test_sections_appear_in_html_and_markdown(report: Path):
    html = (report / "report.html").read_text(encoding="utf-8")
    md = (report / "report.md").read_text(encoding="utf-8")
    for heading in (
        "Metrics before and after",
        "Host utilization",
        "Migration plan",
        "Power actions",
        "Rule compliance by priority",
        "Unmovable VMs",
    ):
        assert f"<h2>{heading}</h2>" in html
        assert f"## {heading}" in md
    assert "Conflicts" not in md
    for key in FIGURES:
        assert f"]({key}.png)" in md
    assert "usb-licence-01" in md
    assert "has devices" in md


def test_infeasible_plan_report_lists_the_conflicts(tmp_path: Path, demo: Instance, infeasible_plan: Plan):
    write_report(demo, infeasible_plan, tmp_path / "r", dpi=50)
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "## Conflicts" in md
    assert "db-apart" in md
    assert "status infeasible" in md


def test_power_actions_are_listed(tmp_path: Path, demo: Instance, power_plan: Plan):
    write_report(demo, power_plan, tmp_path / "r", dpi=50)
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    # Fixed decimals per column: "0.0" above "430.0", never a bare "0" beside a "4.0".
    assert "| cna-08 | power on | 0.0 |" in md
    assert "| cna-07 | power off | 430.0 |" in md


def test_a_second_report_replaces_the_first_whole(
    tmp_path: Path, demo: Instance, power_plan: Plan, infeasible_plan: Plan
):
    folder = tmp_path / "r"
    write_report(demo, power_plan, folder, dpi=50)
    write_report(demo, infeasible_plan, folder, dpi=50)
    assert "## Conflicts" in (folder / "report.md").read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no temporary folder left behind


def test_a_folder_with_other_files_is_not_replaced(tmp_path: Path, demo: Instance, power_plan: Plan):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"notes\.txt"):
        write_report(demo, power_plan, folder, dpi=50)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_markdown_shows_names_as_text_not_markup():
    """Names come from the inventory: HTML, links and pipes in them must read as themselves."""
    from scheduler.report.document import Report, Section, Table
    from scheduler.report.markdown import render_markdown

    hostile = "<img src=x onerror=alert(1)>"
    table = Table("VMs [x]", ("VM", "host"), (("[link](http://evil)", "h|1 & <b>"),))
    section = Section("s", f"About {hostile}", (f"{hostile} moves; run `scheduler verify`.",), (), (table,))
    md = render_markdown(Report("Plan for <b>c</b>", "sub [t]", (section,)))
    assert "<" not in md
    assert ">" not in md
    assert "&lt;img src=x onerror=alert(1)&gt; moves; run `scheduler verify`." in md
    assert "| \\[link\\](http://evil) | h\\|1 &amp; &lt;b&gt; |" in md
    assert md.startswith("# Plan for &lt;b&gt;c&lt;/b&gt;\n\n_sub \\[t\\]_")

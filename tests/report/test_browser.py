"""The demo plan's report rendered by a real headless Chromium: every figure and section is there.

Skipped when no Chromium is installed, except in CI (``CI`` set), where it must be: CI installs it
with ``.ci/chromium.sh``.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from scheduler.model import Instance, Plan
from scheduler.report import write_report
from scheduler.report.figures import FIGURES

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 90
SECTIONS = (
    "Summary",
    "Metrics before and after",
    "Host utilization",
    "Migration plan",
    "Power actions",
    "Rule compliance by priority",
    "Unmovable VMs",
)


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    message = (
        f"no headless browser on PATH (looked for {', '.join(BROWSERS)}); install one with .ci/chromium.sh"
    )
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(message)
    pytest.skip(message)


class _Dom(HTMLParser):
    """Collects images (attributes) and section headings from the dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.headings: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append({k: v or "" for k, v in attrs})
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._in_h2 and data.strip():
            self.headings.append(data.strip())


def _chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=True)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, demo: Instance, demo_plan: Plan) -> tuple[_Dom, Path]:
    binary = _browser()
    root = tmp_path_factory.mktemp("browser")
    write_report(demo, demo_plan, root / "report")
    page = (root / "report" / "report.html").as_uri()
    dom = _Dom()
    dom.feed(_chromium(binary, root / "profile", "--dump-dom", page).stdout)
    shot = root / "page.png"
    _chromium(binary, root / "profile", "--window-size=1280,4000", f"--screenshot={shot}", page)
    return dom, shot


def test_every_figure_is_an_inline_png_in_the_rendered_page(rendered: tuple[_Dom, Path]):
    dom, _shot = rendered
    by_key = {img.get("data-figure"): img for img in dom.images}
    assert set(by_key) == set(FIGURES)
    for img in dom.images:
        assert img["src"].startswith("data:image/png;base64,")
        assert img.get("alt")


def test_every_section_heading_is_rendered(rendered: tuple[_Dom, Path]):
    dom, _shot = rendered
    assert tuple(dom.headings) == SECTIONS


def test_the_gantt_figure_is_not_empty(rendered: tuple[_Dom, Path], demo_plan: Plan):
    """The Gantt image decodes to a real chart: large, and holding the colours of the move reasons."""
    from PIL import Image

    from scheduler.report.plots import REASON_COLOURS

    dom, _shot = rendered
    src = next(img["src"] for img in dom.images if img.get("data-figure") == "migration-gantt")
    image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB")
    assert image.width > 600
    assert image.height > 250
    colours = {c for _n, c in image.getcolors(maxcolors=1 << 20) or []}
    for reason in {m.reason.value for m in demo_plan.migrations}:
        hexa = REASON_COLOURS[reason].lstrip("#")
        assert tuple(int(hexa[i : i + 2], 16) for i in (0, 2, 4)) in colours, reason


def test_the_page_paints_something(rendered: tuple[_Dom, Path]):
    """The screenshot is not a blank page: the browser laid out text and images."""
    from PIL import Image

    _dom, shot = rendered
    image = Image.open(shot).convert("L")
    dark = sum(image.histogram()[:128])
    assert dark > 0.005 * image.width * image.height

"""Render the report's figures to PNG bytes, without pyplot.

Why ``matplotlib.figure.Figure`` and not ``plt.subplots``: a report is written in a batch (CLI,
tests, a worker thread); an explicit figure needs no global figure registry nor an interactive
backend, and nothing is left open after it is saved.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scheduler.model import Instance, Plan, PlanStatus
from scheduler.report.plots import drs_band, plot_host_utilization, plot_migration_gantt, utilization_width_in

FIGURES = ("utilization-cpu", "utilization-memory", "migration-gantt")
"""The report's figures by key; ``<key>.png`` is the file name in the Markdown report."""


@dataclass(frozen=True, slots=True)
class RenderedFigure:
    """One figure of the report: stable key, title, alt text / caption and the PNG image."""

    key: str
    title: str
    caption: str
    png: bytes

    @property
    def file_name(self) -> str:
        return f"{self.key}.png"


def _render(width_in: float, height_in: float, draw: Callable[[Any], Any], dpi: int) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    draw(fig.add_subplot())
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def render_figures(instance: Instance, plan: Plan, *, dpi: int = 110) -> list[RenderedFigure]:
    """The figures of ``plan``'s report, in ``FIGURES`` order."""
    util_width_in = utilization_width_in(instance.num_hosts)
    when = (
        "before; the inventory is infeasible, no plan"
        if plan.status is PlanStatus.INFEASIBLE
        else "before and after the plan"
    )
    gantt_hosts = {m.source for m in plan.migrations} | {m.target for m in plan.migrations}
    gantt_hosts |= {a.host for a in plan.power_actions}
    gantt_height_in = min(30.0, max(3.2, 0.5 * len(gantt_hosts) + 1.8))
    out = []
    for resource in ("cpu", "memory"):
        png = _render(
            util_width_in,
            4.8,
            lambda ax, r=resource: plot_host_utilization(instance, plan, r, ax=ax),  # type: ignore[misc]
            dpi,
        )
        out.append(
            RenderedFigure(
                f"utilization-{resource}",
                f"{resource.upper() if resource == 'cpu' else 'Memory'} utilization per host",
                f"{resource} utilization per host {when}"
                + (", with the DRS tolerance band" if drs_band(instance, plan) is not None else ""),
                png,
            )
        )
    png = _render(12.0, gantt_height_in, lambda ax: plot_migration_gantt(plan, ax=ax), dpi)
    out.append(
        RenderedFigure(
            "migration-gantt",
            "Migration plan by host",
            "no migration plan: the inventory is infeasible"
            if plan.status is PlanStatus.INFEASIBLE
            else "Gantt chart of the migrations by host, coloured by reason, with switchovers and "
            "power actions",
            png,
        )
    )
    return out

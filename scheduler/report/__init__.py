"""Analysis of plans: tidy pandas tables, plots and the HTML / Markdown report.

Nothing here imports a solver: a report is made from an inventory and a plan file alone.
"""

from scheduler.report.document import Report, Section, Table, build_report
from scheduler.report.frames import Frames, to_frames
from scheduler.report.plots import (
    estimate_curve,
    plot_estimate_curve,
    plot_host_utilization,
    plot_imbalance_vs_cost,
    plot_migration_gantt,
    plot_power_vs_load,
)
from scheduler.report.writer import write_report

__all__ = [
    "Frames",
    "Report",
    "Section",
    "Table",
    "build_report",
    "estimate_curve",
    "plot_estimate_curve",
    "plot_host_utilization",
    "plot_imbalance_vs_cost",
    "plot_migration_gantt",
    "plot_power_vs_load",
    "to_frames",
    "write_report",
]

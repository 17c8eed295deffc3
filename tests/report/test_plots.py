"""Plots: each has a title, labelled axes with units, a legend, and honours ``ax``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from scheduler.model import Instance, Plan
from scheduler.pipeline import with_what_if
from scheduler.report import (
    plot_estimate_curve,
    plot_host_utilization,
    plot_imbalance_vs_cost,
    plot_migration_gantt,
    plot_power_vs_load,
)

SWEEP = pd.DataFrame(
    {
        "threshold": [1, 2, 3, 4, 5],
        "imbalance": [0.16, 0.05, 0.03, 0.028, 0.027],
        "migration_s": [10.0, 900.0, 1300.0, 2100.0, 2600.0],
        "imbalance_before": [0.16] * 5,
        "tolerance": [float("inf"), 0.075, 0.05, 0.025, 0.0],
    }
)
DAY = pd.DataFrame(
    {
        "hour": [0, 6, 12, 18],
        "load": [0.2, 0.25, 0.5, 0.35],
        "watts": [900.0, 1000.0, 2400.0, 1500.0],
        "watts_no_dpm": [1700.0, 1750.0, 2400.0, 2000.0],
        "hosts_on": [3, 3, 8, 5],
    }
)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _plots(demo: Instance, plan: Plan) -> dict[str, Callable[[Any], Any]]:
    return {
        "utilization-cpu": lambda ax: plot_host_utilization(demo, plan, "cpu", ax=ax),
        "utilization-memory": lambda ax: plot_host_utilization(demo, plan, "memory", ax=ax),
        "gantt": lambda ax: plot_migration_gantt(plan, ax=ax),
        "imbalance-vs-cost": lambda ax: plot_imbalance_vs_cost(SWEEP, ax=ax),
        "power-vs-load": lambda ax: plot_power_vs_load(DAY, ax=ax),
        "estimate-time": lambda ax: plot_estimate_curve([0, 100, 400, 1200], ax=ax),
        "estimate-downtime": lambda ax: plot_estimate_curve([0, 100, 400, 1200], metric="downtime_ms", ax=ax),
    }


PLOTS = (
    "utilization-cpu",
    "utilization-memory",
    "gantt",
    "imbalance-vs-cost",
    "power-vs-load",
    "estimate-time",
    "estimate-downtime",
)
UNITS = ("%", "(s)", "(ms", "(W)", "(h)", "(MiB/s)", "fraction", "(hosts", "host")


@pytest.mark.parametrize("name", PLOTS)
def test_plot_is_titled_labelled_and_has_a_legend(name: str, demo: Instance, demo_plan: Plan):
    ax = _plots(demo, demo_plan)[name](None)
    assert ax.get_title()
    assert ax.get_xlabel()
    assert ax.get_ylabel()
    assert any(u in ax.get_xlabel() + ax.get_ylabel() for u in UNITS), (ax.get_xlabel(), ax.get_ylabel())
    legend = ax.get_legend()
    assert legend is not None
    assert legend.get_texts()


@pytest.mark.parametrize("name", PLOTS)
def test_plot_draws_on_the_given_axes(name: str, demo: Instance, demo_plan: Plan):
    """With ``ax`` given, the plot draws there and opens no figure of its own."""
    _fig, ax = plt.subplots()
    before = plt.get_fignums()
    assert _plots(demo, demo_plan)[name](ax) is ax
    assert plt.get_fignums() == before
    assert ax.has_data()


def test_gantt_marks_power_actions_and_non_converging_moves(power_plan: Plan):
    ax = plot_migration_gantt(power_plan)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"power on", "power off", "does not converge", "reason: dpm", "reason: maintenance"} <= set(labels)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cna-07", "cna-08"]


def test_gantt_of_an_empty_plan_says_so(infeasible_plan: Plan):
    ax = plot_migration_gantt(infeasible_plan)
    assert "no migrations" in ax.get_title()


def test_utilization_shows_the_dpm_band_only_with_dpm(demo: Instance, demo_plan: Plan):
    off = [t.get_text() for t in plot_host_utilization(demo, demo_plan).get_legend().get_texts()]
    with_dpm = with_what_if(demo, dpm=True)
    on = [t.get_text() for t in plot_host_utilization(with_dpm, demo_plan).get_legend().get_texts()]
    assert not any("DPM" in t for t in off)
    assert any("DPM target" in t for t in on)
    assert any("DRS tolerance" in t for t in off)


def test_utilization_of_an_infeasible_plan_shows_before_only(demo: Instance, infeasible_plan: Plan):
    labels = [t.get_text() for t in plot_host_utilization(demo, infeasible_plan).get_legend().get_texts()]
    assert "before" in labels
    assert "after" not in labels


def test_bad_arguments_are_value_errors(demo: Instance, demo_plan: Plan):
    with pytest.raises(ValueError, match="resource"):
        plot_host_utilization(demo, demo_plan, "disk")
    with pytest.raises(ValueError, match="migration_s"):
        plot_imbalance_vs_cost(SWEEP.drop(columns="migration_s"))
    with pytest.raises(ValueError, match="metric"):
        plot_estimate_curve([0, 10], metric="watts")


def test_plots_module_does_not_import_pyplot():
    """Importing the plots picks no backend: pyplot is imported only when a figure is needed."""
    import subprocess
    import sys

    code = "import sys, scheduler.report.plots; assert 'matplotlib.pyplot' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

"""Plots: each has a title, labelled axes with units, a legend, and honours ``ax``."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from scheduler.model import Instance, Plan, PlanStatus
from scheduler.pipeline import with_what_if
from scheduler.report import (
    plot_estimate_curve,
    plot_host_utilization,
    plot_imbalance_vs_cost,
    plot_migration_gantt,
    plot_power_vs_load,
)
from scheduler.synth import SynthSpec, synthesize

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


def test_gantt_of_an_empty_plan_says_so(demo: Instance, demo_plan: Plan):
    empty = dataclasses.replace(demo_plan, status=PlanStatus.UNCHANGED, migrations=(), power_actions=())
    ax = plot_migration_gantt(empty)
    assert "no migrations" in ax.get_title()


def test_gantt_of_an_infeasible_plan_says_it_is_infeasible(infeasible_plan: Plan):
    """No "nothing to do" on an empty 0–1 s axis: there is no plan, and the chart says why."""
    ax = plot_migration_gantt(infeasible_plan)
    assert "infeasible" in ax.get_title()
    assert [t.get_text() for t in ax.texts] == ["no plan: the inventory is infeasible (see Conflicts)"]
    assert list(ax.get_xticks()) == []


def test_gantt_title_gives_the_end_to_a_tenth_of_a_second(power_plan: Plan):
    """As the report's summary does: "ends at 430.0 s", one action, no "1 power actions"."""
    one_action = dataclasses.replace(power_plan, power_actions=power_plan.power_actions[:1])
    assert plot_migration_gantt(power_plan).get_title().endswith("2 power actions, ends at 430.0 s")
    assert plot_migration_gantt(one_action).get_title().endswith("1 power action, ends at 420.0 s")


def test_utilization_shows_the_dpm_band_only_with_dpm(demo: Instance, demo_plan: Plan):
    """A plan that records no policy (an older one) is drawn under the inventory's."""
    unrecorded = dataclasses.replace(
        demo_plan, metrics={k: v for k, v in demo_plan.metrics.items() if k != "policy"}
    )
    off = [t.get_text() for t in plot_host_utilization(demo, unrecorded).get_legend().get_texts()]
    with_dpm = with_what_if(demo, dpm=True)
    on = [t.get_text() for t in plot_host_utilization(with_dpm, unrecorded).get_legend().get_texts()]
    assert not any("DPM" in t for t in off)
    assert any("DPM target" in t for t in on)
    assert any("DRS tolerance" in t for t in off)


def test_utilization_follows_the_policy_the_plan_recorded(demo: Instance, demo_plan: Plan):
    """A plan made with --dpm on an inventory without DPM draws the DPM band it was made under."""
    assert not demo.policy.dpm.enabled
    recorded = dataclasses.replace(
        demo_plan, metrics={**demo_plan.metrics, "policy": {"dpm": {"enabled": True}}}
    )
    labels = [t.get_text() for t in plot_host_utilization(demo, recorded).get_legend().get_texts()]
    assert any("DPM target" in t for t in labels)


def test_utilization_of_an_infeasible_plan_shows_before_only(demo: Instance, infeasible_plan: Plan):
    ax = plot_host_utilization(demo, infeasible_plan)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "before" in labels
    assert "after" not in labels
    assert "before; the inventory is infeasible, no plan" in ax.get_title()
    assert "after" not in ax.get_title()


def _overlapping_tick_labels(ax: Any) -> list[tuple[str, str]]:
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in ax.get_xticklabels()]
    return [(a, b) for (a, box_a), (b, box_b) in itertools.pairwise(boxes) if box_a.overlaps(box_b)]


def test_utilization_host_labels_do_not_overlap(demo: Instance, power_plan: Plan):
    """Two-line labels ("cna-07" over "maintenance→up") fit side by side under 8 hosts."""
    assert _overlapping_tick_labels(plot_host_utilization(demo, power_plan)) == []


def test_utilization_host_labels_of_many_hosts_do_not_overlap():
    """Past the widest figure the labels turn upright instead of running into each other."""
    from scheduler.report.plots import plot_host_utilization as plot

    big = synthesize(SynthSpec(hosts=40, vms=80, seed=3, maintenance_hosts=5, standby_hosts=10))
    plan = Plan(
        cluster=big.name,
        status=PlanStatus.FEASIBLE,
        placement=big.current_placement(),
        host_states={h.name: h.state.value for h in big.hosts},
    )
    assert _overlapping_tick_labels(plot(big, plan)) == []


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


def test_estimate_curve_keeps_aborted_runs_off_the_line():
    """QEMU's 16 GiB move aborts above its 128 MiB/s cap: a cross at the time lost, not a point
    joined to the converged ones, and no 0 ms downtime that would read as a perfect switchover."""
    rates = [0, 50, 100, 150, 200]
    time_ax = plot_estimate_curve(rates, hypervisors=("qemu",))
    line = time_ax.get_lines()[0]
    totals = list(line.get_ydata())
    assert all(math.isfinite(t) for t in totals[:3])
    assert all(math.isnan(t) for t in totals[3:])
    legend = [t.get_text() for t in time_ax.get_legend().get_texts()]
    assert any(t.startswith("aborted") for t in legend)
    crosses = [c for c in time_ax.collections if len(c.get_offsets())]
    assert [float(x) for x, _y in crosses[0].get_offsets()] == [150.0, 200.0]
    down_ax = plot_estimate_curve(rates, metric="downtime_ms", hypervisors=("qemu",))
    downtimes = list(down_ax.get_lines()[0].get_ydata())
    assert all(math.isnan(d) for d in downtimes[3:])
    assert not any(len(c.get_offsets()) for c in down_ax.collections)


def test_estimate_curve_legend_sits_outside_the_axes():
    ax = plot_estimate_curve([0, 400, 1200])
    ax.figure.canvas.draw()
    legend_box = ax.get_legend().get_window_extent()
    assert legend_box.x0 >= ax.get_window_extent().x1


def test_names_holding_dollar_signs_are_drawn_as_they_are():
    """Two ``$`` make matplotlib parse mathtext: ``$\\frac$`` stopped the figure, ``h$x$A`` came out
    with an italic x. Names are drawn literally."""
    from check.factories import host, make_instance, vm

    from scheduler.pipeline import plan_from_target
    from scheduler.report.figures import render_figures

    hosts = [host("$\\frac$"), host("h$x$A")]
    instance = make_instance(
        hosts, [vm("$^{$", "$\\frac$", 9_000), vm("b", "$\\frac$", 500)], name="c$\\sqrt$"
    )
    plan, _ = plan_from_target(instance, {"$^{$": "h$x$A", "b": "$\\frac$"}, {h.name: "up" for h in hosts})
    assert len(render_figures(instance, plan, dpi=40)) == 3
    ax = plot_host_utilization(instance, plan, "cpu")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["\\$\\frac\\$", "h\\$x\\$A"]
    assert "(c\\$\\sqrt\\$)" in ax.get_title()


@pytest.mark.parametrize(
    ("rates", "hypervisors", "message"),
    [
        ([], ("qemu",), "at least one dirty rate"),
        ([10.0], (), "at least one dirty rate and one hypervisor preset"),
        ([10.0], ("qemu", "nope"), "unknown hypervisor preset(s) 'nope'"),
    ],
)
def test_estimate_curve_refuses_what_draws_no_curve(
    rates: list[float], hypervisors: tuple[str, ...], message: str
):
    with pytest.raises(ValueError, match=re.escape(message)):
        plot_estimate_curve(rates, hypervisors=hypervisors)

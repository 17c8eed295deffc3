"""Plots of plans, sweeps and migration estimates: each takes ``ax=None`` and returns the Axes.

Why this shape: notebooks compose figures from several plots, the report renders them one per
figure; neither may call ``plt.show()`` nor pick a backend here (the caller does: Agg in the
report writer, inline in a notebook). ``matplotlib.pyplot`` is imported only when a plot needs a
new figure, so importing this module is cheap and backend-neutral.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scheduler.migration.precopy import MigrationInput, estimate
from scheduler.migration.presets import PRESETS
from scheduler.model import Instance, Plan, PlanStatus
from scheduler.report.frames import planned_instance, state_metrics

Axes = Any  # matplotlib.axes.Axes; matplotlib ships no stubs that mypy --strict accepts here

REASON_COLOURS = {
    "maintenance": "#d62728",
    "rule": "#ff7f0e",
    "dpm": "#2ca02c",
    "drs": "#1f77b4",
    "parking": "#9467bd",
    "placement": "#7f7f7f",
}
RESOURCE_LABELS = {"cpu": "CPU", "memory": "memory"}
PRESET_COLOURS = {
    "qemu": "#1f77b4",
    "xen": "#ff7f0e",
    "xen_legacy": "#8c564b",
    "vmware": "#2ca02c",
    "fusioncompute": "#9467bd",
}


def _new_axes(width_in: float, height_in: float) -> Axes:
    """A fresh figure's Axes (pyplot imported lazily: it would pick a backend at import)."""
    import matplotlib.pyplot as plt

    _fig, ax = plt.subplots(figsize=(width_in, height_in), layout="constrained")
    return ax


def plain(text: str) -> str:
    """``text`` as matplotlib draws it literally: a name holding two ``$`` would otherwise be
    parsed as mathtext, drawn mangled or, unparsable, stop the figure."""
    return text.replace("$", r"\$")


def utilization_width_in(num_hosts: int) -> float:
    """Width (inches) of a utilization figure: about an inch a host, so that a label of two lines
    ("cna-06" over "up→standby") fits under its bars, plus the legend at the side; capped, beyond
    which ``plot_host_utilization`` turns the labels upright."""
    return min(22.0, max(9.0, 0.95 * num_hosts + 4.5))


TICK_CHAR_IN = 0.6 / 72  # a tick label character's width per point of font size (DejaVu Sans, about)


def drs_band(instance: Instance, plan: Plan) -> float | None:
    """The tolerance ``plot_host_utilization`` draws its DRS band with, or None when it draws
    none (threshold 1 has no tolerance: it makes mandatory moves only)."""
    instance = planned_instance(instance, plan)
    reference = state_metrics(instance, plan, "after") or state_metrics(instance, plan, "before") or {}
    tolerance = reference.get("drs_tolerance")
    return float(tolerance) if isinstance(tolerance, int | float) else None


def plot_host_utilization(instance: Instance, plan: Plan, resource: str = "cpu", ax: Axes = None) -> Axes:
    """Bars of each host's utilization before and after the plan, with the DRS and DPM bands.

    The DRS tolerance band is the after-state mean ± the threshold's tolerance, a guide to the
    spread: DRS calls the cluster balanced when the standard deviation of host utilization is at
    most the tolerance, so a host outside the band is not by itself an imbalance. The DPM target
    band (low..high target utilization) is drawn only when DPM is enabled. The policy is the one
    the plan was made under (``frames.planned_policy``). Hosts that are not up carry their state
    under their name; an infeasible plan has no after bars.
    """
    if resource not in RESOURCE_LABELS:
        raise ValueError(f"resource must be one of {sorted(RESOURCE_LABELS)}, got {resource!r}")
    instance = planned_instance(instance, plan)
    before = state_metrics(instance, plan, "before") or {"hosts": []}
    after = state_metrics(instance, plan, "after")
    names = [h.name for h in instance.hosts]
    key = f"{resource}_utilization"
    b_rows = {h["name"]: h for h in before["hosts"]}
    a_rows = {h["name"]: h for h in (after or {"hosts": []})["hosts"]}
    if ax is None:
        ax = _new_axes(utilization_width_in(len(names)), 4.8)
    x = np.arange(len(names))
    width = 0.4
    b_vals = np.array([100.0 * b_rows[n][key] if n in b_rows else np.nan for n in names])
    ax.bar(x - width / 2, b_vals, width, color="#b8c4d6", edgecolor="#5b6b82", label="before")
    if after is not None:
        a_vals = np.array([100.0 * a_rows[n][key] if n in a_rows else np.nan for n in names])
        ax.bar(x + width / 2, a_vals, width, color="#1f4e8c", label="after")
    else:
        a_vals = np.full(len(names), np.nan)
    reference = after if after is not None else before
    mean_pct = 100.0 * float(reference.get("mean_utilization", {}).get(resource, 0.0))
    tolerance = reference.get("drs_tolerance")
    when = "after" if after is not None else "before"
    if instance.policy.dpm.enabled:
        low, high = instance.policy.dpm.target_utilization
        ax.axhspan(
            100 * low, 100 * high, color="#2ca02c", alpha=0.10, lw=0, label=f"DPM target {low:.0%}–{high:.0%}"
        )
    if isinstance(tolerance, int | float):
        ax.axhspan(
            mean_pct - 100 * tolerance,
            mean_pct + 100 * tolerance,
            color="#ff7f0e",
            alpha=0.18,
            lw=0,
            label=f"DRS tolerance: mean ± {100 * tolerance:.1f} pts (a guide)",
        )
    ax.axhline(mean_pct, color="#ff7f0e", lw=1.2, ls="--", label=f"mean of up hosts {when}: {mean_pct:.1f} %")
    ax.axhline(100, color="#444444", lw=0.8, ls=":", label="capacity")
    labels = []
    for n in names:
        s_before = b_rows.get(n, {}).get("state", "")
        s_after = a_rows.get(n, {}).get("state", s_before)
        if s_before != s_after:
            labels.append(f"{plain(n)}\n{s_before}→{s_after}")
        elif s_before not in ("up", ""):
            labels.append(f"{plain(n)}\n{s_before}")
        else:
            labels.append(plain(n))
    fontsize = 8 if len(names) > 8 else 9
    # Upright labels when the widest would not fit the space of one host (the axes' share of the
    # figure, less the legend beside it): side by side they would overlap.
    longest = max((len(line) for label in labels for line in label.split("\n")), default=0)
    axes_in = ax.get_position().width * float(ax.figure.get_figwidth())
    per_host_in = 0.85 * axes_in / max(1, len(names))
    upright = longest * fontsize * TICK_CHAR_IN > 0.9 * per_host_in
    ax.set_xticks(x, labels, rotation=90 if upright else 0, fontsize=fontsize)
    peak = np.nanmax(np.concatenate([b_vals, a_vals, [100.0]]))
    ax.set_ylim(0, max(105.0, float(peak) * 1.08))
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel(f"{RESOURCE_LABELS[resource]} utilization (% of host, on demand)")
    ax.set_xlabel("host")
    span = (
        "before; the inventory is infeasible, no plan"
        if plan.status is PlanStatus.INFEASIBLE
        else "before and after the plan"
        if after is not None
        else "before (the plan has no placement)"
    )
    ax.set_title(f"{RESOURCE_LABELS[resource]} utilization per host, {span} ({plain(instance.name)})")
    handles, names_ = ax.get_legend_handles_labels()
    order = sorted(range(len(names_)), key=lambda i: (names_[i] not in ("before", "after"), i))
    ax.legend(
        [handles[i] for i in order],
        [names_[i] for i in order],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        frameon=False,
    )
    return ax


def _lanes(intervals: Sequence[tuple[float, float]]) -> tuple[list[int], int]:
    """Greedy interval partitioning: a lane per interval so that overlapping ones never share a lane."""
    order = sorted(range(len(intervals)), key=lambda i: intervals[i])
    lane_end: list[float] = []
    lane_of = [0] * len(intervals)
    for i in order:
        start, end = intervals[i]
        for lane, free_at in enumerate(lane_end):
            if free_at <= start + 1e-9:
                lane_of[i] = lane
                lane_end[lane] = end
                break
        else:
            lane_of[i] = len(lane_end)
            lane_end.append(end)
    return lane_of, max(1, len(lane_end))


def plot_migration_gantt(plan: Plan, ax: Axes = None) -> Axes:
    """Gantt chart of the moves by host: one row per host, a bar per move on both of its hosts.

    A move occupies the links of its source (solid bar) and target (hatched bar) for its whole
    duration, so a row shows that host's concurrent moves stacked in lanes. Colour is the move's
    reason, a black tick at the end marks the switchover (the downtime), a red edge a move that
    does not converge; power actions are triangles on their host's row.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    hosts: list[str] = []
    for m in plan.migrations:
        hosts.extend(h for h in (m.source, m.target) if h not in hosts)
    hosts.extend(a.host for a in plan.power_actions if a.host not in hosts)
    hosts.sort()
    row = {h: i for i, h in enumerate(hosts)}
    if ax is None:
        ax = _new_axes(11.0, max(3.2, 0.5 * len(hosts) + 1.6))
    makespan_s = max(
        [m.end_s for m in plan.migrations] + [a.at_s for a in plan.power_actions] + [1.0],
    )
    per_host: dict[str, list[tuple[float, float, int, bool]]] = {h: [] for h in hosts}
    for i, m in enumerate(plan.migrations):
        per_host[m.source].append((m.start_s, m.end_s, i, True))
        per_host[m.target].append((m.start_s, m.end_s, i, False))
    height = 0.8
    for host, items in per_host.items():
        lanes, count = _lanes([(s, e) for s, e, _i, _out in items])
        lane_h = height / count
        for (start, end, i, outgoing), lane in zip(items, lanes, strict=True):
            m = plan.migrations[i]
            y = row[host] - height / 2 + lane * lane_h
            colour = REASON_COLOURS.get(m.reason.value, "#7f7f7f")
            ax.broken_barh(
                [(start, max(end - start, makespan_s * 1e-3))],
                (y + 0.05 * lane_h, 0.9 * lane_h),
                facecolors=colour if outgoing else "white",
                edgecolors="#b00000" if not m.estimate.converges else ("white" if outgoing else colour),
                hatch=None if outgoing else "////",
                linewidth=1.6 if not m.estimate.converges else 0.8,
            )
            ax.plot([end, end], [y + 0.05 * lane_h, y + 0.95 * lane_h], color="black", lw=2.2)
            if outgoing and end - start > 0.07 * makespan_s and lane_h > 0.25:
                ax.text(
                    start + (end - start) / 2,
                    y + lane_h / 2,
                    plain(m.vm),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white",
                    clip_on=True,
                )
    for a in plan.power_actions:
        on = a.action.value == "power_on"
        ax.scatter(
            [a.at_s],
            [row[a.host]],
            marker="^" if on else "v",
            s=110,
            color="#2ca02c" if on else "#333333",
            edgecolors="white",
            zorder=5,
        )
    ax.set_yticks(range(len(hosts)), [plain(h) for h in hosts])
    ax.set_ylim(len(hosts) - 0.5 if hosts else 0.5, -0.5)
    ax.set_xlim(0, makespan_s * 1.03)
    ax.set_xlabel("time from plan start (s)")
    ax.set_ylabel("host (source: solid, target: hatched)")
    ax.grid(axis="x", color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)
    moves = f"{len(plan.migrations)} move" + ("" if len(plan.migrations) == 1 else "s")
    actions = f"{len(plan.power_actions)} power action" + ("" if len(plan.power_actions) == 1 else "s")
    if plan.status is PlanStatus.INFEASIBLE:
        ax.set_title("No migration plan: the inventory is infeasible")
    elif hosts:
        # One decimal, as the report's summary gives the makespan.
        ax.set_title(f"Migration plan by host: {moves}, {actions}, ends at {makespan_s:.1f} s")
    else:
        ax.set_title("Migration plan: no migrations and no power actions")
    if not hosts:
        # No time axis to read: an empty 0–1 s scale would suggest a plan that takes no time.
        ax.set_xticks([])
        ax.text(
            0.5,
            0.5,
            "no plan: the inventory is infeasible (see Conflicts)"
            if plan.status is PlanStatus.INFEASIBLE
            else "nothing to do",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="grey",
        )
    reasons = sorted({m.reason.value for m in plan.migrations})
    handles: list[Any] = [
        Patch(facecolor=REASON_COLOURS.get(r, "#7f7f7f"), label=f"reason: {r}") for r in reasons
    ]
    if plan.migrations:
        handles.append(Patch(facecolor="white", edgecolor="#555555", hatch="////", label="incoming (target)"))
        handles.append(Line2D([], [], color="black", lw=2.2, label="switchover (downtime)"))
    if any(not m.estimate.converges for m in plan.migrations):
        handles.append(Patch(facecolor="white", edgecolor="#b00000", lw=1.6, label="does not converge"))
    kinds = {a.action.value for a in plan.power_actions}
    if "power_on" in kinds:
        handles.append(Line2D([], [], marker="^", ls="", color="#2ca02c", markersize=9, label="power on"))
    if "power_off" in kinds:
        handles.append(Line2D([], [], marker="v", ls="", color="#333333", markersize=9, label="power off"))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return ax


def _require(df: pd.DataFrame, columns: Iterable[str], plot: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{plot} needs column(s) {', '.join(missing)}; got {', '.join(map(str, df.columns))}"
        )


def plot_imbalance_vs_cost(df: pd.DataFrame, ax: Axes = None) -> Axes:
    """Imbalance left after each plan against the migration seconds it cost (a DRS threshold sweep).

    Columns: ``threshold``, ``imbalance`` (std-dev of host utilization after the plan) and
    ``migration_s`` (summed move time); optional ``imbalance_before`` (a reference line) and
    ``tolerance`` (the threshold's tolerance, drawn as a grey bar under each point).
    """
    _require(df, ("threshold", "imbalance", "migration_s"), "plot_imbalance_vs_cost")
    if ax is None:
        ax = _new_axes(7.5, 4.6)
    data = df.sort_values("threshold")
    ax.plot(data["migration_s"], data["imbalance"], "o-", color="#1f4e8c", ms=7, label="after the plan")
    for _, r in data.iterrows():
        ax.annotate(
            f"threshold {int(r['threshold'])}",
            (float(r["migration_s"]), float(r["imbalance"])),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=8,
        )
    if "tolerance" in data.columns:
        tol = data["tolerance"].astype(float).replace([np.inf, -np.inf], np.nan)
        ax.scatter(
            data["migration_s"], tol, marker="_", s=400, color="#888888", label="threshold's tolerance"
        )
    if "imbalance_before" in data.columns:
        before = float(data["imbalance_before"].iloc[0])
        ax.axhline(before, color="#d62728", ls="--", lw=1, label=f"before: {before:.3f}")
    ax.set_xlabel("migration time, summed over moves (s)")
    ax.set_ylabel("imbalance (std-dev of host utilization, fraction)")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.set_title("DRS threshold: imbalance left vs migration time spent")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(color="#eeeeee")
    return ax


def plot_power_vs_load(df: pd.DataFrame, ax: Axes = None) -> Axes:
    """Power drawn with DPM (and without, when given) over the day, the cluster load on a second axis.

    Columns: ``hour`` (0–24), ``load`` (cluster CPU demand / capacity, fraction), ``watts`` (with
    DPM); optional ``watts_no_dpm`` (all hosts on; the gap is shaded as saved power) and
    ``hosts_on`` (written above each point).
    """
    _require(df, ("hour", "load", "watts"), "plot_power_vs_load")
    if ax is None:
        ax = _new_axes(9.0, 4.6)
    data = df.sort_values("hour")
    hours = data["hour"].astype(float)
    ax.plot(hours, data["watts"], "o-", color="#2ca02c", lw=2, label="power with DPM (W)")
    if "watts_no_dpm" in data.columns:
        ax.plot(hours, data["watts_no_dpm"], "s--", color="#555555", lw=1.2, label="power, all hosts on (W)")
        ax.fill_between(
            hours, data["watts"], data["watts_no_dpm"], color="#2ca02c", alpha=0.15, label="saved by DPM"
        )
    if "hosts_on" in data.columns:
        for h, w, n in zip(hours, data["watts"], data["hosts_on"], strict=True):
            ax.annotate(
                f"{int(n)}", (h, w), textcoords="offset points", xytext=(0, -14), ha="center", fontsize=8
            )
    load_ax = ax.twinx()
    load_ax.plot(
        hours,
        100 * data["load"].astype(float),
        color="#ff7f0e",
        lw=1.2,
        alpha=0.9,
        label="cluster CPU load (%)",
    )
    load_ax.set_ylabel("cluster CPU load (% of capacity)")
    load_ax.set_ylim(0, max(100.0, 105 * float(data["load"].max())))
    ax.set_ylim(0, None)
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3))
    ax.set_xlabel("hour of day (h)")
    ax.set_ylabel("power drawn (W)")
    note = " (numbers: hosts on)" if "hosts_on" in data.columns else ""
    ax.set_title(f"DPM over a day: power drawn vs cluster load{note}")
    lines, labels = ax.get_legend_handles_labels()
    lines2, labels2 = load_ax.get_legend_handles_labels()
    ax.legend(lines + lines2, labels + labels2, loc="upper left", fontsize=8)
    ax.grid(color="#eeeeee")
    return ax


def estimate_curve(
    dirty_rates_mibps: Sequence[float],
    *,
    memory_mib: float = 16384.0,
    network_gbps: float = 10.0,
    hypervisors: Sequence[str] = ("qemu", "xen", "vmware"),
) -> pd.DataFrame:
    """Pre-copy estimates over dirty rates for each hypervisor preset, one row per (preset, rate).

    Raises ``ValueError`` for an unknown preset or no dirty rate at all (there would be no curve).
    """
    unknown = [name for name in hypervisors if name not in PRESETS]
    if unknown:
        raise ValueError(
            f"unknown hypervisor preset(s) {', '.join(map(repr, unknown))}; known: {', '.join(PRESETS)}"
        )
    if len(dirty_rates_mibps) == 0 or len(hypervisors) == 0:
        raise ValueError("estimate_curve needs at least one dirty rate and one hypervisor preset")
    rows = []
    for name in hypervisors:
        preset = PRESETS[name]
        for rate in dirty_rates_mibps:
            e = estimate(
                MigrationInput(
                    memory_mib=memory_mib, dirty_rate_mibps=float(rate), network_gbps=network_gbps
                ),
                preset,
            )
            rows.append(
                {
                    "hypervisor": name,
                    "dirty_rate_mibps": float(rate),
                    "total_s": e.total_s,
                    "downtime_ms": e.downtime_ms,
                    "transferred_mib": e.transferred_mib,
                    "converges": e.converges,
                    "outcome": e.outcome,
                }
            )
    return pd.DataFrame(rows)


def plot_estimate_curve(
    dirty_rates_mibps: Sequence[float] | None = None,
    *,
    metric: str = "total_s",
    memory_mib: float = 16384.0,
    network_gbps: float = 10.0,
    hypervisors: Sequence[str] = ("qemu", "xen", "vmware"),
    ax: Axes = None,
) -> Axes:
    """Migration time (``metric="total_s"``) or downtime (``"downtime_ms"``) against the dirty rate.

    One line per hypervisor preset through the moves that finish; a hollow circle marks one that
    finishes over the downtime budget (forced stop). An aborted move is no result: it is a cross
    apart from the line, at the time lost before the abort, and has no downtime point (the VM
    never switched over; a 0 ms point would read as a perfect switchover). Downtime is drawn on a
    log scale: it spans from milliseconds to many seconds.
    """
    labels = {"total_s": "total migration time (s)", "downtime_ms": "downtime (ms, log scale)"}
    if metric not in labels:
        raise ValueError(f"metric must be one of {sorted(labels)}, got {metric!r}")
    rates = list(dirty_rates_mibps) if dirty_rates_mibps is not None else list(np.linspace(0, 1200, 49))
    data = estimate_curve(rates, memory_mib=memory_mib, network_gbps=network_gbps, hypervisors=hypervisors)
    if ax is None:
        ax = _new_axes(9.0, 4.6)
    for name, group in data.groupby("hypervisor", sort=False):
        colour = PRESET_COLOURS.get(str(name))
        values = group[metric].astype(float).clip(lower=0.1 if metric == "downtime_ms" else 0.0)
        aborted = group["outcome"] == "aborted"
        # NaN breaks the line: an aborted point is never joined to the finished ones around it.
        ax.plot(group["dirty_rate_mibps"], values.where(~aborted), "-", color=colour, lw=1.8, label=str(name))
        over = ~group["converges"].astype(bool) & ~aborted
        if over.any():
            ax.scatter(
                group["dirty_rate_mibps"][over],
                values[over],
                marker="o",
                facecolors="none",
                color=colour,
                s=36,
            )
        if metric == "total_s" and aborted.any():
            ax.scatter(group["dirty_rate_mibps"][aborted], values[aborted], marker="x", color=colour, s=36)
    finished = data["outcome"] != "aborted"
    if (~data["converges"].astype(bool) & finished).any():
        ax.scatter(
            [], [], marker="o", facecolors="none", color="#333333", label="forced stop: over the budget"
        )
    if metric == "total_s" and (~finished).any():
        ax.scatter([], [], marker="x", color="#333333", label="aborted: time lost, no result")
    if metric == "downtime_ms":
        ax.set_yscale("log")
    ax.set_xlabel("guest dirty rate (MiB/s)")
    ax.set_ylabel(labels[metric])
    what = "Migration time" if metric == "total_s" else "Downtime"
    ax.set_title(f"{what} vs dirty rate ({memory_mib / 1024:g} GiB VM, {network_gbps:g} Gbit/s link)")
    if metric == "downtime_ms" and (~finished).any():
        ax.text(
            0.99,
            0.02,
            "aborted moves have no downtime: left out",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color="#555555",
        )
    # Outside the axes: the curves fill the plot, and a legend inside would hide some of them.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(color="#eeeeee")
    return ax

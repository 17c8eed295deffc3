"""The benchmark's four figures; each function draws on ``ax`` (a new figure when None) and returns it.

1. balance vs migration cost (Pareto): DRS imbalance after the plan against total migration
   seconds, ours per threshold joined as a front, baselines and peer as single points;
2. solve time vs instance size (VMs), per contender, log-log;
3. hosts on vs the CPU load before the plan with DPM, against the L2 bound on hosts;
4. per-host utilization before / after for one instance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from scheduler.io.atomic import atomic_write_figure

OK_STATUSES = ("optimal", "feasible", "unchanged")
_TEXT_COLUMNS = ("instance", "contender", "family", "status", "findings", "note", "gap_level")
_MARKERS = {"greedy-drs": "s", "greedy-drs-costaware": "D", "ffd-dpm": "v", "proxlb": "^"}


def frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows (as computed or as read from the CSV) as a typed frame; blank cells become NaN."""
    df = pd.DataFrame(list(rows))
    for column in df.columns:
        if column in _TEXT_COLUMNS:
            df[column] = df[column].fillna("").astype(str)
            continue
        converted = pd.to_numeric(df[column].replace({"": np.nan, "True": 1, "False": 0}), errors="coerce")
        if converted.notna().any() or df[column].eq("").all():
            df[column] = converted
    return df


def _valid(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"].isin(OK_STATUSES)]


def _axes(ax: Axes | None, size: tuple[float, float] = (6.4, 4.4)) -> Axes:
    if ax is not None:
        return ax
    _, new = plt.subplots(figsize=size)
    return new


def _kind(contender: str) -> str:
    for prefix in _MARKERS:
        if contender.startswith(prefix):
            return prefix
    return "ours"


def plot_pareto(df: pd.DataFrame, instance: str, seed: int = 0, ax: Axes | None = None) -> Axes:
    """Balance vs migration cost on one instance: ours per threshold (a front), others as points."""
    ax = _axes(ax)
    rows = _valid(df[(df["instance"] == instance) & (df["seed"] == seed) & (df["dpm"] == 0)])
    if rows.empty:
        ax.set_title(f"{instance}: no valid plan")
        return ax
    ours = rows[rows["contender"].str.startswith("ours")].sort_values("threshold")
    if not ours.empty:
        ax.plot(ours["migration_s_total"], ours["drs_imbalance"], "o-", color="C0", label="ours (threshold)")
        for _, r in ours.iterrows():
            ax.annotate(f"t{int(r['threshold'])}", (r["migration_s_total"], r["drs_imbalance"]), fontsize=8)
    for i, (_, r) in enumerate(rows[~rows["contender"].str.startswith("ours")].iterrows()):
        ax.plot(
            r["migration_s_total"],
            r["drs_imbalance"],
            _MARKERS[_kind(r["contender"])],
            color=f"C{i + 1}",
            label=r["contender"],
        )
    before = rows.iloc[0]
    ax.plot(0, before["drs_imbalance_before"], "kx", label="before (no move)")
    tolerance = (
        ours.loc[ours["threshold"] == 3, "drs_tolerance"] if not ours.empty else pd.Series(dtype=float)
    )
    if tolerance.notna().any():
        ax.axhline(float(tolerance.iloc[0]), color="grey", ls="--", lw=0.8, label="tolerance at t3")
    ax.set_xlabel("total migration time (s, pre-copy estimate)")
    ax.set_ylabel("DRS imbalance after (std-dev of host utilization)")
    ax.set_title(f"Balance vs migration cost: {instance} (seed {seed})")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return ax


def plot_solve_time(df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Median solve time against VMs per instance, one line per contender (log-log)."""
    ax = _axes(ax)
    rows = _valid(df)
    for i, (name, group) in enumerate(sorted(rows.groupby("contender"), key=lambda g: str(g[0]))):
        med = group.groupby("vms")["solve_time_s"].median().sort_index()
        ax.plot(med.index, np.maximum(med.to_numpy(float), 1e-3), "o-", color=f"C{i}", label=str(name))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("VMs in the cluster")
    ax.set_ylabel("solve time (s, median over instances)")
    ax.set_title("Solve time vs size")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    return ax


def plot_hosts_on(df: pd.DataFrame, family: str = "S", ax: Axes | None = None) -> Axes:
    """Hosts on after the plan against the CPU load before it, DPM contenders, with the L2 bound.

    One point per load level of the family. Its x is the load the level's instances carry, not the
    level's name: the generator caps each VM at its vCPUs, so a level can fall short of its nominal
    load (M at 85 % carries 79-81 %, S carries about 27 % at every level). The load is
    ``fluid_bound_cpu``, whose leading term is that ratio (VM CPU demand over the CPU of the usable
    hosts, the generator's own definition of load); it is larger only where one VM alone fills its
    largest allowed host further, which no S or M instance of the suites does. The L2
    bound and the hosts on before are averaged over the same instances and drawn at the same x; a
    contender's point averages over the instances it planned. Rows without ``fluid_bound_cpu``
    (older CSVs) fall back to the nominal load, and the axis says so.
    """
    ax = _axes(ax)
    family_rows = df[(df["family"] == family) & (df["dpm"] == 1)]
    rows = _valid(family_rows)
    if rows.empty:
        ax.set_title(f"{family}: no DPM run")
        return ax
    # Bound, hosts on before and load are properties of the instance, not of a run: one each.
    instances = family_rows.drop_duplicates(["instance", "seed"])
    per_level = instances.groupby("load")
    measured = _measured_load(instances)
    x = measured if measured is not None else per_level["load"].first()

    def at_x(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        values = values.sort_index()
        return 100 * x.loc[values.index].to_numpy(float), values.to_numpy(float)

    for i, (name, group) in enumerate(sorted(rows.groupby("contender"), key=lambda g: str(g[0]))):
        ax.plot(*at_x(group.groupby("load")["hosts_on"].mean()), "o-", color=f"C{i}", label=str(name))
    bound = per_level["hosts_bound_l2"].mean().sort_index()
    bound_x, bound_y = at_x(bound)
    ax.plot(bound_x, bound_y, "k--", label="L2 bound (DPM high target)")
    for load, bx, by in zip(bound.index.to_numpy(float), bound_x, bound_y, strict=True):
        ax.annotate(
            f"l{round(100 * load)}", (bx, by), xytext=(3, -10), textcoords="offset points", fontsize=7
        )
    ax.plot(*at_x(per_level["hosts_on_before"].mean()), ":", color="grey", label="hosts on before")
    if measured is not None:
        ax.set_xlabel("CPU load before the plan (% of the usable hosts' CPU; lN = nominal level)")
    else:
        ax.set_xlabel("nominal load of the family's level (%; measured load not in the results)")
    ax.set_ylabel("hosts powered on after the plan")
    ax.set_title(f"Hosts on vs load ({family} family, DPM on)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return ax


def _measured_load(instances: pd.DataFrame) -> pd.Series | None:
    """Mean CPU load before the plan per nominal load level, or None where a level has none."""
    if "fluid_bound_cpu" not in instances.columns:
        return None
    load = pd.to_numeric(instances["fluid_bound_cpu"], errors="coerce").groupby(instances["load"]).mean()
    return None if load.isna().any() else load


def plot_host_utilization(
    detail: Mapping[str, Mapping[str, Any]], label: str, resource: str = "cpu", ax: Axes | None = None
) -> Axes:
    """Per-host utilization before and after, for the runs in ``detail`` (label → host detail)."""
    ax = _axes(ax, (8.0, 4.4))
    if not detail:
        ax.set_title("no plan to show")
        return ax
    first = next(iter(detail.values()))
    n = len(first["hosts"])
    width = 0.8 / (len(detail) + 1)
    x = np.arange(n)
    ax.bar(x, 100 * np.asarray(first[f"{resource}_before"]), width, color="lightgrey", label="before")
    for i, (name, d) in enumerate(detail.items(), start=1):
        ax.bar(x + i * width, 100 * np.asarray(d[f"{resource}_after"]), width, color=f"C{i - 1}", label=name)
    ax.set_xticks(x + width * len(detail) / 2)
    ax.set_xticklabels([h.split("-")[-1] for h in first["hosts"]], fontsize=6, rotation=90 if n > 16 else 0)
    ax.set_xlabel("host")
    ax.set_ylabel(f"{resource} utilization (% of capacity, demand)")
    ax.set_title(f"Per-host {resource} utilization before / after: {label}")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    return ax


PLOT_STEMS = ("pareto", "solve-time", "hosts-on", "host-utilization")


def plot_paths(out_dir: Path, suite_name: str) -> list[Path]:
    """Where ``write_plots`` writes a suite's figures."""
    return [out_dir / f"{suite_name}-{stem}.png" for stem in PLOT_STEMS]


def write_plots(
    df: pd.DataFrame, hosts: Mapping[str, Mapping[str, Any]], out_dir: Path, suite_name: str
) -> list[Path]:
    """The four figures of a suite as PNGs next to its CSV; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(ax: Axes, stem: str) -> None:
        assert stem in PLOT_STEMS
        path = out_dir / f"{suite_name}-{stem}.png"
        figure = ax.get_figure(root=True)
        assert figure is not None
        figure.tight_layout()
        try:
            atomic_write_figure(path, figure, dpi=110)
        finally:
            plt.close(figure)
        written.append(path)

    if df.empty:
        return written
    focus = _focus_instance(df)
    save(plot_pareto(df, focus), "pareto")
    save(plot_solve_time(df), "solve-time")
    dpm_family = _dpm_family(df)
    save(plot_hosts_on(df, dpm_family), "hosts-on")
    chosen = {
        name: hosts[f"{focus}|{name}|0"]
        for name in ("ours-t3", "greedy-drs", "greedy-drs-costaware", "proxlb-t3")
        if f"{focus}|{name}|0" in hosts
    }
    save(plot_host_utilization(chosen, focus), "host-utilization")
    return written


def _focus_instance(df: pd.DataFrame) -> str:
    """The largest instance with a threshold sweep of ours: the Pareto plot's subject."""
    swept = df[df["contender"].str.startswith("ours") & (df["dpm"] == 0)]
    counts = swept.groupby("instance")["threshold"].nunique()
    candidates = counts[counts >= 2].index if (counts >= 2).any() else df["instance"].unique()
    sizes = df[df["instance"].isin(candidates)].groupby("instance")["vms"].max()
    return str(sizes.idxmax())


def _dpm_family(df: pd.DataFrame) -> str:
    """The family with DPM runs at the most load levels."""
    dpm = df[df["dpm"] == 1]
    if dpm.empty:
        return str(df["family"].iloc[0])
    return str(dpm.groupby("family")["load"].nunique().idxmax())

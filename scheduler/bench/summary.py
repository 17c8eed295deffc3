"""The markdown summary of a suite: the results table, ratios against the baseline, the peer duel.

Machines are shared and noisy, so besides absolute times the summary quotes ratios measured on
the same instance in the same sweep (ours / greedy-drs migration seconds, solve-time ratios).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from scheduler.bench.plots import OK_STATUSES


def _f(value: object, digits: int = 3) -> str:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value) if value is not None else ""
    if math.isnan(x):
        return ""
    return f"{x:.{digits}f}"


def _i(value: object) -> str:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(x) else f"{x:.0f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def results_table(df: pd.DataFrame) -> list[str]:
    """One line per run: status, balance vs tolerance, bounds, rules, moves, cost and time."""
    header = [
        "instance",
        "seed",
        "contender",
        "status",
        "verify",
        "DRS imbalance (tol.; floor)",
        "max CPU % (fluid LB; with compat.)",
        "hosts on (L2; best)",
        "P2/P3 broken",
        "moves",
        "migration s",
        "alone s (bound)",
        "GiB moved",
        "makespan s",
        "solve s",
        "peak MiB",
    ]
    rows = []
    for _, r in df.iterrows():
        verify = {1: "valid", 0: "INVALID"}.get(int(r["valid"]) if pd.notna(r["valid"]) else -1, "—")
        tol = _f(r["drs_tolerance"], 3) or "∞"
        rows.append(
            [
                str(r["instance"]),
                _i(r["seed"]),
                str(r["contender"]),
                str(r["status"]),
                verify,
                f"{_f(r['drs_imbalance'])} ({tol}; {_f(r.get('imbalance_floor'))})"
                if pd.notna(r["drs_imbalance"])
                else "",
                f"{_f(100 * r['max_util_cpu'], 1)} ({_f(100 * r['fluid_bound_cpu'], 1)}; "
                f"{_f(100 * r.get('compat_bound_cpu', math.nan), 1)})"
                if pd.notna(r["max_util_cpu"])
                else "",
                f"{_i(r['hosts_on'])} ({_i(r['hosts_bound_l2'])}; {_i(r.get('hosts_bound_dpm'))})",
                f"{_i(r['violations_p2'])}/{_i(r['violations_p3'])}",
                _i(r["migrations"]),
                _i(r["migration_s_total"]),
                f"{_i(r.get('migration_s_alone'))} ({_i(r.get('migration_s_bound'))})",
                _f(r["data_moved_gib"], 1),
                _i(r["makespan_s"]),
                _f(r["solve_time_s"], 2),
                _i(r["peak_rss_mib"]),
            ]
        )
    return _table(header, rows)


def ratio_table(df: pd.DataFrame, ours: str = "ours-t3", baseline: str = "greedy-drs") -> list[str]:
    """Per instance: ours vs the classic greedy on migration seconds, balance and time, as ratios."""
    header = [
        "instance",
        "seed",
        f"{ours} imbalance",
        f"{baseline} imbalance",
        "both within tol.",
        f"migration s ratio {ours}/{baseline}",
        "alone",
        f"{ours} alone / its bound",
        f"{baseline} alone / its bound",
        f"moves {ours}/{baseline}",
        "solve time ratio",
    ]
    rows = []
    for (instance, seed), group in df.groupby(["instance", "seed"], sort=False):
        a = group[group["contender"] == ours]
        b = group[group["contender"] == baseline]
        if a.empty or b.empty:
            continue
        ra, rb = a.iloc[0], b.iloc[0]
        if ra["status"] not in OK_STATUSES or rb["status"] not in OK_STATUSES:
            rows.append([str(instance), _i(seed), str(ra["status"]), str(rb["status"]), *[""] * 7])
            continue
        both = bool(ra["drs_balanced"]) and bool(rb["drs_balanced"])
        mig = ra["migration_s_total"] / rb["migration_s_total"] if rb["migration_s_total"] else math.nan
        alone_a, alone_b = (
            float(ra.get("migration_s_alone", math.nan)),
            float(rb.get("migration_s_alone", math.nan)),
        )
        alone = alone_a / alone_b if alone_b else math.nan
        moves = ra["migrations"] / rb["migrations"] if rb["migrations"] else math.nan
        over_a, over_b = (_over_bound(r) for r in (ra, rb))
        solve = ra["solve_time_s"] / rb["solve_time_s"] if rb["solve_time_s"] else math.nan
        rows.append(
            [
                str(instance),
                _i(seed),
                _f(ra["drs_imbalance"]),
                _f(rb["drs_imbalance"]),
                "yes" if both else "no",
                _f(mig, 2),
                _f(alone, 2),
                _f(over_a, 2),
                _f(over_b, 2),
                _f(moves, 2),
                _f(solve, 1),
            ]
        )
    return _table(header, rows)


def _over_bound(row: pd.Series) -> float:
    """Migration seconds (alone) over the least any plan needs to reach the same balance."""
    try:
        alone, bound = (
            float(row.get("migration_s_alone", math.nan)),
            float(row.get("migration_s_bound", math.nan)),
        )
    except (TypeError, ValueError):
        return math.nan
    return alone / bound if bound > 0 else math.nan


def peer_table(df: pd.DataFrame, ours: str = "ours-t3", peer: str = "proxlb-t3") -> list[str]:
    """Per instance, who wins on imbalance, migration seconds and solve time (lower wins)."""
    header = [
        "instance",
        "seed",
        f"imbalance {ours} / {peer}",
        "winner",
        "migration s",
        "winner",
        "solve s",
        "winner",
        f"P2/P3 broken {ours} / {peer}",
    ]
    rows = []
    for (instance, seed), group in df.groupby(["instance", "seed"], sort=False):
        a = group[group["contender"] == ours]
        b = group[group["contender"] == peer]
        if a.empty or b.empty:
            continue
        ra, rb = a.iloc[0], b.iloc[0]
        if rb["status"] not in OK_STATUSES or ra["status"] not in OK_STATUSES:
            rows.append([str(instance), _i(seed), f"{ra['status']} / {rb['status']}", "", "", "", "", "", ""])
            continue
        cells = [str(instance), _i(seed)]
        for column, digits in (("drs_imbalance", 4), ("migration_s_total", 0), ("solve_time_s", 2)):
            x, y = float(ra[column]), float(rb[column])
            winner = "tie" if math.isclose(x, y, rel_tol=0.01, abs_tol=1e-9) else (ours if x < y else peer)
            cells += [f"{_f(x, digits)} / {_f(y, digits)}", winner]
        cells.append(
            f"{_i(ra['violations_p2'])}/{_i(ra['violations_p3'])} / "
            f"{_i(rb['violations_p2'])}/{_i(rb['violations_p3'])}"
        )
        rows.append(cells)
    return _table(header, rows)


def _runs_wall_s(df: pd.DataFrame) -> float:
    """Σ of the runs' own wall times (search, planning, verify): what the summary's rows cost,
    whether this invocation computed them or reused them."""
    return float(pd.to_numeric(df["wall_s"], errors="coerce").fillna(0.0).sum())


def summary_markdown(
    df: pd.DataFrame,
    *,
    suite_name: str,
    command: str,
    wall_s: float,
    computed: int,
    reused: int,
    plots: Sequence[str] = (),
    cores: int | None = None,
) -> str:
    """The whole summary document."""
    problems = df[~df["status"].isin(OK_STATUSES)]
    lines = [
        f"# Benchmark suite `{suite_name}`",
        "",
        f"Made by `{command}`: {len(df)} runs ({computed} computed in this invocation, {reused} reused), "
        f"{wall_s:.0f} s wall clock for this invocation; the runs' own wall times add up to "
        f"{_runs_wall_s(df):,.0f} s (reused ones as first measured)"
        + (f", on a machine with {cores} cores." if cores else "."),
        "Every plan went through the planner and the checker (`scheduler verify`); invalid, failed, "
        "skipped and crashed runs are listed, not dropped. Timings are from a shared machine: "
        "compare the ratios, which are measured on the same instance in the same sweep.",
        "",
        "## Ours (threshold 3) vs the classic DRS greedy",
        "",
        "Migration seconds as scheduled (moves sharing a link slow each other) and, under *alone*, "
        "as the pre-copy estimate of each move on a free link. *Alone / its bound*: those seconds "
        "over the least any plan needs to reach the same balance and CPU peak (a proven lower "
        "bound), so contenders that stop at different balances compare on equal terms.",
        "",
        *ratio_table(df),
        "",
        "## Ours (threshold 3) vs proxlb-solver (balanciness 3), equal time limits",
        "",
        *(peer_table(df) if (df["contender"] == "proxlb-t3").any() else ["proxlb-solver did not run."]),
        "",
        "## All runs",
        "",
        "DRS imbalance = largest std-dev of host utilization over the measured resources; in brackets "
        "the threshold's tolerance and the floor no placement can beat (compatibility islands; the "
        "tolerance is out of reach when the floor is above it). Max CPU % against the fluid lower "
        "bound and the same bound with compatibility; hosts on against the L2 bound with DPM's high "
        "target and the best bound at that target (compatibility included); P2/P3 = priority-2 / "
        "priority-3 rules left broken; alone s = migration seconds "
        "of each move on a free link, in brackets the least any plan needs for the same balance.",
        "",
        *results_table(df),
        "",
    ]
    if not problems.empty:
        lines += ["## Runs without a valid plan", ""]
        for _, r in problems.iterrows():
            detail = str(r["note"] or "") + (" — " + str(r["findings"]) if r["findings"] else "")
            lines.append(
                f"- {r['instance']} / {r['contender']} / seed {_i(r['seed'])}: {r['status']}: {detail}"
            )
        lines.append("")
    if plots:
        lines += ["## Figures", ""]
        lines += [f"![{name}]({name})" for name in plots]
        lines.append("")
    return "\n".join(lines)

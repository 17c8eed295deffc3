"""The report's content, independent of its format: sections of text, tables and figures.

Why a format-free model: the HTML and Markdown reports must say the same thing; each renderer
only decides how a heading, a table or a figure looks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from scheduler.model import BALANCER_WISH, Instance, Plan, PlanStatus, Unmovable
from scheduler.report.figures import FIGURES, RenderedFigure, render_figures
from scheduler.report.frames import Frames, to_frames

BALANCER_PREFIX = "balancer wanted"  # also in plans written before reasons named the hot host
MAX_ROWS = 200  # per long table (moves, rules, VMs): a 10,000-VM plan stays a readable page


@dataclass(frozen=True, slots=True)
class Table:
    """A table of pre-formatted cells (strings), so every renderer shows the same digits."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Section:
    """One titled part of the report; ``key`` is its stable anchor (HTML id)."""

    key: str
    heading: str
    paragraphs: tuple[str, ...] = ()
    figures: tuple[RenderedFigure, ...] = ()
    tables: tuple[Table, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a report shows, in reading order."""

    title: str
    subtitle: str
    sections: tuple[Section, ...] = field(default_factory=tuple)

    @property
    def figures(self) -> tuple[RenderedFigure, ...]:
        """Every figure of every section, in order."""
        return tuple(f for s in self.sections for f in s.figures)


SECTION_HEADINGS = {
    "summary": "Summary",
    "metrics": "Metrics before and after",
    "utilization": "Host utilization",
    "migrations": "Migration plan",
    "power": "Power actions",
    "rules": "Rule compliance by priority",
    "unmovable": "Unmovable VMs",
    "conflicts": "Conflicts",
}


def _fmt(value: Any, digits: int = 1) -> str:
    """A number for a table cell: blank when missing, thousands separated, fixed decimals."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == int(value) and digits <= 1:
            return f"{int(value):,}"
        return f"{value:,.{digits}f}"
    return str(value)


def _metric_digits(unit: str) -> int:
    return 4 if unit == "std-dev" else 1


def build_report(instance: Instance, plan: Plan, *, dpi: int = 110) -> Report:
    """The report of ``plan`` on ``instance``: tables from ``to_frames``, figures rendered to PNG."""
    frames = to_frames(instance, plan)
    figures = {f.key: f for f in render_figures(instance, plan, dpi=dpi)}
    sections = [
        _summary(instance, plan),
        _metrics(frames),
        Section(
            "utilization",
            SECTION_HEADINGS["utilization"],
            (
                "Utilization is demand over capacity per host. The shaded orange band is the mean of "
                "the hosts that are up ± the DRS threshold's tolerance: hosts inside it count as "
                "balanced. "
                + (
                    "The green band is DPM's target utilization."
                    if instance.policy.dpm.enabled
                    else "DPM is off, so no target band is drawn."
                ),
            ),
            figures=(figures["utilization-cpu"], figures["utilization-memory"]),
        ),
        _migrations(plan, frames, figures["migration-gantt"]),
        _power(plan),
        _rules(plan, frames),
        _unmovable(plan),
    ]
    if plan.status is PlanStatus.INFEASIBLE or plan.conflicts:
        sections.append(_conflicts(plan))
    missing = set(FIGURES) - {f.key for s in sections for f in s.figures}
    assert not missing, f"figures rendered but not placed: {missing}"
    return Report(
        title=f"Plan report: {plan.cluster}",
        subtitle=f"status {plan.status.value}, {instance.num_hosts} hosts, {instance.num_vms} VMs, "
        f"{len(instance.rules)} rules",
        sections=tuple(sections),
    )


def _summary(instance: Instance, plan: Plan) -> Section:
    policy = instance.policy
    schedule = plan.metrics.get("schedule") or {}
    lines = [
        f"Plan status: {plan.status.value}. "
        + (
            f"{len(plan.migrations)} migrations and {len(plan.power_actions)} power actions, "
            f"finished after {_fmt(schedule.get('makespan_s'))} s."
            if plan.status is not PlanStatus.INFEASIBLE
            else f"No placement satisfies every hard constraint; {len(plan.conflicts)} conflict(s) below."
        ),
        f"Policy: DRS {'on' if policy.drs.enabled else 'off'} (threshold {policy.drs.threshold}, "
        f"measure {policy.drs.measure.value}); DPM "
        + (
            f"on (target {policy.dpm.target_utilization[0]:.0%}–{policy.dpm.target_utilization[1]:.0%}, "
            f"at least {policy.dpm.min_hosts_on} hosts on)"
            if policy.dpm.enabled
            else "off"
        )
        + f"; migrations over {policy.migration.network_gbps:g} Gbit/s, at most "
        f"{policy.migration.max_concurrent_per_host} per host at once, "
        f"{policy.migration.hypervisor} pre-copy.",
    ]
    solve = plan.metrics.get("solve_time_s")
    if solve is not None:
        lines.append(f"Solved in {_fmt(float(solve))} s.")
    notes = plan.metrics.get("notes") or []
    lines.extend(f"Note: {n}" for n in notes)
    levels = plan.metrics.get("levels") or []
    tables: tuple[Table, ...] = ()
    if levels:
        tables = (
            Table(
                "Objective levels, in priority order (each optimal or with its bound)",
                ("level", "value", "bound", "unit", "optimal"),
                tuple(
                    (
                        str(lv.get("level")),
                        _fmt(lv.get("value"), 0),
                        _fmt(lv.get("bound"), 0),
                        str(lv.get("unit", "")),
                        _fmt(bool(lv.get("optimal"))),
                    )
                    for lv in levels
                ),
            ),
        )
    return Section("summary", SECTION_HEADINGS["summary"], tuple(lines), tables=tables)


def _metrics(frames: Frames) -> Section:
    rows = tuple(
        (
            str(r.indicator),
            _fmt(r.before, _metric_digits(str(r.unit))),
            _fmt(r.after, _metric_digits(str(r.unit))),
            _fmt(r.lower_bound, _metric_digits(str(r.unit))),
            str(r.unit),
        )
        for r in frames.metrics.itertuples(index=False)
    )
    return Section(
        "metrics",
        SECTION_HEADINGS["metrics"],
        (
            "Lower bounds are valid for every plan: the gap between 'after' and the bound is the most "
            "any plan could still gain. Imbalance is the standard deviation of host utilization "
            "(fraction) over the hosts that are up.",
        ),
        tables=(Table("Cluster indicators", ("indicator", "before", "after", "lower bound", "unit"), rows),),
    )


def _migrations(plan: Plan, frames: Frames, gantt: RenderedFigure) -> Section:
    m = frames.migrations
    text = [
        "Each move is a bar on its source host's row (solid) and its target host's row (hatched), "
        "coloured by why it moves; the black tick at its end is the switchover, when the VM pauses "
        "for its downtime. Power actions are triangles."
    ]
    if not m.empty:
        text.append(
            f"{len(m)} moves, {m['transferred_mib'].sum() / 1024:,.1f} GiB over the network, "
            f"longest downtime {m['downtime_ms'].max():,.0f} ms, "
            f"{int((~m['converges']).sum())} that do not converge."
        )
        by_reason = m.groupby("reason").size().sort_values(ascending=False)
        text.append("By reason: " + ", ".join(f"{r} {n}" for r, n in by_reason.items()) + ".")
    rows = tuple(
        (
            r.vm,
            f"{r.source} → {r.target}",
            _fmt(r.start_s),
            _fmt(r.end_s),
            r.reason.value,
            _fmt(r.estimate.downtime_ms, 0),
            _fmt(r.estimate.transferred_mib / 1024, 2),
            _fmt(r.estimate.converges),
        )
        for r in sorted(plan.migrations, key=lambda r: (r.start_s, r.vm))[:MAX_ROWS]
    )
    tables = (
        (
            Table(
                "Moves in start order"
                + (
                    f" (first {MAX_ROWS} of {len(plan.migrations)})"
                    if len(plan.migrations) > MAX_ROWS
                    else ""
                ),
                ("VM", "link", "start (s)", "end (s)", "reason", "downtime (ms)", "data (GiB)", "converges"),
                rows,
            ),
        )
        if rows
        else ()
    )
    if not rows:
        text.append("The plan moves no VM.")
    return Section("migrations", SECTION_HEADINGS["migrations"], tuple(text), (gantt,), tables)


def _power(plan: Plan) -> Section:
    if not plan.power_actions:
        return Section("power", SECTION_HEADINGS["power"], ("No host is powered on or off.",))
    rows = tuple(
        (a.host, a.action.value.replace("_", " "), _fmt(a.at_s))
        for a in sorted(plan.power_actions, key=lambda a: (a.at_s, a.host))
    )
    return Section(
        "power",
        SECTION_HEADINGS["power"],
        ("Shown on the timeline above as triangles on the host's row.",),
        tables=(Table("Power actions in time order", ("host", "action", "at (s)"), rows),),
    )


def _rules(plan: Plan, frames: Frames) -> Section:
    r = frames.rules
    names = {1: "1: VM-host must / must not", 2: "2: affinity / anti-affinity", 3: "3: VM-host should"}
    rows = []
    for priority in (1, 2, 3):
        group = r[r["priority"] == priority]
        after_known = group["satisfied_after"].notna().all() and not group.empty
        rows.append(
            (
                names[priority],
                _fmt(len(group)),
                _fmt(int(group["satisfied_before"].eq(False).sum())),
                _fmt(int(group["satisfied_after"].eq(False).sum())) if after_known else "–",
            )
        )
    tables = [
        Table(
            "Rules broken, by priority", ("priority", "rules", "broken before", "broken after"), tuple(rows)
        )
    ]
    if plan.violations:
        tables.append(
            Table(
                "Rules the plan leaves broken, and what they yield to",
                ("rule", "priority", "VMs", "detail"),
                tuple((v.rule, str(v.priority), ", ".join(v.vms), v.detail) for v in plan.violations),
            )
        )
    if not r.empty:
        tables.append(
            Table(
                "Every rule" + (f" (first {MAX_ROWS} of {len(r)})" if len(r) > MAX_ROWS else ""),
                ("rule", "kind", "priority", "holds before", "holds after"),
                tuple(
                    (
                        str(x.rule),
                        str(x.kind),
                        str(x.priority),
                        _fmt(x.satisfied_before),
                        _fmt(x.satisfied_after),
                    )
                    for x in r.sort_values(["priority", "rule"]).head(MAX_ROWS).itertuples(index=False)
                ),
            )
        )
    text = (
        "Priority 1 rules are hard; priority 2 yield only to priority 1 and capacity; priority 3 "
        "yield to DPM as well. The objective order is DPM > rules > DRS.",
    )
    return Section("rules", SECTION_HEADINGS["rules"], text, tables=tuple(tables))


def _unmovable(plan: Plan) -> Section:
    fixed = [u for u in plan.unmovable if not any(r.startswith(BALANCER_PREFIX) for r in u.reasons)]
    wished = [u for u in plan.unmovable if any(r.startswith(BALANCER_PREFIX) for r in u.reasons)]
    tables = []
    if fixed:
        tables.append(
            Table(
                "VMs that cannot move at all",
                ("VM", "why"),
                tuple((u.vm, "; ".join(u.reasons)) for u in fixed[:MAX_ROWS]),
            )
        )
    if wished:
        tables.append(
            Table(
                "VMs the balancer would have moved off a hot host, and why it did not",
                ("VM", "hot host", "why not"),
                tuple((u.vm, *_hot_host_and_why(u)) for u in wished[:MAX_ROWS]),
            )
        )
    text = (
        f"{len(fixed)} VM(s) cannot move (pinned, devices, DRS disabled, or no other allowed host)"
        + (f"; {len(wished)} more stay on hot hosts." if wished else "."),
    )
    return Section("unmovable", SECTION_HEADINGS["unmovable"], text, tables=tuple(tables))


def _hot_host_and_why(entry: Unmovable) -> tuple[str, str]:
    """(host, why) of a balancer's wish: "<BALANCER_WISH> HOST: WHY" ("" for the host in the
    older form, which did not name it)."""
    reason = next(r for r in entry.reasons if r.startswith(BALANCER_PREFIX))
    if reason.startswith(BALANCER_WISH + " "):
        host, _, why = reason.removeprefix(BALANCER_WISH + " ").partition(": ")
        return host, why
    return "", reason.removeprefix(BALANCER_PREFIX).split("; ", 1)[-1]


def _conflicts(plan: Plan) -> Section:
    rows = tuple(
        (c.kind, c.name, c.explanation, ", ".join(c.rules), ", ".join(c.hosts), ", ".join(c.vms))
        for c in plan.conflicts
    )
    return Section(
        "conflicts",
        SECTION_HEADINGS["conflicts"],
        (
            "The inventory is infeasible: these rules, hosts and VMs cannot hold together. Relaxing "
            "any one of them may make a plan possible.",
        ),
        tables=(
            Table("Smallest conflicting set", ("kind", "name", "explanation", "rules", "hosts", "VMs"), rows),
        )
        if rows
        else (),
    )

"""The report's content, independent of its format: sections of text, tables and figures.

Why a format-free model: the HTML and Markdown reports must say the same thing; each renderer
only decides how a heading, a table or a figure looks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from scheduler.check.verify import VerificationReport
from scheduler.model import BALANCER_WISH, UNSAFE_MIGRATION, Instance, Plan, PlanStatus, Unmovable
from scheduler.report.figures import FIGURES, RenderedFigure, render_figures
from scheduler.report.frames import (
    Frames,
    max_utilization_bound,
    planned_instance,
    policy_differences,
    to_frames,
)
from scheduler.report.plots import drs_band

# Plain data and a formatter with no solver behind them (the module imports no OR-tools), so the
# report states a level as the plan command prints it.
from scheduler.solver.result import COST_UNIT, DPM_LEVEL, DRS_LEVEL, DRS_RELATIVE_GAP, level_amount

BALANCER_PREFIX = "balancer wanted"  # also in plans written before reasons named the hot host
MAX_ROWS = 200  # per long table (moves, rules, VMs): a 10,000-VM plan stays a readable page
# Utilizations the optimizer's notes give as fractions (the CPU peak note), shown in % as the tables are.
NOTE_FRACTION = re.compile(r"\b(peak cap|least peak|stays at) (\d+\.\d+)\b")


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
    """A number for a table cell: blank when missing, thousands separated, ``digits`` decimals
    always (so that a column's numbers line up: "0.0" above "4.0", never "0")."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


METRIC_DIGITS = {"std-dev": 4, "%": 1, "s": 1, "GiB": 1}  # counts (hosts, rules, moves) and W: none


def _metric_digits(unit: str) -> int:
    return METRIC_DIGITS.get(unit, 0)


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _percent_notes(note: str) -> str:
    """A note with its utilization fractions in % ("CPU peak cap 0.708" → "CPU peak cap 70.8 %")."""
    return NOTE_FRACTION.sub(lambda m: f"{m[1]} {100 * float(m[2]):.1f} %", note)


def build_report(
    instance: Instance, plan: Plan, *, dpi: int = 110, verdict: VerificationReport | None = None
) -> Report:
    """The report of ``plan`` on ``instance``: tables from ``to_frames``, figures rendered to PNG.

    The DRS and DPM policy is the one the plan was made under (``frames.planned_policy``); the
    Summary says where it differs from the inventory's. ``verdict``, the checker's on this plan
    (``check.verify_plan``), is stated in the Summary when given: the report does not check."""
    frames = to_frames(instance, plan)
    figures = {f.key: f for f in render_figures(instance, plan, dpi=dpi)}
    sections = [
        _summary(instance, plan, verdict),
        _metrics(instance, plan, frames),
        _utilization(planned_instance(instance, plan), plan, figures),
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


def _verdict_text(verdict: VerificationReport, plan: Plan) -> str:
    """What the checker found, for the Summary."""
    if not verdict.valid:
        first = verdict.findings[0]
        return (
            f"Checked: the solver-free checker (`scheduler verify`) finds "
            f"{_plural(len(verdict.findings), 'problem')} in this plan, the first: {first.message}."
        )
    if plan.status is PlanStatus.INFEASIBLE:
        return (
            "Checked: the plan passed the solver-free checker (`scheduler verify`); an infeasible "
            "plan has nothing to replay, so its names and form were checked."
        )
    timing = (
        ", and every migration re-simulated on the shared host links (its end, convergence, "
        "downtime and data match)"
        if verdict.timing_checked
        else "; the migrations' timing was taken as given (not re-simulated)"
    )
    return (
        "Checked: the plan passed the solver-free checker (`scheduler verify`): every migration and "
        f"power action replayed from the inventory and the final state checked{timing}."
    )


def _summary(instance: Instance, plan: Plan, verdict: VerificationReport | None) -> Section:
    policy = planned_instance(instance, plan).policy
    schedule = plan.metrics.get("schedule") or {}
    lines = [
        f"Plan status: {plan.status.value}. "
        + (
            f"{_plural(len(plan.migrations), 'migration')} and "
            f"{_plural(len(plan.power_actions), 'power action')}, "
            f"finished after {_fmt(_float(schedule.get('makespan_s')), 1)} s."
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
    if verdict is not None:
        lines.append(_verdict_text(verdict, plan))
    differences = policy_differences(instance, plan)
    if differences:
        # What-if flags of the plan command: the reader must not take the inventory's policy for it.
        lines.extend(f"{d[0].upper()}{d[1:]}." for d in differences)
    solve = plan.metrics.get("solve_time_s")
    if solve is not None:
        lines.append(f"Solved in {_fmt(float(solve))} s.")
    notes = plan.metrics.get("notes") or []
    lines.extend(f"Note: {_percent_notes(str(n))}" for n in notes)
    levels = [
        lv
        for lv in plan.metrics.get("levels") or []
        if isinstance(lv, dict) and (policy.dpm.enabled or lv.get("level") != DPM_LEVEL)
    ]
    tables: tuple[Table, ...] = ()
    if levels:
        names = {str(lv.get("level")) for lv in levels}
        lines.append(
            "Objective levels, below, are solved in priority order, each fixed before the next; each "
            "is proven optimal or shown with the best bound proven"
            + (
                f", the DRS level counting as optimal within its {DRS_RELATIVE_GAP * 100:g} % relative gap"
                if DRS_LEVEL in names
                else ""
            )
            + "."
            + (
                " Migration cost counts each move's estimate alone on a free link, rounded up to "
                "0.1 s per move; 'migration time, summed' under Metrics is the schedule's, where "
                "moves that share a link take longer."
                if any(lv.get("unit") == COST_UNIT for lv in levels)
                else ""
            )
        )
        tables = (
            Table(
                "Objective levels, in priority order",
                ("level", "value", "bound", "optimal"),
                tuple(_level_row(lv) for lv in levels),
            ),
        )
    return Section("summary", SECTION_HEADINGS["summary"], tuple(lines), tables=tables)


def _level_row(level: dict[str, Any]) -> tuple[str, str, str, str]:
    unit = str(level.get("unit", ""))
    value, bound = _float(level.get("value")), _float(level.get("bound"))
    return (
        str(level.get("level")),
        "–" if value is None else level_amount(value, unit),
        "–" if bound is None else level_amount(bound, unit, named=False),
        _fmt(bool(level.get("optimal"))),
    )


def _float(value: Any) -> float | None:
    """A finite number as a float, None otherwise (JSON null, a string)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or pd.isna(value):
        return None
    return float(value)


def _metrics(instance: Instance, plan: Plan, frames: Frames) -> Section:
    rows = tuple(
        (
            str(r.indicator),
            _fmt(_float(r.before), _metric_digits(str(r.unit))),
            _fmt(_float(r.after), _metric_digits(str(r.unit))),
            _fmt(_float(r.lower_bound), _metric_digits(str(r.unit))),
            str(r.unit),
        )
        for r in frames.metrics.itertuples(index=False)
    )
    bounds: dict[str, Any] = plan.metrics.get("lower_bounds") or {}
    compat = isinstance(bounds.get("max_utilization_compat"), dict)
    text = [
        _bounds_text(plan, frames)
        if plan.status is PlanStatus.INFEASIBLE
        else (
            "Lower bounds hold for every plan that keeps the rules the objective order keeps, except "
            "the makespan's, which holds for this plan's moves however they are ordered: the gap "
            "between 'after' and the bound is the most such a plan could still gain."
        ),
        (
            "The max utilization bound is the compatibility-aware one: each VM's load only on the "
            "hosts it may use, spread over every usable host."
            if compat
            else "The max utilization bound spreads the load freely over the usable hosts."
            if isinstance(bounds.get("max_utilization"), dict)
            else ""
        ),
        "Imbalance is the standard deviation of host utilization (fraction); it and the utilization "
        "rows count only the hosts that are up." + _left_out(frames),
    ]
    return Section(
        "metrics",
        SECTION_HEADINGS["metrics"],
        tuple(t for t in text if t),
        tables=(
            Table(
                "Cluster indicators (utilization and imbalance over the hosts up)",
                ("indicator", "before", "after", "lower bound", "unit"),
                rows,
            ),
        ),
    )


def _bounds_text(plan: Plan, frames: Frames) -> str:
    """For an infeasible plan: which lower bounds exceed what the usable hosts hold, i.e. why."""
    bounds: dict[str, Any] = plan.metrics.get("lower_bounds") or {}
    over = []
    for r in ("cpu", "memory"):
        bound = _float(max_utilization_bound(plan, r))
        if bound is not None and bound > 1.0:
            over.append(f"max utilization {r} at least {100 * bound:.1f} % (over 100 %)")
    usable = _float(bounds.get("usable_hosts"))
    hosts = _float(frames.metrics.set_index("indicator")["lower_bound"].get("hosts up"))
    if usable is not None and hosts is not None and hosts > usable:
        over.append(f"at least {int(hosts)} hosts up, of {int(usable)} usable")
    head = "The inventory is infeasible, so there is no plan and no 'after'. "
    if over:
        return (
            head + "Its lower bounds exceed what the usable hosts (up or standby) can hold, which is "
            "why: " + "; ".join(over) + "."
        )
    return head + "Its lower bounds are what any plan would need; the cause is in the conflicts below."


def _left_out(frames: Frames) -> str:
    """Hosts not up that hold VMs before the plan (maintenance: being emptied), named with their peak,
    since a reader sees them in the figures but not in the table's 'before' column."""
    before = frames.hosts[(frames.hosts["when"] == "before") & (frames.hosts["state"] != "up")]
    busy = before[before["num_vms"].fillna(0) > 0]
    if busy.empty:
        return ""
    hottest = busy.sort_values("cpu_utilization", ascending=False).iloc[0]
    peak = f"{100 * float(hottest['cpu_utilization']):.1f} % CPU"
    if len(busy) == 1:
        return (
            f" Left out of 'before' although it holds VMs: {hottest['host']} ({hottest['state']}), at {peak}."
        )
    names = ", ".join(f"{r.host} ({r.state})" for r in busy.itertuples(index=False))
    return (
        f" Left out of 'before' although they hold VMs: {names}; the busiest, {hottest['host']}, "
        f"runs at {peak}."
    )


def _utilization(instance: Instance, plan: Plan, figures: dict[str, RenderedFigure]) -> Section:
    """``instance`` carries the policy the plan was made under."""
    band = (
        "The shaded orange band is the mean of the hosts that are up ± the DRS threshold's "
        "tolerance, a guide to how far hosts spread: DRS calls the cluster balanced when the "
        "standard deviation of host utilization is at most the tolerance, so a host outside the "
        "band is not by itself an imbalance. "
        if drs_band(instance, plan) is not None
        else "No DRS tolerance band is drawn: threshold 1 makes mandatory moves only, with no tolerance. "
    )
    text = (
        "Utilization is demand over capacity per host. "
        + band
        + (
            "The green band is DPM's target utilization."
            if instance.policy.dpm.enabled
            else "DPM is off, so no target band is drawn."
        )
        + (
            " The inventory is infeasible: there is no plan, so only the state before is drawn."
            if plan.status is PlanStatus.INFEASIBLE
            else ""
        ),
    )
    return Section(
        "utilization",
        SECTION_HEADINGS["utilization"],
        text,
        figures=(figures["utilization-cpu"], figures["utilization-memory"]),
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
            f"{_plural(len(m), 'move')}, {m['transferred_mib'].sum() / 1024:,.1f} GiB over the network, "
            f"longest downtime {m['downtime_ms'].max():,.0f} ms, "
            f"{int((~m['converges']).sum())} that do not converge."
        )
        by_reason = m.groupby("reason").size().sort_values(ascending=False)
        text.append("By reason: " + ", ".join(f"{r} {n}" for r, n in by_reason.items()) + ".")
    rows = tuple(
        (
            r.vm,
            f"{r.source} → {r.target}",
            _fmt(float(r.start_s), 1),
            _fmt(float(r.end_s), 1),
            r.reason.value,
            _fmt(float(r.estimate.downtime_ms), 0),
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
    if plan.status is PlanStatus.INFEASIBLE:
        text.append("The inventory is infeasible: there is no plan, so nothing moves.")
    elif not rows:
        text.append("The plan moves no VM.")
    return Section("migrations", SECTION_HEADINGS["migrations"], tuple(text), (gantt,), tables)


def _power(plan: Plan) -> Section:
    if not plan.power_actions:
        return Section("power", SECTION_HEADINGS["power"], ("No host is powered on or off.",))
    rows = tuple(
        (a.host, a.action.value.replace("_", " "), _fmt(float(a.at_s), 1))
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
    names = {
        1: "1: VM-host must / must not",
        2: "2: affinity / anti-affinity",
        3: "3: VM-host should / should not",
    }
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
        "Priority 1 rules are hard; priority 2 yield only to what a plan cannot do otherwise "
        "(priority 1, capacity, compatibility, VMs that cannot move, the migration budget); "
        "priority 3 yield to DPM as well; each broken rule below says what it yields to. The "
        "objectives are met in this order, each before the next: "
        "priority-2 rules, DPM (hosts on), priority-3 rules, DRS balance, migration cost.",
    )
    return Section("rules", SECTION_HEADINGS["rules"], text, tables=tuple(tables))


def _unmovable(plan: Plan) -> Section:
    def kind(entry: Unmovable) -> str:
        if any(r.startswith(BALANCER_PREFIX) for r in entry.reasons):
            return "wished"
        return "unsafe" if any(r.startswith(UNSAFE_MIGRATION) for r in entry.reasons) else "fixed"

    fixed = [u for u in plan.unmovable if kind(u) == "fixed"]
    unsafe = [u for u in plan.unmovable if kind(u) == "unsafe"]
    wished = [u for u in plan.unmovable if kind(u) == "wished"]
    tables = []
    for title, entries in (
        ("VMs that cannot move at all", fixed),
        ("VMs moved only when they must: their live migration is not safe", unsafe),
    ):
        if entries:
            tables.append(
                Table(title, ("VM", "why"), tuple((u.vm, "; ".join(u.reasons)) for u in entries[:MAX_ROWS]))
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
        + (f"; {len(unsafe)} move only when they must (their live migration is not safe)" if unsafe else "")
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

"""Tidy pandas tables of a plan: hosts, VMs, migrations, power actions, rules and metrics.

Why tables: notebooks, the report and ad-hoc analysis all want the same numbers in one shape
(one row per observation, units in column names), not the nested plan JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from scheduler.check.metrics import cluster_metrics
from scheduler.check.rules import rule_status
from scheduler.errors import InputError, Problem
from scheduler.model import Instance, Plan, PlanStatus

HOST_COLUMNS = (
    "host",
    "when",
    "state",
    "powered",
    "num_vms",
    "cpu_demand_mhz",
    "cpu_mhz",
    "memory_demand_mib",
    "memory_configured_mib",
    "memory_mib",
    "cpu_utilization",
    "memory_utilization",
    "memory_allocation",
    "watts",
)
VM_COLUMNS = (
    "vm",
    "host_before",
    "host_after",
    "moved",
    "reason",
    "vcpus",
    "memory_mib",
    "cpu_demand_mhz",
    "memory_demand_mib",
    "dirty_rate_mibps",
    "unmovable",
)
MIGRATION_COLUMNS = (
    "vm",
    "source",
    "target",
    "start_s",
    "end_s",
    "duration_s",
    "reason",
    "total_s",
    "downtime_ms",
    "transferred_mib",
    "iterations",
    "converges",
)
POWER_COLUMNS = ("host", "action", "at_s")
RULE_COLUMNS = ("rule", "kind", "priority", "satisfied_before", "satisfied_after", "detail_after")
METRIC_COLUMNS = ("indicator", "before", "after", "lower_bound", "unit")


@dataclass(frozen=True)
class Frames:
    """The tidy tables of one plan (see the module docstring); every column has its unit in its name.

    Attributes:
        hosts: one row per host and state (``when`` = "before" / "after"); utilizations are fractions.
        vms: one row per VM: hosts before / after, whether and why it moves, sizes, dirty rate.
        migrations: one row per move with its pre-copy estimate.
        power: one row per power action.
        rules: one row per rule: priority, satisfied before / after.
        metrics: one row per indicator: before, after, lower bound, unit.
    """

    hosts: pd.DataFrame
    vms: pd.DataFrame
    migrations: pd.DataFrame
    power: pd.DataFrame
    rules: pd.DataFrame
    metrics: pd.DataFrame


def check_plan_names(instance: Instance, plan: Plan, source: str = "plan") -> None:
    """Raise ``InputError`` when the plan names a VM or host the inventory does not know; the
    problems name ``source`` as their file (pass the plan's path when it was read from one).

    Why: a plan made for another inventory would give a report full of wrong numbers, not an error.
    """
    problems: list[Problem] = []
    for vm, host in plan.placement.items():
        if vm not in instance.vm_index:
            problems.append(Problem(source, f"placement.{vm}", "vm", f"unknown VM {vm!r}"))
        if host not in instance.host_index:
            problems.append(Problem(source, f"placement.{vm}", "host", f"unknown host {host!r}"))
    for host in plan.host_states:
        if host not in instance.host_index:
            problems.append(Problem(source, f"host_states.{host}", "", f"unknown host {host!r}"))
    for i, m in enumerate(plan.migrations):
        if m.vm not in instance.vm_index:
            problems.append(Problem(source, f"migrations[{i}]", "vm", f"unknown VM {m.vm!r}"))
        for field, host in (("source", m.source), ("target", m.target)):
            if host not in instance.host_index:
                problems.append(Problem(source, f"migrations[{i}]", field, f"unknown host {host!r}"))
    for i, a in enumerate(plan.power_actions):
        if a.host not in instance.host_index:
            problems.append(Problem(source, f"power_actions[{i}]", "host", f"unknown host {a.host!r}"))
    if problems:
        raise InputError(problems)


def state_metrics(instance: Instance, plan: Plan, when: str) -> dict[str, Any] | None:
    """The ``ClusterMetrics.to_dict()`` of the state before or after the plan (None: no after state).

    The plan's own ``metrics.before`` / ``after`` are used when present, so the report shows what
    the plan file says; they are recomputed from the inventory otherwise.
    """
    stored = plan.metrics.get(when)
    if isinstance(stored, dict) and stored.get("hosts"):
        return stored
    if when == "before":
        states = {h.name: h.state.value for h in instance.hosts}
        return cluster_metrics(instance, instance.current_placement(), states).to_dict()
    if plan.status is PlanStatus.INFEASIBLE or not plan.placement:
        return None
    return cluster_metrics(instance, plan.placement, plan.host_states).to_dict()


def to_frames(instance: Instance, plan: Plan, source: str = "plan") -> Frames:
    """Tidy DataFrames of ``plan`` applied to ``instance`` (names checked first, ``InputError`` if not;
    ``source``, the plan's path when it was read from a file, is the file its problems name)."""
    check_plan_names(instance, plan, source)
    before = state_metrics(instance, plan, "before")
    after = state_metrics(instance, plan, "after")
    return Frames(
        hosts=_hosts(before, after),
        vms=_vms(instance, plan),
        migrations=_migrations(plan),
        power=pd.DataFrame(
            [{"host": a.host, "action": a.action.value, "at_s": a.at_s} for a in plan.power_actions],
            columns=list(POWER_COLUMNS),
        ),
        rules=_rules(instance, plan),
        metrics=_metrics(instance, plan, before, after),
    )


def _hosts(before: dict[str, Any] | None, after: dict[str, Any] | None) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for when, state in (("before", before), ("after", after)):
        for h in (state or {}).get("hosts", []):
            row = {"host": h["name"], "when": when, **{k: v for k, v in h.items() if k != "name"}}
            rows.append({c: row.get(c) for c in HOST_COLUMNS})
    return pd.DataFrame(rows, columns=list(HOST_COLUMNS))


def _vms(instance: Instance, plan: Plan) -> pd.DataFrame:
    reasons = {m.vm: m.reason.value for m in plan.migrations}
    stuck = {u.vm for u in plan.unmovable}
    rows = []
    for v in instance.vms:
        after = plan.placement.get(v.name) if plan.placement else None  # infeasible: no after state
        rows.append(
            {
                "vm": v.name,
                "host_before": v.host,
                "host_after": after,
                "moved": v.name in reasons,
                "reason": reasons.get(v.name),
                "vcpus": v.vcpus,
                "memory_mib": v.memory_mib,
                "cpu_demand_mhz": v.cpu_demand_mhz,
                "memory_demand_mib": v.memory_demand_mib,
                "dirty_rate_mibps": v.dirty_rate_mibps,
                "unmovable": v.name in stuck,
            }
        )
    return pd.DataFrame(rows, columns=list(VM_COLUMNS))


def _migrations(plan: Plan) -> pd.DataFrame:
    rows = [
        {
            "vm": m.vm,
            "source": m.source,
            "target": m.target,
            "start_s": m.start_s,
            "end_s": m.end_s,
            "duration_s": m.end_s - m.start_s,
            "reason": m.reason.value,
            "total_s": m.estimate.total_s,
            "downtime_ms": m.estimate.downtime_ms,
            "transferred_mib": m.estimate.transferred_mib,
            "iterations": m.estimate.iterations,
            "converges": m.estimate.converges,
        }
        for m in plan.migrations
    ]
    return pd.DataFrame(rows, columns=list(MIGRATION_COLUMNS))


def _rules(instance: Instance, plan: Plan) -> pd.DataFrame:
    now = {s.rule: s for s in rule_status(instance, instance.current_placement())}
    later = {s.rule: s for s in rule_status(instance, plan.placement)} if plan.placement else {}
    rows = []
    for rule in instance.rules:
        b, a = now.get(rule.name), later.get(rule.name)
        rows.append(
            {
                "rule": rule.name,
                "kind": rule.kind.value + (f" {rule.mode.value}" if rule.mode is not None else ""),
                "priority": rule.priority,
                "satisfied_before": None if b is None else b.satisfied,
                "satisfied_after": None if a is None else a.satisfied,
                "detail_after": "" if a is None else a.detail,
            }
        )
    return pd.DataFrame(rows, columns=list(RULE_COLUMNS))


def _number(value: Any) -> float | None:
    """A finite float, or None (JSON null, infinity, missing)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _metrics(
    instance: Instance, plan: Plan, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> pd.DataFrame:
    b, a = before or {}, after or {}
    bounds: dict[str, Any] = plan.metrics.get("lower_bounds") or {}
    schedule: dict[str, Any] = plan.metrics.get("schedule") or {}
    host_bounds = bounds.get("hosts_dpm_target") if instance.policy.dpm.enabled else bounds.get("hosts")
    rows: list[tuple[str, Any, Any, Any, str]] = []
    for r in ("cpu", "memory"):
        rows.append(
            (f"imbalance {r}", b.get("imbalance", {}).get(r), a.get("imbalance", {}).get(r), None, "std-dev")
        )
    rows.append(("DRS imbalance", b.get("drs_imbalance"), a.get("drs_imbalance"), None, "std-dev"))
    rows.append(("DRS tolerance", b.get("drs_tolerance"), a.get("drs_tolerance"), None, "std-dev"))
    for r in ("cpu", "memory"):
        bound = (bounds.get("max_utilization") or {}).get(r)
        rows.append(
            (
                f"max utilization {r}",
                _pct(b.get("max_utilization", {}).get(r)),
                _pct(a.get("max_utilization", {}).get(r)),
                _pct(bound),
                "%",
            )
        )
        rows.append(
            (
                f"mean utilization {r}",
                _pct(b.get("mean_utilization", {}).get(r)),
                _pct(a.get("mean_utilization", {}).get(r)),
                None,
                "%",
            )
        )
    rows.append(
        (
            "hosts up",
            b.get("hosts_up"),
            a.get("hosts_up"),
            (host_bounds or {}).get("best") if isinstance(host_bounds, dict) else None,
            "hosts",
        )
    )
    rows.append(("power", b.get("total_watts"), a.get("total_watts"), bounds.get("watts"), "W"))
    for p in ("1", "2", "3"):
        rows.append(
            (
                f"priority-{p} rules broken",
                (b.get("rules") or {}).get(p, {}).get("violated", 0) if b else None,
                (a.get("rules") or {}).get(p, {}).get("violated", 0) if a else None,
                0 if p == "1" else None,
                "rules",
            )
        )
    moved = plan.status is not PlanStatus.INFEASIBLE
    rows.append(("migrations", 0, len(plan.migrations) if moved else None, None, "moves"))
    rows.append(("makespan", 0.0, schedule.get("makespan_s"), schedule.get("lower_bound_s"), "s"))
    rows.append(("migration time, summed", 0.0, schedule.get("total_migration_s"), None, "s"))
    rows.append(("data transferred", 0.0, schedule.get("total_transferred_mib"), None, "MiB"))
    frame = pd.DataFrame(
        [
            {"indicator": n, "before": _number(x), "after": _number(y), "lower_bound": _number(z), "unit": u}
            for n, x, y, z, u in rows
        ],
        columns=list(METRIC_COLUMNS),
    )
    return frame


def _pct(value: Any) -> float | None:
    number = _number(value)
    return None if number is None else 100.0 * number

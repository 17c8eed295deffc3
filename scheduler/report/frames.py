"""Tidy pandas tables of a plan: hosts, VMs, migrations, power actions, rules and metrics.

Why tables: notebooks, the report and ad-hoc analysis all want the same numbers in one shape
(one row per observation, units in column names), not the nested plan JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from scheduler.check.metrics import cluster_metrics
from scheduler.check.rules import rule_status
from scheduler.errors import InputError, Problem
from scheduler.io.inventory import MAX_MIN_HOSTS_ON
from scheduler.model import Instance, Measure, Plan, PlanStatus, Policy
from scheduler.report.metrics_form import check_metrics_form

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


def planned_policy(instance: Instance, plan: Plan) -> Policy:
    """The policy ``plan`` was made under: its ``metrics.policy`` over the inventory's.

    Why: ``scheduler plan --dpm / --threshold / --measure`` plan under another policy than the
    inventory's, and the plan records it; a report that read the inventory alone would describe DPM
    or DRS as they were not planned. Each field the plan lacks or gives in a form not understood
    (an older plan, another tool's) keeps the inventory's value.
    """
    recorded = plan.metrics.get("policy")
    policy = instance.policy
    if not isinstance(recorded, dict):
        return policy
    drs, dpm = policy.drs, policy.dpm
    d = _mapping(recorded.get("drs"))
    p = _mapping(recorded.get("dpm"))
    if isinstance(d.get("enabled"), bool):
        drs = replace(drs, enabled=d["enabled"])
    if _is_int(d.get("threshold")) and 1 <= d["threshold"] <= 5:
        drs = replace(drs, threshold=d["threshold"])
    if d.get("measure") in {m.value for m in Measure}:
        drs = replace(drs, measure=Measure(d["measure"]))
    if isinstance(p.get("enabled"), bool):
        dpm = replace(dpm, enabled=p["enabled"])
    # Each within the inventory's own bounds: a value no inventory may hold is no policy either.
    if _is_int(p.get("threshold")) and 1 <= p["threshold"] <= 5:
        dpm = replace(dpm, threshold=p["threshold"])
    band = p.get("target_utilization")
    if isinstance(band, list) and len(band) == 2 and all(_number(x) is not None for x in band):
        low, high = float(band[0]), float(band[1])
        if 0.0 < low < high <= 1.0:
            dpm = replace(dpm, target_utilization=(low, high))
    if _is_int(p.get("min_hosts_on")) and 0 <= p["min_hosts_on"] <= MAX_MIN_HOSTS_ON:
        dpm = replace(dpm, min_hosts_on=p["min_hosts_on"])
    return replace(policy, drs=drs, dpm=dpm)


def planned_instance(instance: Instance, plan: Plan) -> Instance:
    """``instance`` with the policy ``plan`` was made under (``planned_policy``), so that every
    table, figure and sentence of a report describes the plan's DRS and DPM settings."""
    policy = planned_policy(instance, plan)
    return instance if policy == instance.policy else replace(instance, policy=policy)


def policy_differences(instance: Instance, plan: Plan) -> list[str]:
    """How the policy ``plan`` was made under differs from the inventory's, one phrase each, e.g.
    "planned with DPM on; the inventory has it off" (empty when they agree)."""
    ours, theirs = planned_policy(instance, plan), instance.policy
    out: list[str] = []

    def on(flag: bool) -> str:
        return "on" if flag else "off"

    if ours.drs.enabled != theirs.drs.enabled:
        out.append(f"planned with DRS {on(ours.drs.enabled)}; the inventory has it {on(theirs.drs.enabled)}")
    if ours.drs.threshold != theirs.drs.threshold:
        out.append(
            f"planned with DRS threshold {ours.drs.threshold}; the inventory has {theirs.drs.threshold}"
        )
    if ours.drs.measure != theirs.drs.measure:
        out.append(
            f"planned with DRS measure {ours.drs.measure.value}; the inventory has {theirs.drs.measure.value}"
        )
    if ours.dpm.enabled != theirs.dpm.enabled:
        out.append(f"planned with DPM {on(ours.dpm.enabled)}; the inventory has it {on(theirs.dpm.enabled)}")
    elif ours.dpm.enabled and (
        ours.dpm.target_utilization != theirs.dpm.target_utilization
        or ours.dpm.min_hosts_on != theirs.dpm.min_hosts_on
    ):
        out.append("planned with other DPM settings than the inventory's")
    return out


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def to_frames(instance: Instance, plan: Plan, source: str = "plan") -> Frames:
    """Tidy DataFrames of ``plan`` applied to ``instance`` (names checked first, ``InputError`` if not;
    ``source``, the plan's path when it was read from a file, is the file its problems name).

    The policy is the one the plan was made under (``planned_policy``)."""
    check_plan_names(instance, plan, source)
    check_metrics_form(plan, source)
    instance = planned_instance(instance, plan)
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
        bound = max_utilization_bound(plan, r)
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
    # GiB, as the moves table and the migration summary give data: one unit for one quantity.
    moved_mib = _number(schedule.get("total_transferred_mib"))
    rows.append(("data transferred", 0.0, None if moved_mib is None else moved_mib / 1024, None, "GiB"))
    frame = pd.DataFrame(
        [
            {"indicator": n, "before": _number(x), "after": _number(y), "lower_bound": _number(z), "unit": u}
            for n, x, y, z, u in rows
        ],
        columns=list(METRIC_COLUMNS),
    )
    return frame


def max_utilization_bound(plan: Plan, resource: str) -> Any:
    """The plan's lower bound on the highest host utilization of ``resource`` (a fraction).

    The compatibility-aware bound (``max_utilization_compat``: each VM's load only on the hosts it
    may use) when the plan has it, being the tighter one and the one the optimizer's peak note
    quotes; the free-spread bound (``max_utilization``) otherwise (older plans)."""
    bounds: dict[str, Any] = plan.metrics.get("lower_bounds") or {}
    compat = (bounds.get("max_utilization_compat") or {}).get(resource)
    return compat if _number(compat) is not None else (bounds.get("max_utilization") or {}).get(resource)


def _pct(value: Any) -> float | None:
    number = _number(value)
    return None if number is None else 100.0 * number

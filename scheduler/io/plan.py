"""Plan documents (docs/plan.md): writing them atomically, reading them back, reading targets.

A plan is read as strictly as an inventory (unknown keys are reported), except inside a
migration's ``estimate``, where keys beyond the contract's five are kept in
``MigrationEstimateRecord.extra``: estimators may add detail without a format change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scheduler.errors import InputError, Problem
from scheduler.io.atomic import atomic_write_text
from scheduler.io.validate import (
    Problems,
    check_keys,
    check_name,
    describe,
    get_bool,
    get_int,
    get_mapping,
    get_names,
    get_number,
    get_str,
)
from scheduler.io.yaml_json import dump_json, load_document
from scheduler.model.host import HostState
from scheduler.model.plan import (
    PLAN_FORMAT,
    Conflict,
    Migration,
    MigrationEstimateRecord,
    MoveReason,
    Plan,
    PlanStatus,
    PowerAction,
    PowerActionKind,
    Unmovable,
    Violation,
)

PLAN_KEYS = frozenset(
    {
        "format",
        "cluster",
        "status",
        "placement",
        "host_states",
        "migrations",
        "power_actions",
        "violations",
        "unmovable",
        "conflicts",
        "metrics",
    }
)
MIGRATION_KEYS = frozenset({"vm", "source", "target", "start_s", "end_s", "reason", "estimate"})
ESTIMATE_FIELDS = ("total_s", "downtime_ms", "transferred_mib", "iterations", "converges")
POWER_ACTION_KEYS = frozenset({"host", "action", "at_s"})
VIOLATION_KEYS = frozenset({"rule", "priority", "vms", "detail"})
UNMOVABLE_KEYS = frozenset({"vm", "reasons"})
CONFLICT_KEYS = frozenset({"kind", "name", "explanation", "rules", "hosts", "vms"})

# Times in a plan are seconds from its start. Past this (over three years) a double no longer
# resolves the microseconds the checker's re-simulation steps by, and no real plan runs so long.
MAX_PLAN_TIME_S = 1e8

_STATUSES = tuple(s.value for s in PlanStatus)
_REASONS = tuple(r.value for r in MoveReason)
_ACTIONS = tuple(a.value for a in PowerActionKind)
_HOST_STATES = tuple(s.value for s in HostState)
_ENTRY_LISTS = frozenset({"migrations", "power_actions", "violations", "unmovable", "conflicts"})


# -- writing ----------------------------------------------------------------------------------


def _finite_or_none(value: Any) -> Any:
    """Metrics with non-finite floats become null: JSON has no infinity, and a bound may be one."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return _finite_or_none(value.item())
    return value


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The JSON mapping of a plan, keys in docs/plan.md order; ``conflicts`` only when infeasible."""
    out: dict[str, Any] = {
        "format": plan.format,
        "cluster": plan.cluster,
        "status": str(plan.status),
        "placement": dict(plan.placement),
        "host_states": {host: str(state) for host, state in plan.host_states.items()},
        "migrations": [
            {
                "vm": m.vm,
                "source": m.source,
                "target": m.target,
                "start_s": float(m.start_s),
                "end_s": float(m.end_s),
                "reason": str(m.reason),
                "estimate": {
                    "total_s": float(m.estimate.total_s),
                    "downtime_ms": float(m.estimate.downtime_ms),
                    "transferred_mib": float(m.estimate.transferred_mib),
                    "iterations": int(m.estimate.iterations),
                    "converges": bool(m.estimate.converges),
                    **_finite_or_none(dict(m.estimate.extra)),
                },
            }
            for m in plan.migrations
        ],
        "power_actions": [
            {"host": a.host, "action": str(a.action), "at_s": float(a.at_s)} for a in plan.power_actions
        ],
        "violations": [
            {"rule": v.rule, "priority": int(v.priority), "vms": list(v.vms), "detail": v.detail}
            for v in plan.violations
        ],
        "unmovable": [{"vm": u.vm, "reasons": list(u.reasons)} for u in plan.unmovable],
    }
    if plan.conflicts or plan.status is PlanStatus.INFEASIBLE:
        out["conflicts"] = [
            {
                "kind": c.kind,
                "name": c.name,
                "explanation": c.explanation,
                "rules": list(c.rules),
                "hosts": list(c.hosts),
                "vms": list(c.vms),
            }
            for c in plan.conflicts
        ]
    out["metrics"] = _finite_or_none(dict(plan.metrics))
    return out


def write_plan(plan: Plan, path: str | Path) -> None:
    """Write a plan as JSON, atomically (one migration, action or violation a line)."""
    atomic_write_text(path, dump_json(plan_to_dict(plan), _ENTRY_LISTS))


# -- reading ----------------------------------------------------------------------------------


def _name_map(p: Problems, data: Mapping[str, Any], key: str, required: bool) -> dict[str, str] | None:
    raw = data.get(key)
    if raw is None:
        if required:
            p.add("", key, "missing (required)")
        return None
    if not isinstance(raw, Mapping):
        p.add("", key, f"expected a mapping of names, got {describe(raw)}")
        return None
    out: dict[str, str] = {}
    for name, value in raw.items():
        checked = check_name(p, key, str(name), name)
        value_ok = check_name(p, key, str(name), value)
        if checked is not None and value_ok is not None:
            out[checked] = value_ok
    return out


def _host_states(p: Problems, data: Mapping[str, Any], required: bool) -> dict[str, str] | None:
    states = _name_map(p, data, "host_states", required)
    if states is None:
        return None
    for host, state in states.items():
        if state not in _HOST_STATES:
            p.add(
                "host_states",
                host,
                f"unknown host state {state!r}; expected one of: {', '.join(_HOST_STATES)}",
            )
    return states


def _entry_list(p: Problems, data: Mapping[str, Any], key: str) -> list[tuple[str, Mapping[str, Any]]]:
    raw = data.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        p.add("", key, f"expected a list, got {describe(raw)}")
        return []
    out: list[tuple[str, Mapping[str, Any]]] = []
    for i, item in enumerate(raw):
        entry = f"{key}[{i}]"
        if isinstance(item, Mapping):
            out.append((entry, item))
        else:
            p.add(entry, "", f"expected a mapping, got {describe(item)}")
    return out


def _migration(p: Problems, entry: str, m: Mapping[str, Any]) -> Migration:
    check_keys(p, entry, m, MIGRATION_KEYS)
    est = get_mapping(p, entry, m, "estimate", "estimate")
    if est is None:
        if "estimate" not in m:
            p.add(entry, "estimate", "missing (required)")
        est = {}
    reason = get_str(p, entry, m, "reason", choices=_REASONS, what="reason")
    return Migration(
        vm=get_str(p, entry, m, "vm"),
        source=get_str(p, entry, m, "source"),
        target=get_str(p, entry, m, "target"),
        start_s=get_number(p, entry, m, "start_s", minimum=0, maximum=MAX_PLAN_TIME_S),
        end_s=get_number(p, entry, m, "end_s", minimum=0, maximum=MAX_PLAN_TIME_S),
        reason=MoveReason(reason) if reason else MoveReason.PLACEMENT,
        estimate=MigrationEstimateRecord(
            total_s=get_number(
                p, entry, est, "total_s", minimum=0, maximum=MAX_PLAN_TIME_S, field="estimate.total_s"
            ),
            downtime_ms=get_number(p, entry, est, "downtime_ms", minimum=0, field="estimate.downtime_ms"),
            transferred_mib=get_number(
                p, entry, est, "transferred_mib", minimum=0, field="estimate.transferred_mib"
            ),
            iterations=get_int(p, entry, est, "iterations", minimum=0, field="estimate.iterations"),
            converges=get_bool(p, entry, est, "converges", True, field="estimate.converges"),
            extra={k: v for k, v in est.items() if k not in ESTIMATE_FIELDS},
        ),
    )


def _conflict(p: Problems, entry: str, m: Mapping[str, Any]) -> Conflict:
    check_keys(p, entry, m, CONFLICT_KEYS)
    return Conflict(
        kind=get_str(p, entry, m, "kind"),
        name=get_str(p, entry, m, "name"),
        explanation=get_str(p, entry, m, "explanation", "", allow_empty=True),
        rules=get_names(p, entry, m, "rules"),
        hosts=get_names(p, entry, m, "hosts"),
        vms=get_names(p, entry, m, "vms"),
    )


def _strings(p: Problems, entry: str, m: Mapping[str, Any], key: str) -> tuple[str, ...]:
    raw = m.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple) or not all(isinstance(s, str) for s in raw):
        p.add(entry, key, f"expected a list of strings, got {describe(raw)}")
        return ()
    return tuple(raw)


def parse_plan(data: Any, source: str) -> Plan:
    """Validate a plan already loaded as a mapping (``source`` names it in messages)."""
    p = Problems(source)
    if not isinstance(data, Mapping):
        p.add("", "", f"expected a plan mapping, got {describe(data)}")
        p.raise_if_any()
    check_keys(p, "", data, PLAN_KEYS)
    fmt = data.get("format")
    if fmt != PLAN_FORMAT:
        p.add("", "format", f"expected {PLAN_FORMAT!r}, got {describe(fmt)}")
    status = get_str(p, "", data, "status", choices=_STATUSES, what="status")
    placement = _name_map(p, data, "placement", required=True) or {}
    host_states = _host_states(p, data, required=True) or {}
    migrations = tuple(_migration(p, e, m) for e, m in _entry_list(p, data, "migrations"))
    actions = []
    for entry, m in _entry_list(p, data, "power_actions"):
        check_keys(p, entry, m, POWER_ACTION_KEYS)
        action = get_str(p, entry, m, "action", choices=_ACTIONS, what="power action")
        actions.append(
            PowerAction(
                host=get_str(p, entry, m, "host"),
                action=PowerActionKind(action) if action else PowerActionKind.POWER_ON,
                at_s=get_number(p, entry, m, "at_s", minimum=0, maximum=MAX_PLAN_TIME_S),
            )
        )
    violations = []
    for entry, m in _entry_list(p, data, "violations"):
        check_keys(p, entry, m, VIOLATION_KEYS)
        violations.append(
            Violation(
                rule=get_str(p, entry, m, "rule"),
                priority=get_int(p, entry, m, "priority", minimum=1, maximum=3),
                vms=_strings(p, entry, m, "vms"),
                detail=get_str(p, entry, m, "detail", "", allow_empty=True),
            )
        )
    unmovable = []
    for entry, m in _entry_list(p, data, "unmovable"):
        check_keys(p, entry, m, UNMOVABLE_KEYS)
        unmovable.append(Unmovable(vm=get_str(p, entry, m, "vm"), reasons=_strings(p, entry, m, "reasons")))
    conflicts = tuple(_conflict(p, e, m) for e, m in _entry_list(p, data, "conflicts"))
    metrics = get_mapping(p, "", data, "metrics", "metrics") or {}
    cluster = get_str(p, "", data, "cluster", "", allow_empty=True)
    p.raise_if_any()
    return Plan(
        cluster=cluster,
        status=PlanStatus(status),
        placement=placement,
        host_states=host_states,
        migrations=migrations,
        power_actions=tuple(actions),
        violations=tuple(violations),
        unmovable=tuple(unmovable),
        conflicts=conflicts,
        metrics=dict(metrics),
    )


def read_plan(path: str | Path) -> Plan:
    """Read and validate a plan JSON file (docs/plan.md)."""
    return parse_plan(load_document(Path(path), str(path)), str(path))


def read_target(path: str | Path) -> tuple[dict[str, str], dict[str, str] | None]:
    """A target placement (VM -> host) and optional host states, from a JSON or YAML file.

    Only ``placement`` and ``host_states`` are read, so a whole plan file is a valid target.
    Names are not checked against an inventory here; the caller knows the inventory.
    """
    shown = str(path)
    data = load_document(Path(path), shown)
    p = Problems(shown)
    if not isinstance(data, Mapping):
        raise InputError(
            [Problem(shown, "", "", f"expected a mapping with a placement, got {describe(data)}")]
        )
    if data.get("format") == PLAN_FORMAT and data.get("status") == PlanStatus.INFEASIBLE.value:
        # Its placement is empty by the contract: every VM would be reported missing, one by one.
        p.add("", "status", "an infeasible plan has no placement to reach; its conflicts say why")
        p.raise_if_any()
    placement = _name_map(p, data, "placement", required=True)
    host_states = _host_states(p, data, required=False)
    p.raise_if_any()
    return placement or {}, host_states

"""The form of the plan metrics a report reads, checked before it reads them.

``scheduler verify`` does not check ``metrics`` (docs/plan.md: extra keys anywhere under it are
accepted), so a plan another tool wrote, or one edited by hand, can pass it with a
``solve_time_s`` of ``"abc"`` or a host row without a name. The report reads those fields, and
without this check it failed on them with a traceback. Each field is optional (absent or null);
one given in another form is an input error naming the plan file and the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scheduler.errors import InputError, Problem
from scheduler.model import Plan

Found = list[tuple[str, str]]  # (field, what is wrong)
Check = Callable[[Any, str, Found], None]


def _number(value: Any, where: str, out: Found) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        out.append((where, f"expected a number, got {value!r}"[:200]))


def _measured(value: Any, where: str, out: Found) -> None:
    """A host's own figure: a number, never null (the report draws it)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        out.append((where, f"expected a number, got {value!r}"[:200]))


def _text(value: Any, where: str, out: Found) -> None:
    if value is not None and not isinstance(value, str):
        out.append((where, f"expected a string, got {value!r}"[:200]))


def _flag(value: Any, where: str, out: Found) -> None:
    if value is not None and not isinstance(value, bool):
        out.append((where, f"expected true or false, got {value!r}"[:200]))


def _record(fields: Mapping[str, Check], rest: Check | None = None) -> Check:
    """A mapping whose listed keys have their own check (``rest`` for any other key)."""

    def check(value: Any, where: str, out: Found) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            out.append((where, f"expected a mapping, got {type(value).__name__}"))
            return
        for key, item in value.items():
            inner = fields.get(str(key), rest)
            if inner is not None:
                inner(item, f"{where}.{key}", out)

    return check


def _items(each: Check) -> Check:
    def check(value: Any, where: str, out: Found) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            out.append((where, f"expected a list, got {type(value).__name__}"))
            return
        for i, item in enumerate(value):
            each(item, f"{where}[{i}]", out)

    return check


def _named(value: Any, where: str, out: Found) -> None:
    """A host row: a mapping with a name."""
    if isinstance(value, dict) and not isinstance(value.get("name"), str):
        out.append((f"{where}.name", f"expected the host's name, got {value.get('name')!r}"[:200]))
    _HOST_ROW(value, where, out)


_PER_RESOURCE = _record({}, _number)


def _checked_apart(value: Any, where: str, out: Found) -> None:
    """A field another check covers (a host row's name, by ``_named``)."""


_HOST_ROW = _record({"name": _checked_apart, "state": _text, "powered": _flag}, _measured)
_STATE = _record(
    {
        "hosts": _items(_named),
        "imbalance": _PER_RESOURCE,
        "max_utilization": _PER_RESOURCE,
        "min_utilization": _PER_RESOURCE,
        "mean_utilization": _PER_RESOURCE,
        "drs_balanced": _flag,
        "rules": _record({}, _record({}, _number)),
    },
    _number,
)
_METRICS = _record(
    {
        "solve_time_s": _number,
        "notes": _items(_text),
        "levels": _items(_record({"level": _text, "unit": _text, "optimal": _flag}, _number)),
        "lower_bounds": _record(
            {
                "imbalance": _PER_RESOURCE,
                "max_utilization": _PER_RESOURCE,
                "max_utilization_compat": _PER_RESOURCE,
                "hosts": _record({}, _number),
                "hosts_dpm_target": _record({}, _number),
            },
            _number,
        ),
        "schedule": _record(
            {
                "makespan_s": _number,
                "lower_bound_s": _number,
                "total_migration_s": _number,
                "total_transferred_mib": _number,
            }
        ),
        "before": _STATE,
        "after": _STATE,
    }
)


def check_metrics_form(plan: Plan, source: str = "plan") -> None:
    """Raise ``InputError`` naming ``source`` and each field of ``plan.metrics`` the report reads
    that is given in a form it cannot read (``policy`` is read field by field, each field in
    another form keeping the inventory's value, so it is not checked here)."""
    found: Found = []
    _METRICS(plan.metrics, "metrics", found)
    if found:
        raise InputError([Problem(source, "", where, message) for where, message in found])

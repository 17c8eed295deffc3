"""The plan metrics a report reads are checked for form first: an input error, not a traceback."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from scheduler.errors import InputError
from scheduler.model import Instance, Plan
from scheduler.report import build_report
from scheduler.report.frames import planned_policy
from scheduler.report.metrics_form import check_metrics_form


def test_the_optimizers_own_metrics_pass(demo_plan: Plan):
    check_metrics_form(demo_plan)


def _with(plan: Plan, **metrics: Any) -> Plan:
    return dataclasses.replace(plan, metrics={**plan.metrics, **metrics})


@pytest.mark.parametrize(
    ("metrics", "field"),
    [
        ({"solve_time_s": "abc"}, "metrics.solve_time_s"),
        ({"notes": 5}, "metrics.notes"),
        ({"lower_bounds": [1]}, "metrics.lower_bounds"),
        ({"schedule": "x"}, "metrics.schedule"),
        ({"levels": [{"level": "drs", "value": "high"}]}, "metrics.levels[0].value"),
        ({"after": {"hosts": "abc"}}, "metrics.after.hosts"),
        ({"after": {"hosts": [{"cpu_utilization": 0.5}]}}, "metrics.after.hosts[0].name"),
        (
            {"before": {"hosts": [{"name": "cna-01", "memory_utilization": None}]}},
            "metrics.before.hosts[0].memory_utilization",
        ),
        ({"before": {"imbalance": 0.2}}, "metrics.before.imbalance"),
    ],
)
def test_a_field_the_report_reads_in_another_form_is_an_input_error_naming_it(
    demo: Instance, demo_plan: Plan, metrics: dict[str, Any], field: str
):
    plan = _with(demo_plan, **metrics)
    with pytest.raises(InputError) as info:
        build_report(demo, plan, dpi=30)
    assert [(p.file, p.field) for p in info.value.problems] == [("plan", field)]


def test_nulls_stand_for_absent_figures(demo: Instance, demo_plan: Plan):
    """A bound or figure given as null is one the plan does not have: no error."""
    plan = _with(demo_plan, solve_time_s=None, schedule={"makespan_s": None}, lower_bounds={"watts": None})
    build_report(demo, plan, dpi=30)


def test_policy_values_no_inventory_may_hold_keep_the_inventorys(demo: Instance, demo_plan: Plan):
    policy = {
        "dpm": {"enabled": True, "threshold": 99, "target_utilization": [5, -1], "min_hosts_on": 10**30}
    }
    dpm = planned_policy(demo, _with(demo_plan, policy=policy)).dpm
    assert dpm.enabled
    assert (dpm.threshold, dpm.target_utilization, dpm.min_hosts_on) == (
        demo.policy.dpm.threshold,
        demo.policy.dpm.target_utilization,
        demo.policy.dpm.min_hosts_on,
    )

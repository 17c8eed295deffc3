"""``to_frames``: tidy tables that agree with the plan they come from."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from scheduler.errors import InputError
from scheduler.model import Instance, Measure, Plan
from scheduler.report import to_frames
from scheduler.report.frames import (
    HOST_COLUMNS,
    METRIC_COLUMNS,
    MIGRATION_COLUMNS,
    VM_COLUMNS,
    planned_policy,
    policy_differences,
)


def test_frames_have_one_row_per_host_state_vm_and_move(demo: Instance, demo_plan: Plan):
    """Hosts twice (before, after), every VM once, every move once, with the documented columns."""
    f = to_frames(demo, demo_plan)
    assert tuple(f.hosts.columns) == HOST_COLUMNS
    assert tuple(f.vms.columns) == VM_COLUMNS
    assert tuple(f.migrations.columns) == MIGRATION_COLUMNS
    assert tuple(f.metrics.columns) == METRIC_COLUMNS
    assert len(f.hosts) == 2 * demo.num_hosts
    assert sorted(f.hosts["when"].unique()) == ["after", "before"]
    assert len(f.vms) == demo.num_vms
    assert len(f.migrations) == len(demo_plan.migrations)
    assert int(f.vms["moved"].sum()) == len(demo_plan.migrations)
    assert len(f.rules) == len(demo.rules)


def test_vm_rows_follow_the_plan(demo: Instance, demo_plan: Plan):
    """A moved VM's hosts are its move's source and target; an unmoved VM stays where it was."""
    f = to_frames(demo, demo_plan).vms.set_index("vm")
    for m in demo_plan.migrations:
        assert f.loc[m.vm, "host_before"] == m.source
        assert f.loc[m.vm, "host_after"] == m.target
        assert f.loc[m.vm, "reason"] == m.reason.value
    still = f[~f["moved"]]
    assert (still["host_before"] == still["host_after"]).all()
    assert f.loc["usb-licence-01", "unmovable"]


def test_migration_durations_match_their_estimates(demo: Instance, demo_plan: Plan):
    m = to_frames(demo, demo_plan).migrations
    assert (m["duration_s"] - m["total_s"]).abs().max() < 1e-6


def test_metrics_table_reports_the_plans_numbers(demo: Instance, demo_plan: Plan):
    """Before / after come from the plan's metrics; utilization is shown in percent."""
    metrics = to_frames(demo, demo_plan).metrics.set_index("indicator")
    after = demo_plan.metrics["after"]
    assert metrics.loc["DRS imbalance", "after"] == pytest.approx(after["drs_imbalance"])
    assert metrics.loc["max utilization cpu", "after"] == pytest.approx(100 * after["max_utilization"]["cpu"])
    assert metrics.loc["max utilization cpu", "unit"] == "%"
    assert metrics.loc["hosts up", "lower_bound"] == demo_plan.metrics["lower_bounds"]["hosts"]["best"]
    assert metrics.loc["migrations", "after"] == len(demo_plan.migrations)


def test_metrics_are_recomputed_when_the_plan_has_none(demo: Instance, demo_plan: Plan):
    """A plan written by another tool may carry no metrics; the same numbers come from the inventory."""
    bare = dataclasses.replace(demo_plan, metrics={})
    hosts = to_frames(demo, bare).hosts
    ours = to_frames(demo, demo_plan).hosts
    assert hosts["cpu_utilization"].to_numpy() == pytest.approx(ours["cpu_utilization"].to_numpy())


def test_infeasible_plan_has_no_after_state(demo: Instance, infeasible_plan: Plan):
    f = to_frames(demo, infeasible_plan)
    assert set(f.hosts["when"]) == {"before"}
    assert f.vms["host_after"].isna().all()
    assert f.migrations.empty


def test_power_actions_become_rows(demo: Instance, power_plan: Plan):
    power = to_frames(demo, power_plan).power
    assert list(power["action"]) == ["power_on", "power_off"]
    assert list(power["at_s"]) == [0.0, 430.0]


def test_a_plan_for_another_inventory_is_an_input_error(demo: Instance, demo_plan: Plan):
    """Unknown VM and host names are reported together, each with its entry."""
    wrong = dataclasses.replace(demo_plan, placement={**demo_plan.placement, "ghost-01": "cna-99"})
    with pytest.raises(InputError) as info:
        to_frames(demo, wrong)
    fields = {(p.entry, p.field) for p in info.value.problems}
    assert ("placement.ghost-01", "vm") in fields
    assert ("placement.ghost-01", "host") in fields


def test_report_package_never_imports_ortools():
    """The report is made from files alone: no solver in ``scheduler.report`` or its command."""
    code = (
        "import sys, scheduler.report, scheduler.cli.report; "
        "bad = [m for m in sys.modules if m.split('.')[0] == 'ortools']; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _recording(plan: Plan, policy: object) -> Plan:
    return dataclasses.replace(plan, metrics={**plan.metrics, "policy": policy})


def test_planned_policy_is_the_one_the_plan_records(demo: Instance, demo_plan: Plan):
    """``plan --dpm --threshold 4 --measure cpu`` on an inventory with DPM off, threshold 3."""
    recorded = _recording(
        demo_plan,
        {
            "drs": {"enabled": True, "threshold": 4, "measure": "cpu"},
            "dpm": {"enabled": True, "threshold": 3, "target_utilization": [0.5, 0.8], "min_hosts_on": 3},
        },
    )
    policy = planned_policy(demo, recorded)
    assert (policy.drs.threshold, policy.drs.measure) == (4, Measure.CPU)
    assert policy.dpm.enabled
    assert policy.dpm.target_utilization == (0.5, 0.8)
    assert policy.dpm.min_hosts_on == 3
    assert policy_differences(demo, recorded) == [
        "planned with DRS threshold 4; the inventory has 3",
        "planned with DRS measure cpu; the inventory has cpu_memory",
        "planned with DPM on; the inventory has it off",
    ]


@pytest.mark.parametrize("policy", [None, "dpm on", {"dpm": {"enabled": "yes"}, "drs": {"threshold": 9}}])
def test_planned_policy_falls_back_to_the_inventorys(demo: Instance, demo_plan: Plan, policy: object):
    """A plan without ``metrics.policy`` (older, or another tool's) or with values not understood."""
    plan = dataclasses.replace(
        demo_plan, metrics={k: v for k, v in demo_plan.metrics.items() if k != "policy"}
    )
    if policy is not None:
        plan = _recording(plan, policy)
    assert planned_policy(demo, plan) == demo.policy
    assert policy_differences(demo, plan) == []


def test_hosts_up_bound_follows_the_planned_dpm(demo: Instance, demo_plan: Plan):
    """With DPM on as planned, the bound is the one packed to DPM's target (hosts_dpm_target)."""
    bounds = demo_plan.metrics["lower_bounds"]
    assert bounds["hosts_dpm_target"]["best"] != bounds["hosts"]["best"]
    metrics = to_frames(demo, _recording(demo_plan, {"dpm": {"enabled": True}})).metrics.set_index(
        "indicator"
    )
    assert metrics.loc["hosts up", "lower_bound"] == bounds["hosts_dpm_target"]["best"]


def test_max_utilization_bound_is_the_compatibility_aware_one(demo: Instance, demo_plan: Plan):
    """The bound the optimizer's peak note quotes (each VM only on hosts it may use), not the fluid one."""
    bounds = demo_plan.metrics["lower_bounds"]
    assert bounds["max_utilization_compat"]["cpu"] > bounds["max_utilization"]["cpu"]
    metrics = to_frames(demo, demo_plan).metrics.set_index("indicator")
    assert metrics.loc["max utilization cpu", "lower_bound"] == pytest.approx(
        100 * bounds["max_utilization_compat"]["cpu"]
    )
    older = dataclasses.replace(
        demo_plan,
        metrics={
            **demo_plan.metrics,
            "lower_bounds": {k: v for k, v in bounds.items() if k != "max_utilization_compat"},
        },
    )
    metrics = to_frames(demo, older).metrics.set_index("indicator")
    assert metrics.loc["max utilization cpu", "lower_bound"] == pytest.approx(
        100 * bounds["max_utilization"]["cpu"]
    )


def test_data_transferred_is_in_gib(demo: Instance, demo_plan: Plan):
    """One unit for data throughout the report: GiB, as the moves table and summary give it."""
    row = to_frames(demo, demo_plan).metrics.set_index("indicator").loc["data transferred"]
    assert row["unit"] == "GiB"
    assert row["after"] == pytest.approx(demo_plan.metrics["schedule"]["total_transferred_mib"] / 1024)

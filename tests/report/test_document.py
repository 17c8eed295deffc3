"""``build_report``: what the report says, checked against the plan it is made from."""

from __future__ import annotations

import dataclasses
import re

import pytest

from scheduler.model import UNSAFE_MIGRATION, Instance, Plan, Unmovable
from scheduler.report import Report, Section, build_report
from scheduler.report.document import _fmt
from scheduler.solver.result import COST_UNIT, level_amount


def _sections(report: Report) -> dict[str, Section]:
    return {s.key: s for s in report.sections}


def _text(section: Section) -> str:
    return " ".join(section.paragraphs)


def _rows(section: Section, caption_start: str) -> dict[str, tuple[str, ...]]:
    table = next(t for t in section.tables if t.caption.startswith(caption_start))
    return {row[0]: row for row in table.rows}


@pytest.fixture(scope="module")
def demo_report(demo: Instance, demo_plan: Plan) -> dict[str, Section]:
    return _sections(build_report(demo, demo_plan, dpi=30))


def test_a_plan_made_with_dpm_is_reported_with_dpm(demo: Instance, demo_plan: Plan):
    """``plan --dpm`` on an inventory with DPM off: the Summary, the DPM level, the hosts-up bound
    and the utilization text all follow the plan, and the Summary says the inventory differs."""
    recorded = dataclasses.replace(
        demo_plan, metrics={**demo_plan.metrics, "policy": {"dpm": {"enabled": True, "min_hosts_on": 2}}}
    )
    sections = _sections(build_report(demo, recorded, dpi=30))
    summary = _text(sections["summary"])
    assert "DPM on (target 45%–81%, at least 2 hosts on)" in summary
    assert "Planned with DPM on; the inventory has it off." in summary
    assert "dpm hosts on" in _rows(sections["summary"], "Objective levels")
    hosts_up = _rows(sections["metrics"], "Cluster indicators")["hosts up"]
    assert hosts_up[3] == str(demo_plan.metrics["lower_bounds"]["hosts_dpm_target"]["best"])
    assert "The green band is DPM's target utilization." in _text(sections["utilization"])


def test_dpm_level_is_hidden_when_dpm_was_off(demo_report: dict[str, Section]):
    """With DPM off the optimizer's "dpm hosts on" level is a constant, not an objective."""
    summary = _text(demo_report["summary"])
    assert "DPM off" in summary
    assert "Planned with" not in summary
    assert "dpm hosts on" not in _rows(demo_report["summary"], "Objective levels")


def test_levels_read_as_the_plan_command_prints_them(demo_report: dict[str, Section], demo_plan: Plan):
    """Migration cost in seconds, not 0.1 s units; the caption's promise is qualified for the DRS
    level's gap, and the cost is told apart from the scheduled migration time."""
    cost = next(lv for lv in demo_plan.metrics["levels"] if lv["level"] == "migration cost")
    row = _rows(demo_report["summary"], "Objective levels")["migration cost"]
    assert row[1] == level_amount(cost["value"], COST_UNIT)
    assert row[1].endswith(" s")
    summary = _text(demo_report["summary"])
    assert "within its 1 % relative gap" in summary
    assert "alone on a free link" in summary


def test_numbers_keep_their_decimals_in_a_column(demo_report: dict[str, Section]):
    """ "0.0" beside "113.8", never "0"; counts without decimals."""
    assert _fmt(0.0, 1) == "0.0"
    assert _fmt(4.0, 1) == "4.0"
    rows = _rows(demo_report["metrics"], "Cluster indicators")
    assert rows["makespan"][1] == "0.0"
    assert re.fullmatch(r"[\d,]+\.\d", rows["makespan"][2])
    assert "." not in rows["hosts up"][1] + rows["hosts up"][2]
    assert rows["data transferred"][4] == "GiB"


def test_counts_are_singular_for_one(demo: Instance, power_plan: Plan):
    one = dataclasses.replace(power_plan, power_actions=power_plan.power_actions[:1])
    summary = _text(_sections(build_report(demo, one, dpi=30))["summary"])
    assert "2 migrations and 1 power action," in summary


def test_notes_give_utilization_in_percent(demo_report: dict[str, Section]):
    """The optimizer's peak note is in fractions; the report shows % as its tables do."""
    notes = [p for p in demo_report["summary"].paragraphs if "peak cap" in p]
    assert notes
    assert all("%" in n and " 0." not in n for n in notes)


def test_max_utilization_bound_is_named(demo_report: dict[str, Section]):
    assert "compatibility-aware" in _text(demo_report["metrics"])


def test_metrics_name_the_hosts_before_leaves_out(demo_report: dict[str, Section]):
    """cna-07 is in maintenance with VMs on it: shown in the figure, not counted in 'before'."""
    text = _text(demo_report["metrics"])
    assert "Left out of 'before' although it holds VMs: cna-07 (maintenance), at 21.6 % CPU." in text
    assert "over the hosts up" in next(iter(demo_report["metrics"].tables)).caption


def test_infeasible_bounds_say_why_there_is_no_plan(demo: Instance, infeasible_plan: Plan):
    """Bounds beyond the usable hosts are the reason, not a target "every plan" can reach."""
    metrics = {
        "lower_bounds": {
            "max_utilization": {"cpu": 1.02, "memory": 0.7},
            "max_utilization_compat": {"cpu": 1.834, "memory": 0.8},
            "hosts": {"best": 5},
            "usable_hosts": 4,
        }
    }
    sections = _sections(build_report(demo, dataclasses.replace(infeasible_plan, metrics=metrics), dpi=30))
    text = _text(sections["metrics"])
    assert "hold for every plan" not in text
    assert "exceed what the usable hosts (up or standby) can hold, which is why" in text
    assert "max utilization cpu at least 183.4 % (over 100 %)" in text
    assert "at least 5 hosts up, of 4 usable" in text
    assert "memory at least" not in text
    captions = [f.caption for f in sections["utilization"].figures]
    assert all("before; the inventory is infeasible, no plan" in c for c in captions)
    assert "infeasible" in _text(sections["migrations"])


def test_infeasible_without_bounds_points_to_the_conflicts(demo: Instance, infeasible_plan: Plan):
    text = _text(_sections(build_report(demo, infeasible_plan, dpi=30))["metrics"])
    assert "the cause is in the conflicts below" in text


def test_drs_band_is_a_guide_not_a_verdict(demo_report: dict[str, Section]):
    """DRS calls the cluster balanced on the std-dev; a host outside the band is not by itself imbalance."""
    text = _text(demo_report["utilization"])
    assert "count as balanced" not in text
    assert "not by itself an imbalance" in text


def test_rules_state_the_objective_order_and_both_modes(demo_report: dict[str, Section]):
    text = _text(demo_report["rules"])
    assert "priority-2 rules, DPM (hosts on), priority-3 rules, DRS balance, migration cost" in text
    assert "3: VM-host should / should not" in _rows(demo_report["rules"], "Rules broken")


def test_the_summary_states_the_checkers_verdict_only_when_given(demo: Instance, demo_plan: Plan):
    """The report does not check: it states the verdict it is handed, timing included or not."""
    from scheduler.check import verify_plan

    def summary(**kwargs: object) -> str:
        return _text(_sections(build_report(demo, demo_plan, dpi=30, **kwargs))["summary"])  # type: ignore[arg-type]

    assert "Checked:" not in summary()
    passed = summary(verdict=verify_plan(demo, demo_plan))
    assert "Checked: the plan passed the solver-free checker" in passed
    assert "re-simulated on the shared host links" in passed
    untimed = summary(verdict=verify_plan(demo, demo_plan, timing=False))
    assert "timing was taken as given" in untimed
    late = dataclasses.replace(demo_plan.migrations[0], end_s=demo_plan.migrations[0].end_s + 60.0)
    doctored = dataclasses.replace(demo_plan, migrations=(late, *demo_plan.migrations[1:]))
    failed = summary(verdict=verify_plan(demo, doctored))
    found = r"Checked: the solver-free checker \(`scheduler verify`\) finds \d+ problems? in this plan"
    assert re.search(found, failed)


def test_an_infeasible_plans_verdict_claims_no_replay(demo: Instance, infeasible_plan: Plan):
    """verify does not replay an infeasible plan: the Summary must not say it did."""
    from scheduler.check import verify_plan

    verdict = verify_plan(demo, infeasible_plan)
    text = _text(_sections(build_report(demo, infeasible_plan, dpi=30, verdict=verdict))["summary"])
    assert "an infeasible plan has nothing to replay" in text
    assert "replayed" not in text
    assert "re-simulated" not in text


def test_vms_whose_migration_is_not_safe_are_not_listed_as_unable_to_move(demo: Instance, demo_plan: Plan):
    unsafe = Unmovable(
        "web-01", (f"{UNSAFE_MIGRATION} under qemu (900 MiB/s dirtied, 8,192 MiB): moved only when it must",)
    )
    pinned = Unmovable("usb-01", ("pinned to its host",))
    plan = dataclasses.replace(demo_plan, unmovable=(pinned, unsafe))
    section = _sections(build_report(demo, plan, dpi=30))["unmovable"]
    assert list(_rows(section, "VMs that cannot move at all")) == ["usb-01"]
    assert list(_rows(section, "VMs moved only when they must")) == ["web-01"]
    assert "1 VM(s) cannot move" in _text(section)
    assert "1 move only when they must" in _text(section)


def test_no_drs_band_is_promised_at_threshold_1(demo: Instance):
    """Threshold 1 has no tolerance, so no band is drawn, and neither text nor captions say one is."""
    from scheduler.pipeline import make_plan
    from scheduler.solver.options import SolveOptions
    from scheduler.what_if import with_what_if

    at_1 = with_what_if(demo, threshold=1)
    plan = make_plan(at_1, SolveOptions(time_limit_s=3, num_workers=2)).plan
    section = _sections(build_report(at_1, plan, dpi=30))["utilization"]
    assert "shaded orange band" not in _text(section)
    assert "No DRS tolerance band is drawn" in _text(section)
    assert section.figures
    assert not any("tolerance band" in f.caption for f in section.figures)


def test_bounds_are_not_described_where_the_plan_has_none(demo: Instance, demo_plan: Plan):
    """A plan from ``scheduler schedule`` carries no max utilization bound: none is described."""
    plan = dataclasses.replace(
        demo_plan, metrics={k: v for k, v in demo_plan.metrics.items() if k != "lower_bounds"}
    )
    text = _text(_sections(build_report(demo, plan, dpi=30))["metrics"])
    assert "max utilization bound" not in text

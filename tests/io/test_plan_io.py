"""Plan documents (docs/plan.md) and targets: write, read back, and located input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scheduler.errors import InputError
from scheduler.io import plan_to_dict, read_plan, read_target, write_plan
from scheduler.model import (
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


def sample_plan() -> Plan:
    estimate = MigrationEstimateRecord(
        41.2, 180.0, 41000.0, 6, True, extra={"hypervisor": "qemu", "rounds": [1, 2]}
    )
    return Plan(
        cluster="demo",
        status=PlanStatus.FEASIBLE,
        placement={"db-01": "cna-02", "web-01": "cna-01"},
        host_states={"cna-01": "up", "cna-02": "up", "cna-05": "standby"},
        migrations=(Migration("db-01", "cna-01", "cna-02", 0.0, 41.2, MoveReason.DRS, estimate),),
        power_actions=(PowerAction("cna-05", PowerActionKind.POWER_OFF, 95.0),),
        violations=(Violation("web-near-db", 3, ("web-01",), "yields to db-licence"),),
        unmovable=(Unmovable("usb-01", ("has devices: usb",)),),
        metrics={
            "before": {"imbalance": 0.3},
            "after": {"imbalance": 0.1},
            "lower_bounds": {},
            "solve_time_s": 1.5,
        },
    )


def test_plan_round_trips(tmp_path: Path) -> None:
    plan = sample_plan()
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    assert read_plan(path) == plan


def test_plan_has_the_contract_shape(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), path)
    doc = json.loads(path.read_text())
    assert list(doc)[:3] == ["format", "cluster", "status"]
    assert doc["format"] == PLAN_FORMAT
    assert "conflicts" not in doc  # only an infeasible plan carries conflicts
    move = doc["migrations"][0]
    assert move["estimate"] == {
        "total_s": 41.2,
        "downtime_ms": 180.0,
        "transferred_mib": 41000.0,
        "iterations": 6,
        "converges": True,
        "hypervisor": "qemu",
        "rounds": [1, 2],
    }
    assert move["end_s"] - move["start_s"] == move["estimate"]["total_s"]


def test_infeasible_plan_carries_conflicts(tmp_path: Path) -> None:
    plan = Plan(
        cluster="c",
        status=PlanStatus.INFEASIBLE,
        placement={},
        host_states={},
        conflicts=(
            Conflict("rule", "db-licence", "three DBs, two licensed hosts", rules=("db-licence", "db-apart")),
        ),
    )
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    assert json.loads(path.read_text())["conflicts"][0]["rules"] == ["db-licence", "db-apart"]
    assert read_plan(path) == plan


def test_non_finite_metrics_are_written_as_null() -> None:
    """JSON has no infinity; an unknown bound is written as null rather than breaking the file."""
    plan = Plan("c", PlanStatus.OPTIMAL, {}, {}, metrics={"lower_bounds": {"moves": float("inf")}})
    assert plan_to_dict(plan)["metrics"] == {"lower_bounds": {"moves": None}}


def test_plan_file_is_a_valid_target(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), path)
    placement, states = read_target(path)
    assert placement == {"db-01": "cna-02", "web-01": "cna-01"}
    assert states == {"cna-01": "up", "cna-02": "up", "cna-05": "standby"}


def test_yaml_target_without_host_states(tmp_path: Path) -> None:
    path = tmp_path / "target.yaml"
    path.write_text("placement:\n  a: h1\n  b: h2\n")
    assert read_target(path) == ({"a": "h1", "b": "h2"}, None)


def test_target_errors_are_located(tmp_path: Path) -> None:
    path = tmp_path / "target.yaml"
    path.write_text("placement:\n  a: 3\nhost_states: {h1: asleep}\n")
    with pytest.raises(InputError) as info:
        read_target(path)
    shown = {str(p) for p in info.value.problems}
    assert f"{path}: placement: a: expected a name (string), got 3" in shown
    assert any(s.startswith(f"{path}: host_states: h1: unknown host state 'asleep'") for s in shown)


def test_an_infeasible_plan_is_no_target(tmp_path: Path) -> None:
    """Its placement is empty by the contract: one problem says so, not one per VM."""
    doc = plan_to_dict(sample_plan())
    doc.update(status="infeasible", placement={}, migrations=[], power_actions=[], violations=[])
    doc["conflicts"] = [
        {"kind": "rule", "name": "r", "explanation": "x", "rules": [], "hosts": [], "vms": []}
    ]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as info:
        read_target(path)
    (problem,) = info.value.problems
    assert (problem.field, problem.message) == (
        "status",
        "an infeasible plan has no placement to reach; its conflicts say why",
    )


def test_target_without_placement(tmp_path: Path) -> None:
    path = tmp_path / "target.json"
    path.write_text('{"host_states": {}}')
    with pytest.raises(InputError, match="placement: missing"):
        read_target(path)


def test_plan_errors_are_all_reported(tmp_path: Path) -> None:
    doc = plan_to_dict(sample_plan())
    doc["format"] = "scheduler-plan/9"
    doc["status"] = "great"
    doc["migrations"][0]["start_s"] = "soon"
    doc["migrations"][0]["reason"] = "whim"
    doc["migrations"][0]["estimate"]["iterations"] = 2.5
    doc["power_actions"][0]["action"] = "reboot"
    doc["extra_key"] = 1
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as info:
        read_plan(path)
    located = {(p.file, p.entry, p.field) for p in info.value.problems}
    assert located == {
        (str(path), "", "format"),
        (str(path), "", "status"),
        (str(path), "migrations[0]", "start_s"),
        (str(path), "migrations[0]", "reason"),
        (str(path), "migrations[0]", "estimate.iterations"),
        (str(path), "power_actions[0]", "action"),
        (str(path), "", "extra_key"),
    }


def test_times_past_what_the_checker_resolves_are_refused(tmp_path: Path) -> None:
    """At 10^20 s a double cannot hold a migration's seconds: the re-simulation would never end."""
    doc = plan_to_dict(sample_plan())
    doc["migrations"][0]["start_s"] = 1e20
    doc["migrations"][0]["end_s"] = 1e20
    doc["migrations"][0]["estimate"]["total_s"] = 1e9
    doc["power_actions"][0]["at_s"] = 1e20
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as info:
        read_plan(path)
    assert {(p.entry, p.field) for p in info.value.problems} == {
        ("migrations[0]", "start_s"),
        ("migrations[0]", "end_s"),
        ("migrations[0]", "estimate.total_s"),
        ("power_actions[0]", "at_s"),
    }
    assert "must be at most 100,000,000, got 1e+20" in str(info.value)


def test_malformed_plan_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{\n  "format": "scheduler-plan/1",\n  "status": optimal\n}\n')
    with pytest.raises(InputError, match=r"line 3, column 13: malformed JSON"):
        read_plan(path)

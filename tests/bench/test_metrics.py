"""Results rows: every column present, figures recomputed from the plan, failures still rows."""

from __future__ import annotations

import math

import pytest

from scheduler.bench.contenders import Target, contender, finish_target, run_contender
from scheduler.bench.metrics import COLUMNS, RESULT_COLUMNS, error_row, host_detail, run_row
from scheduler.check.metrics import cluster_metrics
from scheduler.model import HostState, Instance

KEY = {"instance": "tiny", "contender": "x", "seed": 0}


def row_of(tiny: Instance, name: str) -> dict[str, object]:
    outcome = run_contender(contender(name), tiny, time_limit_s=1.0, num_workers=1)
    return run_row(KEY, outcome, wall_s=1.0, peak_rss_mib=100.0, peak_rss_delta_mib=5.0)


def test_row_has_every_column_and_recomputed_figures(tiny: Instance) -> None:
    """Moves, seconds and data come from the plan's migrations; balance from the checker."""
    outcome = run_contender(contender("greedy-drs"), tiny, time_limit_s=1.0)
    assert outcome.plan is not None
    row = run_row(KEY, outcome, wall_s=1.0, peak_rss_mib=100.0, peak_rss_delta_mib=5.0)
    assert list(row) == list(COLUMNS)
    moves = outcome.plan.migrations
    assert row["migrations"] == len(moves)
    assert row["migration_s_total"] == pytest.approx(sum(m.end_s - m.start_s for m in moves), abs=1e-2)
    assert row["makespan_s"] == pytest.approx(max(m.end_s for m in moves), abs=1e-2)
    after = cluster_metrics(tiny, outcome.plan.placement, outcome.plan.host_states)
    assert row["drs_imbalance"] == pytest.approx(after.drs_imbalance)
    assert row["hosts_on"] == after.hosts_up
    assert row["violations_p1"] == 0
    assert row["valid"] is True
    assert row["status"] == "feasible"


def test_fluid_gap_is_relative_to_the_lower_bound(tiny: Instance) -> None:
    row = row_of(tiny, "ours-t3")
    for r in ("cpu", "memory"):
        bound = float(row[f"fluid_bound_{r}"])  # type: ignore[arg-type]
        assert float(row[f"max_util_{r}"]) >= bound - 1e-9  # type: ignore[arg-type]
        expected = (float(row[f"max_util_{r}"]) - bound) / bound  # type: ignore[arg-type]
        assert float(row[f"fluid_gap_{r}"]) == pytest.approx(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["ours-t3", "greedy-drs", "ffd-dpm"])
def test_migration_bound_is_at_most_what_the_plan_paid(tiny: Instance, name: str) -> None:
    """The bound prices the balance the row reached; the plan reached it, so it paid at least that."""
    row = row_of(tiny, name)
    assert 0.0 <= float(row["migration_s_bound"]) <= float(row["migration_s_alone"]) + 1e-6  # type: ignore[arg-type]


def test_dpm_row_compares_hosts_on_with_the_l2_bound(tiny: Instance) -> None:
    row = row_of(tiny, "ffd-dpm")
    assert int(row["hosts_bound_l2"]) <= int(row["hosts_on"]) < int(row["hosts_on_before"])  # type: ignore[call-overload]


def test_invalid_target_row_keeps_its_measured_state(tiny: Instance) -> None:
    """An invalid target is a row with status invalid, its findings and its final-state figures."""
    host = next(h.name for h in tiny.hosts if h.state is HostState.UP)
    target = Target({v.name: host for v in tiny.vms}, {h.name: h.state.value for h in tiny.hosts})
    outcome = finish_target("bad", tiny, target)
    row = run_row(KEY, outcome, wall_s=0.1, peak_rss_mib=1.0, peak_rss_delta_mib=0.0)
    assert row["status"] == "invalid"
    assert row["valid"] is False
    assert row["findings"]
    expected = cluster_metrics(tiny, target.placement, target.host_states).max_utilization["cpu"]
    assert float(row["max_util_cpu"]) == pytest.approx(expected)  # type: ignore[arg-type]
    assert row["migrations"] == ""


def test_error_row_is_a_full_row_with_the_message() -> None:
    row = error_row(KEY, "RuntimeError: boom")
    assert list(row) == list(COLUMNS)
    assert row["status"] == "error"
    assert "boom" in str(row["note"])
    assert all(row[c] == "" for c in RESULT_COLUMNS if c != "status")


def test_host_detail_matches_before_and_after(tiny: Instance) -> None:
    outcome = run_contender(contender("greedy-drs"), tiny, time_limit_s=1.0)
    detail = host_detail(outcome)
    assert detail is not None
    assert len(detail["hosts"]) == tiny.num_hosts
    assert not math.isclose(max(detail["cpu_before"]), max(detail["cpu_after"]))

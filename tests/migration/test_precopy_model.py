"""The estimator's inputs and results: the plan record an estimate becomes."""

from __future__ import annotations

from scheduler.migration.precopy import simulate
from scheduler.migration.precopy_model import MigrationInput
from scheduler.model import MigrationEstimateRecord


def test_record_carries_the_extras() -> None:
    """``to_record`` fills the plan's five keys and keeps the rest in ``extra``."""
    est = simulate(MigrationInput(memory_mib=2048, dirty_rate_mibps=20))
    record = est.to_record()
    assert isinstance(record, MigrationEstimateRecord)
    assert record.total_s == est.total_s
    assert record.iterations == est.iterations
    assert {"outcome", "margin", "high_risk", "failure_action", "abort_cost_s"} <= set(record.extra)

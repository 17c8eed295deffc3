"""How a level's value reads in progress lines and the plan summary."""

from __future__ import annotations

from scheduler.solver.result import COST_UNIT, level_amount


def test_migration_cost_reads_in_seconds_and_counts_with_separators():
    assert level_amount(1902, COST_UNIT) == "190.2 s"
    assert (
        level_amount(1152560.0, "variance units beyond tolerance")
        == "1,152,560 variance units beyond tolerance"
    )
    assert level_amount(2.5, "hosts") == "2.50 hosts"


def test_a_bound_next_to_its_value_may_leave_the_unit_out():
    assert level_amount(1152555, "variance units beyond tolerance", named=False) == "1,152,555"
    assert level_amount(1867, COST_UNIT, named=False) == "186.7 s"  # seconds always say so

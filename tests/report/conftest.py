"""Shared fixtures of the report tests: the demo plan (solved once per worker) and hand-made plans."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

from scheduler.io import read_inventory
from scheduler.model import (
    Conflict,
    Instance,
    Migration,
    MigrationEstimateRecord,
    MoveReason,
    Plan,
    PlanStatus,
    PowerAction,
    PowerActionKind,
)

matplotlib.use("Agg")  # tests draw without a display

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "demo.yaml"


@pytest.fixture(scope="session")
def demo() -> Instance:
    """The bundled 8-host demo cluster."""
    return read_inventory(DEMO)


@pytest.fixture(scope="session")
def demo_plan(demo: Instance) -> Plan:
    """The optimizer's plan for the demo (a few seconds of search; verified by ``make_plan``)."""
    from scheduler.pipeline import make_plan
    from scheduler.solver.options import SolveOptions

    return make_plan(demo, SolveOptions(time_limit_s=5, num_workers=2)).plan


def _estimate(total_s: float, converges: bool = True) -> MigrationEstimateRecord:
    return MigrationEstimateRecord(total_s, 120.0, 4096.0, 3, converges)


@pytest.fixture
def power_plan(demo: Instance) -> Plan:
    """A hand-made plan: power cna-08 on, move two VMs onto it (one not converging), power cna-07 off."""
    placement = {v.name: v.host or "" for v in demo.vms}
    placement["svc-01"] = "cna-08"
    placement["svc-02"] = "cna-08"
    moves = (
        Migration("svc-01", "cna-07", "cna-08", 300.0, 340.0, MoveReason.MAINTENANCE, _estimate(40.0)),
        Migration(
            "svc-02", "cna-07", "cna-08", 300.0, 420.0, MoveReason.DPM, _estimate(120.0, converges=False)
        ),
    )
    return Plan(
        cluster=demo.name,
        status=PlanStatus.FEASIBLE,
        placement=placement,
        host_states={h.name: "up" for h in demo.hosts},
        migrations=moves,
        power_actions=(
            PowerAction("cna-08", PowerActionKind.POWER_ON, 0.0),
            PowerAction("cna-07", PowerActionKind.POWER_OFF, 430.0),
        ),
    )


@pytest.fixture
def infeasible_plan(demo: Instance) -> Plan:
    """An infeasible plan: no placement, one conflict."""
    return Plan(
        cluster=demo.name,
        status=PlanStatus.INFEASIBLE,
        placement={},
        host_states={h.name: h.state.value for h in demo.hosts},
        conflicts=(Conflict("rule", "db-apart", "three databases, two licensed hosts", rules=("db-apart",)),),
    )

"""The whole-plan verdict: the acceptance list of the checker (docs/inventory.md and docs/plan.md)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

from scheduler.check import VerificationReport, verify_plan
from scheduler.model import Conflict, HostState, Instance, Plan, PlanStatus, Violation

from .factories import host, make_instance, make_plan, move, power_off, vm


def verify(instance: Instance, plan: Plan) -> VerificationReport:
    """The verdict on a plan whose move times are set by hand, not by the pre-copy model: the
    re-simulation of the timing is left out (``test_timing.py`` covers it)."""
    return verify_plan(instance, plan, timing=False)


def test_accepts_a_correct_hand_written_plan(trio: Instance) -> None:
    """c to h3 at 0, a to h2 once c is gone (10), b stays: h1 4,000, h2 4,000, h3 7,000 MHz."""
    plan = make_plan(trio, [move("c", "h2", "h3", 0.0, 20.0), move("a", "h1", "h2", 20.0, 15.0)])
    report = verify(trio, plan)
    assert report.valid, str(report)
    assert report.findings == []
    assert str(report) == "plan is valid"


def test_accepts_a_dpm_plan_that_empties_and_powers_off_a_host(trio: Instance) -> None:
    """c moves to h3 over [0, 10) and h2 powers off at 10, the moment it is empty."""
    plan = make_plan(trio, [move("c", "h2", "h3", 0.0)], [power_off("h2", 10.0)])
    assert verify(trio, plan).valid


def test_rejects_overflow_mid_move(trio: Instance) -> None:
    report = verify(trio, make_plan(trio, [move("c", "h2", "h3", 0.0), move("a", "h1", "h2", 5.0)]))
    assert report.codes() == ["capacity.cpu"]
    assert "exceeds" in report.findings[0].message


def test_rejects_too_many_concurrent_migrations(trio: Instance) -> None:
    inst = make_instance(trio.hosts, trio.vms, max_concurrent_per_host=1)
    report = verify(inst, make_plan(inst, [move("a", "h1", "h3", 0.0), move("b", "h1", "h3", 1.0)]))
    assert set(report.codes()) == {"concurrency"}
    assert "max_concurrent_per_host = 1" in report.findings[0].message


def test_rejects_moving_a_pinned_vm() -> None:
    inst = make_instance([host("h1"), host("h2")], [vm("p", "h1", pinned=True)])
    report = verify(inst, make_plan(inst, [move("p", "h1", "h2", 0.0)]))
    assert not report.valid
    assert set(report.codes()) == {"immobile"}
    assert "pinned" in report.findings[0].message


def test_rejects_breaking_a_priority_one_rule(showcase: Instance) -> None:
    """w1, w2 to h3 breaks ``not-h3`` (must not run on h3)."""
    plan = make_plan(
        showcase,
        [move("w1", "h1", "h3", 0.0), move("w2", "h1", "h3", 0.0)],
        violations=[Violation("avoid", 3, ("d1",), "..."), Violation("prefer", 3, ("w1", "w2"), "...")],
    )
    report = verify(showcase, plan)
    assert set(report.codes()) == {"rule.p1"}
    assert {f.rule for f in report.findings} == {"not-h3"}


def test_rejects_leaving_a_maintenance_host_occupied() -> None:
    inst = make_instance([host("h1", state=HostState.MAINTENANCE), host("h2")], [vm("x", "h1")])
    report = verify(inst, make_plan(inst))
    assert report.codes() == ["maintenance"]
    assert "maintenance host h1 still holds" in report.findings[0].message


def test_rejects_powering_off_a_non_empty_host(trio: Instance) -> None:
    report = verify(trio, make_plan(trio, power_actions=[power_off("h1", 0.0)]))
    assert report.codes()[0] == "power.off_not_empty"
    assert "power_off of host h1 while it holds 2 VM(s)" in report.findings[0].message


def test_rejects_a_plan_that_disagrees_with_its_replay(trio: Instance) -> None:
    """The moves put a on h3; the plan's placement says h2."""
    plan = make_plan(trio, [move("a", "h1", "h3", 0.0)], placement={"a": "h2", "b": "h1", "c": "h2"})
    report = verify(trio, plan)
    assert report.codes()[0] == "replay.mismatch"
    assert "replay puts a on h3, the plan's placement on h2" in report.findings[0].message


def test_soft_violations_must_be_reported(showcase: Instance) -> None:
    """The unchanged showcase breaks ``prefer`` and ``avoid`` (P3): both must be listed, nothing else."""
    silent = make_plan(showcase, status=PlanStatus.UNCHANGED)
    assert verify(showcase, silent).codes() == ["violation.unreported", "violation.unreported"]
    honest = make_plan(
        showcase,
        status=PlanStatus.UNCHANGED,
        violations=[Violation("prefer", 3, ("w1", "w2"), "..."), Violation("avoid", 3, ("d1",), "...")],
    )
    assert verify(showcase, honest).valid
    extra = replace(
        honest, violations=(*honest.violations, Violation("web", 2, (), ""), Violation("x", 2, (), ""))
    )
    assert sorted(verify(showcase, extra).codes()) == ["unknown.rule", "violation.spurious"]


def test_violation_entries_must_describe_their_rules(showcase: Instance) -> None:
    """A kept priority-1 rule listed, a wrong priority, a VM outside the rule, an unknown VM and a
    rule listed twice are each found; the honest list passes."""
    honest = [Violation("prefer", 3, ("w1", "w2"), "..."), Violation("avoid", 3, ("d1",), "...")]
    cases = {
        "priority one": ([*honest, Violation("licence", 1, (), "")], ["violation.spurious"]),
        "priority": ([Violation("prefer", 2, ("w1", "w2"), ""), honest[1]], ["violation.entry"]),
        "outsider": ([Violation("prefer", 3, ("w1", "d2"), ""), honest[1]], ["violation.entry"]),
        "unknown": ([Violation("prefer", 3, ("w1", "zz"), ""), honest[1]], ["unknown.vm"]),
        "twice": ([*honest, honest[0]], ["violation.entry"]),
    }
    for name, (violations, codes) in cases.items():
        plan = make_plan(showcase, status=PlanStatus.UNCHANGED, violations=violations)
        assert verify(showcase, plan).codes() == codes, name
    assert verify(showcase, make_plan(showcase, status=PlanStatus.UNCHANGED, violations=honest)).valid


def test_unchanged_plan_has_no_actions(trio: Instance) -> None:
    plan = make_plan(trio, [move("a", "h1", "h3", 0.0)], status=PlanStatus.UNCHANGED)
    assert verify(trio, plan).codes() == ["plan.status"]


def test_infeasible_plan_needs_known_conflicts(showcase: Instance) -> None:
    """Only the conflicts are checked: non-empty, and naming rules, hosts and VMs that exist."""
    empty = make_plan(showcase, status=PlanStatus.INFEASIBLE, placement={}, host_states={})
    assert verify(showcase, empty).codes() == ["conflicts.empty"]
    good = replace(
        empty,
        conflicts=(
            Conflict("rule", "licence", "d1 and d2 apart on h1/h2", ("licence", "db"), ("h1",), ("d1",)),
        ),
    )
    assert verify(showcase, good).valid
    bad = replace(empty, conflicts=(Conflict("rule", "x", "?", ("nope",), ("h9",), ("ghost",)),))
    assert sorted(verify(showcase, bad).codes()) == ["unknown.host", "unknown.rule", "unknown.vm"]


def test_an_infeasible_plan_has_nothing_to_execute(trio: Instance) -> None:
    """A placement, moves or power actions in an infeasible plan would be carried out by a script
    that trusts the verdict: invalid, and no timing is claimed checked."""
    conflict = (Conflict("capacity", "h1", "full", (), ("h1",), ()),)
    clean = make_plan(trio, status=PlanStatus.INFEASIBLE, placement={}, host_states={})
    clean = replace(clean, conflicts=conflict)
    report = verify(trio, clean)
    assert report.valid
    assert not report.timing_checked
    junk = replace(
        make_plan(trio, [move("a", "h1", "h3", 0.0)], status=PlanStatus.INFEASIBLE), conflicts=conflict
    )
    assert verify(trio, junk).codes() == ["plan.status"]
    assert "1 migration(s)" in verify(trio, junk).findings[0].message


def test_wrong_format_is_reported(trio: Instance) -> None:
    plan = replace(make_plan(trio), format="scheduler-plan/0")
    assert verify(trio, plan).codes() == ["plan.format"]


def test_a_plan_for_another_cluster_is_reported(trio: Instance) -> None:
    """Plans for sibling clusters built from one template share host and VM names and may replay
    cleanly: the cluster's name is what tells them apart."""
    plan = replace(make_plan(trio), cluster=f"{trio.name}-dr")
    report = verify(trio, plan)
    assert report.codes() == ["plan.cluster"]
    assert repr(f"{trio.name}-dr") in report.findings[0].message


def test_checker_imports_no_solver() -> None:
    """The checker is the independent spec: importing it must not load OR-tools."""
    code = "import sys, scheduler.check, scheduler.compat; sys.exit('ortools' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

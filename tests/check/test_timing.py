"""The timing check: a plan's migrations re-simulated on the shared host links (``check.timing``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from scheduler.check import verify_plan
from scheduler.check.timing import timing_findings
from scheduler.migration.planner import plan_migrations
from scheduler.migration.precopy import estimate_vm
from scheduler.model import (
    Instance,
    Migration,
    MigrationEstimateRecord,
    MigrationPolicy,
    MoveReason,
    Plan,
    PlanStatus,
    Policy,
)

from .factories import host, make_instance, vm

GIB = 1024


def cluster(
    memory_gib: Sequence[int], dirty_mibps: Sequence[float] = (), hypervisor: str = "fusioncompute"
) -> Instance:
    """h1 holds one VM per size (idle unless ``dirty_mibps`` says otherwise); h2 and h3 are empty;
    10 Gbit/s links under FusionCompute (no pre-copy cap) unless told otherwise, two moves per
    host at once."""
    hosts = [
        host("h1", memory_mib=256 * GIB),
        host("h2", memory_mib=256 * GIB),
        host("h3", memory_mib=256 * GIB),
    ]
    vms = [
        dataclasses.replace(vm(f"v{i}", "h1", 1_000, size * GIB), dirty_rate_mibps=dirty)
        for i, (size, dirty) in enumerate(
            zip(memory_gib, [*dirty_mibps, *[0.0] * len(memory_gib)], strict=False)
        )
    ]
    instance = make_instance(hosts, vms)
    policy = Policy(
        migration=MigrationPolicy(network_gbps=10.0, max_concurrent_per_host=2, hypervisor=hypervisor)
    )
    return dataclasses.replace(instance, policy=policy)


def planned(instance: Instance, target: dict[str, str]) -> Plan:
    """The planner's plan for ``target``."""
    schedule = plan_migrations(instance, target)
    placement = {v.name: target.get(v.name, v.host or "") for v in instance.vms}
    return Plan(
        cluster=instance.name,
        status=PlanStatus.FEASIBLE,
        placement=placement,
        host_states={h.name: h.state.value for h in instance.hosts},
        migrations=schedule.migrations,
    )


def alone(instance: Instance, m: Migration) -> Migration:
    """``m`` timed as if it had both of its links to itself (its estimate alone)."""
    estimate = estimate_vm(instance.vm(m.vm), instance.policy.migration).to_record()
    return dataclasses.replace(m, end_s=m.start_s + estimate.total_s, estimate=estimate)


def test_the_planners_shared_link_times_re_simulate_exactly() -> None:
    """Two 8 GiB moves out of h1 run together and share its egress: each takes about twice its
    time alone, and the re-simulation finds their times, verdicts, downtimes and data."""
    instance = cluster([8, 8])
    plan = planned(instance, {"v0": "h2", "v1": "h3"})
    first, second = plan.migrations
    assert first.start_s == second.start_s == 0.0
    alone_s = alone(instance, first).estimate.total_s
    assert first.estimate.total_s > 1.9 * alone_s
    assert timing_findings(instance, plan) == []
    assert verify_plan(instance, plan).valid


def test_capped_pre_copies_re_simulate_exactly_with_the_final_copy_on_the_rest_of_the_link() -> None:
    """Under QEMU's 128 MiB/s pre-copy cap, three busy moves out of h1 keep to the cap, and each
    final copy takes what the links leave; the re-simulation gives the same ends."""
    instance = cluster([8, 4, 2], [40.0, 40.0, 40.0], hypervisor="qemu")
    plan = planned(instance, {"v0": "h2", "v1": "h3", "v2": "h3"})
    assert len(plan.migrations) == 3
    assert timing_findings(instance, plan) == []


def test_moves_timed_as_if_alone_while_sharing_a_link_are_caught() -> None:
    instance = cluster([8, 8])
    plan = planned(instance, {"v0": "h2", "v1": "h3"})
    claimed = dataclasses.replace(plan, migrations=tuple(alone(instance, m) for m in plan.migrations))
    findings = timing_findings(instance, claimed)
    assert [(f.code, f.vm) for f in findings] == [("migration.timing", "v0"), ("migration.timing", "v1")]
    assert "re-simulated on the shared links" in findings[0].message
    assert "ends at" in findings[0].message
    report = verify_plan(instance, claimed)
    assert report.codes() == ["migration.timing", "migration.timing"]
    assert verify_plan(instance, claimed, timing=False).valid


def test_a_busy_guest_that_cannot_converge_on_half_a_link_is_not_called_converged() -> None:
    """v0 dirties 700 MiB/s: alone on 10 Gbit/s (about 1,100 MiB/s) it converges, but with the
    64 GiB v1 leaving h1 at the same moment it gets half the egress and cannot."""
    instance = cluster([4, 64], [700.0])
    stub = Migration(
        "v0", "h1", "h2", 0.0, 0.0, MoveReason.DRS, MigrationEstimateRecord(0.0, 0.0, 0.0, 0, True)
    )
    moves = (alone(instance, stub), alone(instance, dataclasses.replace(stub, vm="v1", target="h3")))
    assert all(m.estimate.converges for m in moves)
    plan = Plan(
        cluster=instance.name,
        status=PlanStatus.FEASIBLE,
        placement={"v0": "h2", "v1": "h3"},
        host_states={h.name: h.state.value for h in instance.hosts},
        migrations=moves,
    )
    findings = {f.vm: f.message for f in timing_findings(instance, plan)}
    assert "v0" in findings
    assert "does not converge" in findings["v0"] or "gives it up" in findings["v0"]


def test_figures_rounded_when_written_still_pass_but_a_changed_downtime_does_not() -> None:
    instance = cluster([8, 8])
    plan = planned(instance, {"v0": "h2", "v1": "h3"})

    def rounded(m: Migration) -> Migration:
        estimate = dataclasses.replace(
            m.estimate,
            total_s=round(m.estimate.total_s, 3),
            downtime_ms=round(m.estimate.downtime_ms),
            transferred_mib=round(m.estimate.transferred_mib),
        )
        return dataclasses.replace(m, end_s=round(m.end_s, 3), estimate=estimate)

    assert (
        timing_findings(instance, dataclasses.replace(plan, migrations=tuple(map(rounded, plan.migrations))))
        == []
    )
    first, second = plan.migrations
    paused_longer = dataclasses.replace(first.estimate, downtime_ms=first.estimate.downtime_ms + 50.0)
    edited = dataclasses.replace(
        plan, migrations=(dataclasses.replace(first, estimate=paused_longer), second)
    )
    (finding,) = timing_findings(instance, edited)
    assert finding.vm == "v0"
    assert "downtime" in finding.message

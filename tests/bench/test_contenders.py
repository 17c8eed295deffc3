"""Contenders: every plan passes ``scheduler verify``; bad targets are recorded as invalid."""

from __future__ import annotations

from dataclasses import replace

import pytest
from check.factories import anti_affinity, host, make_instance, vm, vm_host

from scheduler.bench.contenders import (
    Target,
    contender,
    finish_target,
    greedy_drs_target,
    proven_gap,
    proxlb_scenario,
    run_contender,
    verified_outcome,
)
from scheduler.model import HostState, Instance, RuleKind
from scheduler.pipeline import with_what_if


@pytest.mark.parametrize(
    "name", ["ours-t1", "ours-t3", "ours-t3-dpm", "greedy-drs", "greedy-drs-costaware", "ffd-dpm"]
)
def test_each_contender_plan_passes_verify(tiny: Instance, name: str) -> None:
    """On a tiny instance with hot spots, every contender yields a plan that passes verify."""
    outcome = run_contender(contender(name), tiny, time_limit_s=1.0, num_workers=1)
    assert outcome.status in ("optimal", "feasible", "unchanged"), (outcome.status, outcome.note)
    assert outcome.valid is True
    assert outcome.plan is not None
    assert set(outcome.plan.placement) == {v.name for v in tiny.vms}


@pytest.mark.parametrize("name", ["ours-t3", "greedy-drs", "ffd-dpm"])
def test_unreachable_evacuation_is_recorded_as_failed_not_raised(tiny: Instance, name: str) -> None:
    """A host to evacuate holds a VM whose pre-copy never converges: no order reaches any target.

    Each contender's run ends as ``failed`` with the planner's reason (or, when the optimizer
    sees it first, ``infeasible`` with its conflicts), never as an exception.
    """
    hot = tiny.vms[0]
    assert hot.host is not None
    frantic = replace(hot, dirty_rate_mibps=1e6)  # far beyond any link: never converges
    instance = with_what_if(replace(tiny, vms=(frantic, *tiny.vms[1:])), maintenance=(hot.host,))
    outcome = run_contender(contender(name), instance, time_limit_s=1.0, num_workers=1)
    assert outcome.status in ("failed", "infeasible"), outcome.note
    if outcome.status == "failed":
        assert "never complete" in outcome.note
    else:
        assert outcome.plan is not None
        assert outcome.plan.conflicts
        assert outcome.valid


def test_ffd_dpm_turns_hosts_off_and_respects_capacity(tiny: Instance) -> None:
    outcome = run_contender(contender("ffd-dpm"), tiny, time_limit_s=1.0)
    assert outcome.plan is not None
    assert outcome.valid
    assert any(s == "standby" for s in outcome.plan.host_states.values())


def test_classic_greedy_reaches_tolerance_or_stops_when_no_move_helps(tiny: Instance) -> None:
    """Threshold 5 has tolerance 0: the greedy balances until no single move helps."""
    loose = run_contender(contender("greedy-drs-t2"), tiny, time_limit_s=1.0)
    tight = run_contender(contender("greedy-drs-t5"), tiny, time_limit_s=1.0)
    assert loose.plan is not None
    assert tight.plan is not None
    assert len(tight.plan.migrations) >= len(loose.plan.migrations)


@pytest.mark.parametrize("cost_aware", [False, True])
def test_greedy_baseline_mends_a_broken_rule_like_drs_mandatory_moves(cost_aware: bool) -> None:
    """a and b must be apart but share h1; the load is within tolerance, so only the rule calls
    for a move. DRS corrects rule violations before it balances, and so does the baseline."""
    inst = make_instance(
        [host("h1"), host("h2")],
        [vm("a", "h1"), vm("b", "h1"), vm("c", "h2"), vm("d", "h2")],
        [anti_affinity("apart", "a", "b")],
    )
    target = greedy_drs_target(inst, cost_aware=cost_aware, time_limit_s=5.0)
    assert isinstance(target, Target)
    assert target.placement["a"] != target.placement["b"]
    assert finish_target("greedy-drs", inst, target).valid


def test_greedy_baseline_balances_around_a_kept_should_rule() -> None:
    """s (3 GHz) should run on h1, with x (2 GHz) and y (1 GHz); h2 is empty. Moving s alone
    would balance best, but it keeps its rule: x goes instead."""
    inst = make_instance(
        [host("h1"), host("h2")],
        [vm("s", "h1", 3_000), vm("x", "h1", 2_000), vm("y", "h1", 1_000)],
        [vm_host("prefer-h1", "should", ["s"], ["h1"])],
    )
    target = greedy_drs_target(inst, cost_aware=False, time_limit_s=5.0)
    assert isinstance(target, Target)
    assert target.placement["s"] == "h1"
    assert target.placement["x"] == "h2"


def test_target_breaking_capacity_is_recorded_invalid_with_findings(tiny: Instance) -> None:
    """All VMs on one host: the checker refuses it, the outcome says invalid and why."""
    host = next(h.name for h in tiny.hosts if h.state is HostState.UP)
    target = Target({v.name: host for v in tiny.vms}, {h.name: h.state.value for h in tiny.hosts})
    outcome = finish_target("everything-on-one-host", tiny, target)
    assert outcome.status == "invalid"
    assert outcome.valid is False
    assert outcome.findings
    assert outcome.target is target  # kept so its final state can still be measured


def test_plan_tampered_after_planning_fails_verification(tiny: Instance) -> None:
    """A plan whose moves no longer reach its placement is invalid (the CLI check, not trust)."""
    good = run_contender(contender("greedy-drs"), tiny, time_limit_s=1.0)
    assert good.plan is not None
    assert good.plan.migrations
    broken = replace(good.plan, migrations=good.plan.migrations[1:])
    outcome = verified_outcome("tampered", tiny, broken)
    assert outcome.status == "invalid"
    assert outcome.valid is False
    assert outcome.findings


def test_contender_names_parse() -> None:
    assert contender("ours-t5").threshold == 5
    assert contender("ours-t3-dpm").dpm
    assert contender("ffd-dpm").kind == "ffd-dpm"
    assert contender("proxlb-t2").kind == "proxlb"
    with pytest.raises(ValueError, match="unknown contender"):
        contender("magic-t3")


def test_proven_gap_reads_the_first_open_level() -> None:
    levels = [
        {"level": "a", "value": 0, "bound": 0, "optimal": True},
        {"level": "drs", "value": 100, "bound": 75, "optimal": False},
        {"level": "cost", "value": 10, "bound": 1, "optimal": False},
    ]
    assert proven_gap(levels) == (0.25, "drs")
    assert proven_gap(levels[:1]) == (0.0, "")
    assert proven_gap([]) == (None, "")


def test_proxlb_scenario_keeps_capacity_rules_and_compatibility(tiny: Instance) -> None:
    """The peer's scenario: CPU in 10 MHz units rounded safely, maintenance, pins, soft P2 rules."""
    scenario = proxlb_scenario(tiny)
    for h in tiny.hosts:
        node = scenario["nodes"][h.name]
        assert node["cpu_total"] * 10 <= h.cpu_mhz
        assert node["maintenance"] == (h.state is not HostState.UP)
    for v in tiny.vms:
        assert scenario["vms"][v.name]["cpu"] * 10 >= v.cpu_demand_mhz
    anti = [r for r in tiny.rules if r.kind is RuleKind.ANTI_AFFINITY]
    assert len(scenario["constraints"]["anti_affinity"]) == len(anti)
    assert all(not r["hard"] for r in scenario["constraints"]["anti_affinity"])
    assert scenario["balancing"]["balanciness"] == tiny.policy.drs.threshold


def test_proxlb_plan_is_verified_or_skipped(tiny: Instance) -> None:
    """With proxlb-solver installed its placement goes through planner and checker; else skipped."""
    outcome = run_contender(contender("proxlb-t3"), tiny, time_limit_s=2.0)
    if outcome.status == "skipped":
        assert "proxlb-solver" in outcome.note
        return
    assert outcome.status in ("optimal", "feasible", "invalid", "failed"), outcome.note
    if outcome.plan is not None:
        assert outcome.valid is not None

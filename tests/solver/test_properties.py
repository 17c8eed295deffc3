"""Any valid small inventory gives either an infeasible plan with conflicts or a plan the checker
accepts and in which every hard constraint holds.

Inventories are random inventory documents read through ``parse_inventory`` (so an invalid
draw fails loudly instead of testing nonsense): 3–6 hosts, sometimes one in maintenance and one in
standby; 5–25 VMs, a few new or pinned; rules of every kind (each VM in at most one affinity and at
most one anti-affinity rule, affinity rules of two or more VMs); random DRS threshold and measure,
DPM on or off. The hard constraints are re-checked here independently of ``verify_plan``:
priority-1 rules, capacity per host, maintenance and standby hosts empty, every VM placed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.check import check_rule, verify_plan
from scheduler.io import parse_inventory
from scheduler.model import Instance, PlanStatus
from scheduler.pipeline import make_plan
from scheduler.solver.options import SolveOptions

OPTIONS = SolveOptions(time_limit_s=2.0, num_workers=2, seed=0)
MODES = ("must", "must_not", "should", "should_not")


@st.composite
def inventories(draw: st.DrawFn) -> dict[str, Any]:
    """A valid inventory mapping (see the module docstring for its shape)."""
    n_hosts = draw(st.integers(3, 6))
    maintenance = draw(st.booleans())
    standby = draw(st.integers(0, 3)) == 0
    hosts: list[dict[str, Any]] = []
    for i in range(n_hosts):
        state = "up"
        if maintenance and i == 0:
            state = "maintenance"
        elif standby and i == n_hosts - 1:
            state = "standby"
        hosts.append(
            {
                "name": f"h{i}",
                "cpu_mhz": draw(st.sampled_from([8_000, 12_000, 16_000])),
                "memory_mib": draw(st.sampled_from([8_192, 16_384, 32_768])),
                "state": state,
                "power": {"boot_s": 60},
            }
        )
    runnable = [h["name"] for h in hosts if h["state"] in ("up", "maintenance")]

    n_vms = draw(st.integers(5, 25))
    vms: list[dict[str, Any]] = []
    for j in range(n_vms):
        memory_mib = draw(st.sampled_from([512, 1_024, 2_048, 4_096]))
        new = draw(st.integers(0, 9)) == 0
        vms.append(
            {
                "name": f"v{j}",
                "host": None if new else draw(st.sampled_from(runnable)),
                "vcpus": 2,
                "memory_mib": memory_mib,
                "cpu_demand_mhz": draw(st.integers(100, 2_500)),
                "memory_demand_mib": draw(st.integers(0, memory_mib)),
                "dirty_rate_mibps": draw(st.sampled_from([0.0, 5.0, 40.0, 120.0])),
                "pinned": draw(st.integers(0, 14)) == 0,
            }
        )
    names = [v["name"] for v in vms]
    host_names = [h["name"] for h in hosts]

    rules: list[dict[str, Any]] = []
    for kind in ("affinity", "anti_affinity"):
        pool = draw(st.permutations(names))
        start = 0
        for k in range(draw(st.integers(0, 2))):
            size = draw(st.integers(2, 3))
            members = pool[start : start + size]
            start += size
            if len(members) >= 2:
                rules.append({"name": f"{kind}-{k}", "kind": kind, "vms": list(members)})
    for k in range(draw(st.integers(0, 3))):
        rules.append(
            {
                "name": f"vm-host-{k}",
                "kind": "vm_host",
                "mode": draw(st.sampled_from(MODES)),
                "vms": draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)),
                "hosts": draw(st.lists(st.sampled_from(host_names), min_size=1, max_size=2, unique=True)),
            }
        )
    policy = {
        "drs": {
            "enabled": True,
            "threshold": draw(st.integers(1, 5)),
            "measure": draw(st.sampled_from(["cpu", "memory", "cpu_memory"])),
        },
        "dpm": {"enabled": draw(st.booleans()), "min_hosts_on": 1},
    }
    return {"name": "random", "policy": policy, "hosts": hosts, "vms": vms, "rules": rules}


def hard_constraint_breaches(
    instance: Instance, placement: dict[str, str], states: dict[str, str]
) -> list[str]:
    """Every broken hard constraint of a final state, computed here from first principles."""
    out: list[str] = []
    missing = {v.name for v in instance.vms} - set(placement)
    if missing:
        out.append(f"VMs without a host: {sorted(missing)}")
    if set(states) != {h.name for h in instance.hosts}:
        out.append("host_states does not name every host")
    cpu: dict[str, int] = defaultdict(int)
    memory: dict[str, int] = defaultdict(int)
    for v in instance.vms:
        where = placement.get(v.name)
        if where is None:
            continue
        cpu[where] += v.cpu_demand_mhz
        memory[where] += v.memory_mib
        if states.get(where) != "up":
            out.append(f"{v.name} ends on {where}, which is {states.get(where)}")
        if v.immobility_reasons() and v.host is not None and where != v.host:
            out.append(f"immobile {v.name} moved from {v.host} to {where}")
    overcommit = instance.policy.memory_overcommit
    for h in instance.hosts:
        if cpu[h.name] > h.cpu_mhz:
            out.append(f"{h.name} CPU {cpu[h.name]} > {h.cpu_mhz}")
        if memory[h.name] > h.memory_mib * overcommit:
            out.append(f"{h.name} memory {memory[h.name]} > {h.memory_mib} × {overcommit}")
        if h.state.value == "maintenance" and states[h.name] != "maintenance":
            out.append(f"maintenance host {h.name} ends {states[h.name]}")
    for rule in instance.rules:
        if rule.is_hard:
            status = check_rule(rule, placement)
            if not status.satisfied:
                out.append(f"priority-1 rule {rule.name} broken: {status.detail}")
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inventories())
def test_any_inventory_gives_conflicts_or_a_plan_that_keeps_every_hard_constraint(data: dict[str, Any]):
    instance = parse_inventory(data, "generated")
    plan = make_plan(instance, OPTIONS).plan
    report = verify_plan(instance, plan)
    assert report.valid, str(report)
    if plan.status is PlanStatus.INFEASIBLE:
        assert plan.conflicts
        return
    assert hard_constraint_breaches(instance, plan.placement, plan.host_states) == []
    hard_rules = {r.name for r in instance.rules if r.is_hard}
    assert not hard_rules & {v.rule for v in plan.violations}

"""Greedy repair of broken soft rules: part of the optimizer's warm start.

Description
    Priority-2 rules outrank DPM and DRS, and priority-3 rules outrank DRS, so the warm start
    should already keep them: balancing around a rule member that a later level then moves
    undoes the balance, and buying it back costs migrations. For an anti-affinity rule whose
    members share a host, move the extra members (cheapest migration first) to the allowed host
    with the most room that holds no other member. For an affinity rule spread over several
    hosts, gather the members on the host that already holds most of them, if all the others
    are allowed there and fit. For a VM-to-host ``should`` / ``should_not`` rule, move each
    member on the wrong side to the host with the most room on the right side, unless it is in
    an affinity rule (which outranks it) or the move would join an anti-affinity partner.
Requirements
    A feasible assignment; per-host limits (capacity, or DPM's high target).
Limitations
    One rule at a time, no swaps: a rule it cannot repair is left to the CP-SAT levels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.state import LoadState, partner_hosts, rule_groups
from scheduler.model import NO_HOST, Instance, RuleKind

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def repair_vm_rules(
    instance: Instance,
    assignment: IntArray,
    on_mask: BoolArray,
    allowed: BoolArray,
    movable: BoolArray,
    cost_s: FloatArray,
    cpu_limit: FloatArray,
    memory_demand_limit: FloatArray,
) -> IntArray:
    """Return ``assignment`` with as many priority-2, then priority-3, rules repaired as single
    moves allow."""
    state = LoadState(instance, assignment)

    def fits(v: int) -> BoolArray:
        return np.asarray(
            on_mask
            & allowed[v]
            & (state.cpu + instance.vm_cpu_demand_mhz[v] <= cpu_limit)
            & (state.mem_config + instance.vm_memory_mib[v] <= state.mem_capacity)
            & (state.mem_demand + instance.vm_memory_demand_mib[v] <= memory_demand_limit),
            dtype=np.bool_,
        )

    for rule in instance.rules_of_kind(RuleKind.ANTI_AFFINITY):
        members = np.array([instance.vm_index[n] for n in rule.vms], dtype=np.int64)
        for h in np.unique(state.assignment[members]):
            if h == NO_HOST:
                continue
            sharing = members[state.assignment[members] == h]
            extra = sharing[movable[sharing]]
            extra = extra[np.argsort(cost_s[extra], kind="stable")]
            for v in extra[: max(len(sharing) - 1, 0)]:
                ok = fits(int(v))
                ok[state.assignment[members]] = False
                if ok.any():
                    room = np.where(ok, 1.0 - state.cpu / np.maximum(cpu_limit, 1.0), -np.inf)
                    state.move(int(v), int(np.argmax(room)))

    for rule in instance.rules_of_kind(RuleKind.AFFINITY):
        members = np.array([instance.vm_index[n] for n in rule.vms], dtype=np.int64)
        hosts = state.assignment[members]
        placed = hosts[hosts != NO_HOST]
        if len(np.unique(placed)) <= 1:
            continue
        counts = np.bincount(placed, minlength=instance.num_hosts)
        for target in np.argsort(-counts, kind="stable")[: len(np.unique(placed))]:
            away = members[state.assignment[members] != target]
            if not movable[away].all():
                continue
            moved: list[tuple[int, int]] = []
            for v in away:
                if not fits(int(v))[target]:
                    break
                moved.append((int(v), int(state.assignment[v])))
                state.move(int(v), int(target))
            else:
                break
            for v, previous in reversed(moved):  # could not gather them all here: undo, next host
                state.move(v, previous)

    in_affinity = rule_groups(instance, RuleKind.AFFINITY) >= 0
    anti_group = rule_groups(instance, RuleKind.ANTI_AFFINITY)
    for rule in instance.rules_of_kind(RuleKind.VM_HOST):
        if rule.priority != 3:
            continue
        wanted = instance.accepted_hosts(rule)
        for v in (instance.vm_index[n] for n in rule.vms):
            here = int(state.assignment[v])
            if here == NO_HOST or wanted[here] or not movable[v] or in_affinity[v]:
                continue
            ok = fits(v) & wanted
            ok[partner_hosts(anti_group, state.assignment, v)] = False
            if ok.any():
                room = np.where(ok, 1.0 - state.cpu / np.maximum(cpu_limit, 1.0), -np.inf)
                state.move(v, int(np.argmax(room)))
    return state.assignment

"""Hosts the placement model cannot tell apart, and one order among their equivalent arrangements.

Description
    Two hosts are interchangeable when swapping everything that ends on them changes no
    constraint and no level's value: the same capacity, CPU model, storage, networks, state,
    power curve and power decision; no VM on either today (a VM that stays put would tell them
    apart, and so would the migration it saves); for every free VM both candidates or neither
    (compatibility and priority-1 rules are in the candidates); for every priority-3 rule both
    named or neither. Migration seconds depend on the VM, not on its target, and the DRS level
    weighs a host by its capacity, so every level agrees.

    A search over k such hosts meets each choice of which of them stay on many times over, and a
    proof that fewer hosts cannot do has to rule out every copy: filling identical empty hosts
    from scratch is the typical case (initial placement, hosts back from standby). So the model
    powers a class's hosts on in host order: a host on means every host before it in its class
    is on (``PlacementModel``). Any solution can be rearranged that way (move the contents of
    the hosts on to the first ones of the class), so no level loses a solution.

    In ``benchmarks/symmetry_speed.py`` this proved the DPM level of three of nine racks in
    0.07–0.37 s where the unordered model ran out its 8–11 s share, with the same hosts on in
    every run. Ordering the hosts on by CPU load as well removes more copies but made those
    proofs slower (3.4 s against 0.2 s on one), so it is not done.
Requirements
    Classes are computed from the problem's candidates, and the warm start put into that order
    (``canonical``) before it is hinted: a hint the order excludes would be repaired, not kept.
Limitations
    Only identical *hosts*; identical VMs (many of one size) are left to CP-SAT's own symmetry
    detection, as are hosts that hold VMs today (the cost level tells them apart).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.state import LoadState
from scheduler.model import NO_HOST, Instance
from scheduler.solver.problem import Problem

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def interchangeable_hosts(problem: Problem) -> tuple[IntArray, ...]:
    """Classes of two or more interchangeable hosts (module docstring), each in index order."""
    inst = problem.instance
    occupied = np.zeros(inst.num_hosts, dtype=np.bool_)
    occupied[inst.current_host[inst.current_host != NO_HOST]] = True
    # Which free VMs may end on each host, one column per host.
    offered = np.zeros((inst.num_hosts, len(problem.free)), dtype=np.bool_)
    for i, hosts in enumerate(problem.candidates):
        offered[hosts, i] = True
    named = _priority3_hosts(inst)
    classes: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for h, host in enumerate(inst.hosts):
        if occupied[h]:
            continue
        key = (
            replace(host, name=""),
            float(inst.host_memory_admission_mib[h]),
            int(problem.power[h]),
            offered[h].tobytes(),
            named[h],
        )
        classes[key].append(h)
    return tuple(np.array(hosts, dtype=np.int64) for hosts in classes.values() if len(hosts) > 1)


def canonical(
    instance: Instance, classes: tuple[IntArray, ...], assignment: IntArray, on_mask: BoolArray
) -> tuple[IntArray, BoolArray]:
    """``assignment`` and ``on_mask`` with each class's contents rearranged into the order the
    model keeps: the hosts on first, and among them the most loaded (CPU) first, so that the
    host the order lets go off next is the one with least to move. Every level's value is the
    same as before."""
    cpu = LoadState(instance, assignment).cpu
    arranged, arranged_on = assignment.copy(), on_mask.copy()
    for hosts in classes:
        order = hosts[np.lexsort((-cpu[hosts], ~on_mask[hosts]))]  # stable on ties
        for target, origin in zip(hosts, order, strict=True):
            arranged[assignment == origin] = target
            arranged_on[target] = on_mask[origin]
    return arranged, arranged_on


def _priority3_hosts(instance: Instance) -> list[tuple[int, ...]]:
    """Per host, the priority-3 rules (by position) that name it."""
    named: list[list[int]] = [[] for _ in range(instance.num_hosts)]
    for r, rule in enumerate(instance.rules):
        if rule.priority == 3:
            for name in rule.hosts:
                named[instance.host_index[name]].append(r)
    return [tuple(rules) for rules in named]


__all__ = ["canonical", "interchangeable_hosts"]

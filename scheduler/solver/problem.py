"""Turn an instance into the restricted placement problem the CP model encodes (no OR-tools here).

Scale comes from restriction, not brute force (BtrPlace's repair mode): only VMs that must move,
break a rule, sit on a hot host or on a host DPM may empty get variables ("free" VMs), and each
free VM is offered a few candidate hosts — its current host, the warm start's host, hosts that its
rules point to, the coldest allowed hosts and a few random ones. Everything else stays fixed and
enters the model as constant load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.state import displaced
from scheduler.model import NO_HOST, HostState, Instance, RuleKind

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

POWER_OFF, POWER_ON, POWER_DECIDE = 0, 1, -1


@dataclass(frozen=True, slots=True)
class Problem:
    """The placement problem after scoping.

    Attributes:
        allowed: [vm, host] where a VM may end up (compatibility, priority-1 rules, host state).
        movable: VMs the optimizer may move at all (not pinned, no devices, DRS on, ...).
        cost_s: estimated migration seconds per VM at a full link share.
        converges: whether each VM's migration converges at a full link share.
        mandatory: VMs that cannot stay where they are (host off or forbidden) or have no host.
        power: per host POWER_ON, POWER_OFF or POWER_DECIDE (DPM decides).
        free: VM indices that get variables; the others are fixed on ``fixed_host``.
        candidates: for each free VM (same order), the host indices it may take.
        warm: a complete assignment used as the first hint (may be imperfect).
        warm_on: the power decision matching ``warm``.
        dpm_high: DPM high target utilization, or None when DPM is off.
        resources: resources DRS balances ("cpu", "memory").
        dpm_hosts_bound: hosts no placement within the DPM high target does with fewer
            (``check.bounds.dpm_hosts_bound``); 0 when not computed.
        interchangeable: classes of hosts the model cannot tell apart (``symmetry.py``); the
            model keeps one arrangement of each, and ``warm`` is in that arrangement.
    """

    instance: Instance
    allowed: BoolArray
    movable: BoolArray
    cost_s: FloatArray
    converges: BoolArray
    mandatory: BoolArray
    power: IntArray
    free: IntArray
    candidates: tuple[IntArray, ...]
    warm: IntArray
    warm_on: BoolArray
    dpm_high: float | None
    resources: tuple[str, ...]
    dpm_hosts_bound: int = 0
    interchangeable: tuple[IntArray, ...] = ()

    @property
    def fixed_host(self) -> IntArray:
        fixed = self.instance.current_host.copy()
        fixed[self.free] = NO_HOST
        return fixed

    @property
    def num_candidate_pairs(self) -> int:
        return int(sum(len(c) for c in self.candidates))


def host_power(instance: Instance, dpm_enabled: bool, movable: BoolArray) -> IntArray:
    """Power decision per host: maintenance and down hosts end off; DPM decides the others.

    A host that keeps an immobile VM stays on whatever DPM thinks.
    """
    power = np.full(instance.num_hosts, POWER_OFF, dtype=np.int64)
    for h, host in enumerate(instance.hosts):
        if host.state is HostState.UP:
            power[h] = POWER_DECIDE if dpm_enabled else POWER_ON
        elif host.state is HostState.STANDBY:
            power[h] = POWER_DECIDE if dpm_enabled else POWER_OFF
    cur = instance.current_host
    pinned_hosts = cur[(~movable) & (cur != NO_HOST)]
    for h in np.unique(pinned_hosts):
        if power[h] == POWER_DECIDE:
            power[h] = POWER_ON
    return power


def mandatory_moves(instance: Instance, allowed: BoolArray, power: IntArray) -> BoolArray:
    """VMs that must be (re)placed: new VMs, VMs on hosts that end off, VMs whose host is forbidden."""
    return displaced(instance, allowed, power != POWER_OFF)


def rule_members_in_violation(instance: Instance, assignment: IntArray) -> BoolArray:
    """VMs that belong to a priority-2 or priority-3 rule broken by ``assignment``."""
    out = np.zeros(instance.num_vms, dtype=np.bool_)
    for rule in instance.rules:
        if rule.priority == 1:
            continue
        members = np.array([instance.vm_index[n] for n in rule.vms], dtype=np.int64)
        hosts = assignment[members]
        if rule.kind is RuleKind.AFFINITY:
            broken = len(set(hosts.tolist())) > 1
        elif rule.kind is RuleKind.ANTI_AFFINITY:
            placed = hosts[hosts != NO_HOST]
            broken = len(set(placed.tolist())) < len(placed)
        else:
            rule_hosts = np.array([instance.host_index[h] for h in rule.hosts], dtype=np.int64)
            inside = np.isin(hosts, rule_hosts)
            broken = bool(np.any(inside != rule.wants_hosts))
        if broken:
            out[members] = True
    return out


def choose_candidates(
    instance: Instance,
    free: IntArray,
    allowed: BoolArray,
    usable: BoolArray,
    warm: IntArray,
    coldness: FloatArray,
    k: int,
    rng: np.random.Generator,
) -> tuple[IntArray, ...]:
    """Candidate hosts per free VM: current, warm-start and rule hosts, the coldest and a few random
    (every allowed host when ``k`` is at least the number of hosts).

    ``coldness`` ranks hosts (higher = more room). Affinity partners share their candidates so that
    the rule can be met on a common host.
    """
    n_hosts = instance.num_hosts
    ok = allowed[free] & usable[None, :]
    cold_k = max(1, k // 2)
    rand_k = max(0, k - cold_k)
    score = np.where(ok, coldness[None, :], -np.inf)
    if n_hosts > cold_k:
        coldest = np.argpartition(-score, cold_k - 1, axis=1)[:, :cold_k]
    else:
        coldest = np.tile(np.arange(n_hosts), (len(free), 1))
    noise = np.where(ok, rng.random((len(free), n_hosts)), -np.inf)
    randoms = (
        np.argpartition(-noise, rand_k - 1, axis=1)[:, :rand_k]
        if 0 < rand_k < n_hosts
        else np.zeros((len(free), 0), dtype=np.int64)
    )
    rule_hosts = _rule_hosts(instance)
    sets: list[set[int]] = []
    complete = k >= n_hosts  # every allowed host (cold and random picks may coincide)
    for i, v in enumerate(free):
        if complete:
            cand = set(np.flatnonzero(ok[i]).tolist())
        else:
            cand = set(coldest[i].tolist()) | set(randoms[i].tolist())
        cur = int(instance.current_host[v])
        for h in (cur, int(warm[v])):
            if h != NO_HOST:
                cand.add(h)
        cand |= rule_hosts.get(int(v), set())
        sets.append({h for h in cand if ok[i, h] or h == cur})
    # Affinity partners: share candidates (each still filtered by its own allowed hosts).
    position = {int(v): i for i, v in enumerate(free)}
    for rule in instance.rules_of_kind(RuleKind.AFFINITY):
        members = [instance.vm_index[n] for n in rule.vms]
        union: set[int] = set()
        for m in members:
            if m in position:
                union |= sets[position[m]]
            elif instance.current_host[m] != NO_HOST:
                union.add(int(instance.current_host[m]))
        for m in members:
            if m in position:
                i = position[m]
                sets[i] |= {h for h in union if ok[i, h]}
    out: list[IntArray] = []
    for i, v in enumerate(free):
        cand_arr = np.array(sorted(sets[i]), dtype=np.int64)
        # The current host is a candidate only where the VM may stay.
        cur = int(instance.current_host[v])
        if cur != NO_HOST and not ok[i, cur]:
            cand_arr = cand_arr[cand_arr != cur]
        out.append(cand_arr)
    return tuple(out)


def _rule_hosts(instance: Instance) -> dict[int, set[int]]:
    """Hosts each VM's rules point at: partners' hosts (affinity) and should-hosts (priority 3)."""
    out: dict[int, set[int]] = {}
    for rule in instance.rules:
        members = [instance.vm_index[n] for n in rule.vms]
        if rule.kind is RuleKind.AFFINITY:
            hosts = {int(instance.current_host[m]) for m in members if instance.current_host[m] != NO_HOST}
        elif rule.kind is RuleKind.VM_HOST and rule.priority == 3 and rule.wants_hosts:
            hosts = {instance.host_index[h] for h in rule.hosts}
        else:
            continue
        for m in members:
            out.setdefault(m, set()).update(hosts)
    return out


def settled_for_balance(problem: Problem) -> BoolArray:
    """VMs the DRS and cost levels may not move: immobile, not converging (unless they must move
    anyway), or members of priority-2/3 rules, whose positions the rule levels fixed."""
    settled = ~(problem.movable & (problem.converges | problem.mandatory))
    return np.asarray(settled | soft_rule_members(problem.instance), dtype=np.bool_)


def soft_rule_members(instance: Instance) -> BoolArray:
    """VMs named by a priority-2 or priority-3 rule."""
    members = np.zeros(instance.num_vms, dtype=np.bool_)
    for rule in instance.rules:
        if rule.priority in (2, 3):
            members[[instance.vm_index[name] for name in rule.vms]] = True
    return members

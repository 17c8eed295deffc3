"""Step 4, the witness: a placement of every VM meeting capacity, compatibility and every rule,
built greedily (worst fit, largest first), which proves the instance solvable; also the memory
overcommit it is built at."""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scheduler.model import RuleKind
from scheduler.synth.columns import NEED_DMZ, NEED_ISLAND, FloatArray, IntArray
from scheduler.synth.distributions import MEMORY_FILL_TARGET, OVERCOMMIT_RETRIES, OVERCOMMIT_STEP
from scheduler.synth.hosts import Hosts
from scheduler.synth.rules import RuleDraft
from scheduler.synth.spec import SpecError, SynthSpec
from scheduler.synth.vms import Vms


class _OverfullError(Exception):
    """Configured VM memory does not fit the up hosts at this overcommit."""


@dataclass(slots=True)
class Loads:
    """Free capacity per host as Python lists: the greedy loops read them one element at a time."""

    cpu_free: list[float]
    mem_free: list[float]
    inv_cpu: list[float]  # 1 / capacity, to rank hosts by relative room without dividing
    inv_mem: list[float]

    @classmethod
    def empty(cls, cpu_cap: FloatArray, mem_cap: FloatArray) -> Loads:
        return cls(
            cpu_cap.tolist(),
            mem_cap.tolist(),
            (1.0 / np.maximum(cpu_cap, 1.0)).tolist(),
            (1.0 / np.maximum(mem_cap, 1.0)).tolist(),
        )

    def key(self, h: int) -> float:
        """Heap key: minus the relative room of the tighter resource (worst fit pops the roomiest)."""
        return -min(self.cpu_free[h] * self.inv_cpu[h], self.mem_free[h] * self.inv_mem[h])


def place_singles(
    vm_ids: Sequence[int],
    domain: IntArray,
    loads: Loads,
    cpu: list[int],
    mem: list[int],
    assign: list[int],
) -> list[int]:
    """Worst fit: each VM to the domain host with the most relative room; returns those that fit none."""
    heap = [(loads.key(h), h) for h in domain.tolist()]
    heapq.heapify(heap)
    cpu_free, mem_free, inv_cpu, inv_mem = loads.cpu_free, loads.mem_free, loads.inv_cpu, loads.inv_mem
    failed: list[int] = []
    for v in vm_ids:
        c, m = cpu[v], mem[v]
        if not heap:
            failed.append(v)
            continue
        h = heap[0][1]
        if c <= cpu_free[h] and m <= mem_free[h]:
            cpu_free[h] -= c
            mem_free[h] -= m
            assign[v] = h
            heapq.heapreplace(heap, (-min(cpu_free[h] * inv_cpu[h], mem_free[h] * inv_mem[h]), h))
            continue
        # The roomiest host is too small in one resource: look further down, then restore the heap.
        aside = [heapq.heappop(heap)]
        found = -1
        while heap:
            item = heapq.heappop(heap)
            aside.append(item)
            if c <= cpu_free[item[1]] and m <= mem_free[item[1]]:
                found = item[1]
                break
        if found >= 0:
            cpu_free[found] -= c
            mem_free[found] -= m
            assign[v] = found
        else:
            failed.append(v)
        for _, h2 in aside:
            heapq.heappush(heap, (loads.key(h2), h2))
    return failed


def _place_groups(
    groups: Sequence[list[int]],
    together: bool,
    domain: IntArray,
    loads: Loads,
    cpu: list[int],
    mem: list[int],
    assign: list[int],
) -> list[int]:
    """Worst fit for groups, all on one host (affinity) or each on its own (anti-affinity).

    Returns the indices of groups that could not be placed whole; they are left unplaced.
    """
    heap = [(loads.key(h), h) for h in domain.tolist()]
    heapq.heapify(heap)
    cpu_free, mem_free = loads.cpu_free, loads.mem_free
    failed: list[int] = []
    for index, group in enumerate(groups):
        if together:
            needs = [(sum(cpu[v] for v in group), sum(mem[v] for v in group), group)]
        else:
            members = sorted(group, key=lambda v: (-mem[v], -cpu[v], v))
            needs = [(cpu[v], mem[v], [v]) for v in members]
        aside: list[int] = []
        placed: list[tuple[int, int, int, list[int]]] = []
        j = 0
        while j < len(needs) and heap:
            h = heapq.heappop(heap)[1]
            aside.append(h)
            c, m, vs = needs[j]
            if c <= cpu_free[h] and m <= mem_free[h]:
                cpu_free[h] -= c
                mem_free[h] -= m
                placed.append((h, c, m, vs))
                j += 1
        if j < len(needs):
            for h, c, m, _ in placed:
                cpu_free[h] += c
                mem_free[h] += m
            failed.append(index)
        else:
            for h, _, _, vs in placed:
                for v in vs:
                    assign[v] = h
        for h in aside:
            heapq.heappush(heap, (loads.key(h), h))
    return failed


def _auto_overcommit(hosts: Hosts, vms: Vms) -> float:
    """The smallest overcommit (1.0 or a 0.05 step) at which VM memory fills <= 85 % of up hosts."""
    ratio = float(vms.memory_mib.sum()) / float(hosts.memory_mib[hosts.up].sum())
    steps = math.ceil(round(ratio / MEMORY_FILL_TARGET / OVERCOMMIT_STEP, 9))
    return max(1.0, round(steps * OVERCOMMIT_STEP, 2))


def witness_with_overcommit(
    spec: SynthSpec, hosts: Hosts, vms: Vms, rules: list[RuleDraft], host_groups: list[IntArray]
) -> tuple[float, IntArray]:
    """The memory overcommit and a witness placement at it (raising the overcommit if it must)."""
    if spec.memory_overcommit is not None:
        try:
            return spec.memory_overcommit, _witness(hosts, vms, rules, host_groups, spec.memory_overcommit)
        except _OverfullError:
            raise SpecError(
                [
                    (
                        "memory_overcommit",
                        f"{spec.vms} VMs' configured memory does not fit {spec.up_hosts} up hosts at "
                        f"overcommit {spec.memory_overcommit}; raise it or leave it automatic",
                    )
                ]
            ) from None
    overcommit = _auto_overcommit(hosts, vms)
    pristine = [(r.alive, r.vms) for r in rules]
    for _ in range(OVERCOMMIT_RETRIES):
        try:
            return overcommit, _witness(hosts, vms, rules, host_groups, overcommit)
        except _OverfullError:
            for rule, (alive, _) in zip(rules, pristine, strict=True):
                rule.alive = alive
            overcommit = round(overcommit + OVERCOMMIT_STEP, 2)
    raise SpecError([("vms", f"{spec.vms} VMs do not fit {spec.up_hosts} up hosts")])


def _witness(
    hosts: Hosts, vms: Vms, rules: list[RuleDraft], host_groups: list[IntArray], overcommit: float
) -> IntArray:
    """Place every VM on an up host within capacity, meeting every rule; drop rules that cannot be met.

    Restricted VMs go first (affinity groups, anti-affinity groups, VM-to-host groups, island VMs),
    on up hosts other than those to be emptied by the skew, then the rest anywhere up. Within a
    phase, larger VMs go first. A rule that does not fit is dropped (its VMs join the rest); an
    island VM that does not fit its island loses the island attachment. Raises ``_OverfullError`` when
    even the rest cannot be placed for memory.
    """
    n_vms = vms.vcpus.size
    cpu_cap = hosts.cpu_mhz.astype(np.float64)
    mem_cap = hosts.memory_mib.astype(np.float64) * overcommit
    loads = Loads.empty(cpu_cap, mem_cap)
    cpu = vms.cpu_mhz.tolist()
    mem = vms.memory_mib.tolist()
    assign = [-1] * n_vms
    need = vms.need.copy()  # written back only on success, so a retry starts from the draw
    up = hosts.up
    restricted_hosts = up & ~hosts.returned
    domain_all = np.flatnonzero(up)
    domain_restricted = np.flatnonzero(restricted_hosts)

    # Largest first, measured against the average up host; ties broken by index for determinism.
    size = np.maximum(vms.cpu_mhz / cpu_cap[up].mean(), vms.memory_mib / mem_cap[up].mean())
    rank = np.empty(n_vms, dtype=np.int64)
    rank[np.lexsort((np.arange(n_vms), -size))] = np.arange(n_vms)

    def by_size(ids: Sequence[int]) -> list[int]:
        return sorted(ids, key=lambda v: rank[v])

    def place_rule_groups(kind: RuleKind, together: bool) -> None:
        drafts = [r for r in rules if r.alive and r.kind is kind]
        drafts.sort(key=lambda r: -sum(mem[v] for v in r.vms))
        for index in _place_groups(
            [r.vms for r in drafts], together, domain_restricted, loads, cpu, mem, assign
        ):
            drafts[index].alive = False

    place_rule_groups(RuleKind.AFFINITY, together=True)
    place_rule_groups(RuleKind.ANTI_AFFINITY, together=False)

    by_domain: dict[tuple[int, bool], list[RuleDraft]] = {}
    for rule in rules:
        if rule.alive and rule.kind is RuleKind.VM_HOST:
            by_domain.setdefault((rule.host_group, rule.wants_hosts), []).append(rule)
    for (group, wants), drafts in sorted(by_domain.items()):
        inside = np.zeros(hosts.state.size, dtype=np.bool_)
        inside[host_groups[group]] = True
        domain = np.flatnonzero(restricted_hosts & (inside == wants))
        owner = {v: rule for rule in drafts for v in rule.vms}
        for v in place_singles(by_size(list(owner)), domain, loads, cpu, mem, assign):
            owner[v].alive = False  # its placed members stay where they are, now unconstrained

    for bit in (NEED_ISLAND, NEED_DMZ):
        ids = np.flatnonzero(vms.need & bit).tolist()
        domain = np.flatnonzero(restricted_hosts & (hosts.has & bit > 0))
        for v in place_singles(by_size(ids), domain, loads, cpu, mem, assign):
            need[v] = 0

    rest = [v for v in range(n_vms) if assign[v] < 0]
    for v in place_singles(by_size(rest), domain_all, loads, cpu, mem, assign):
        # No up host has room for both: take the one with most CPU room among those with memory
        # room and lower the VM's CPU demand to fit (a packed cluster only; the load drops a little).
        fits = [h for h in domain_all.tolist() if mem[v] <= loads.mem_free[h]]
        if not fits:
            raise _OverfullError
        h = max(fits, key=lambda k: (loads.cpu_free[k], -k))
        cpu[v] = max(min(cpu[v], math.floor(loads.cpu_free[h])), 0)
        loads.cpu_free[h] -= cpu[v]
        loads.mem_free[h] -= mem[v]
        assign[v] = h
    vms.cpu_mhz = np.array(cpu, dtype=np.int64)
    vms.need = need
    return np.array(assign, dtype=np.int64)

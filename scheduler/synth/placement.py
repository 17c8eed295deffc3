"""Step 5, the initial placement: the witness perturbed by moves whose reverse is a legal migration
(maintenance hosts filled, the skew, some soft rules and anti-affinity rules started broken)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scheduler.model import HostRuleMode, RuleKind
from scheduler.model import defaults as d
from scheduler.synth.columns import MAINTENANCE, BoolArray, FloatArray, IntArray
from scheduler.synth.distributions import (
    ANTI_AFFINITY_BROKEN_FRACTION,
    HOT_EXTRA_UTILIZATION,
    HOT_HOST_FRACTION,
    HOT_MAX_UTILIZATION,
    IMMOBILE_KINDS,
    SOFT_RULE_BROKEN_FRACTION,
)
from scheduler.synth.hosts import Hosts
from scheduler.synth.rules import RuleDraft
from scheduler.synth.spec import SynthSpec
from scheduler.synth.vms import Vms
from scheduler.synth.witness import Loads, place_singles


@dataclass(slots=True)
class _Placement:
    """The initial placement being perturbed, with per-host use kept in step."""

    host: IntArray
    cpu_used: FloatArray
    mem_used: FloatArray
    cpu_cap: FloatArray
    mem_cap: FloatArray
    vm_cpu: IntArray
    vm_mem: IntArray

    def fits(self, v: int, h: int) -> bool:
        return bool(
            self.cpu_used[h] + self.vm_cpu[v] <= self.cpu_cap[h]
            and self.mem_used[h] + self.vm_mem[v] <= self.mem_cap[h]
        )

    def move(self, ids: IntArray, target: int) -> None:
        sources = self.host[ids]
        np.subtract.at(self.cpu_used, sources, self.vm_cpu[ids])
        np.subtract.at(self.mem_used, sources, self.vm_mem[ids])
        self.cpu_used[target] += float(self.vm_cpu[ids].sum())
        self.mem_used[target] += float(self.vm_mem[ids].sum())
        self.host[ids] = target


def _migrations_complete(spec: SynthSpec, vms: Vms) -> BoolArray:
    """Per VM, whether its live migration alone on an idle link ends with the VM moved (it may
    exceed the downtime limit, but the hypervisor does not give up), under the policy the
    inventory is written with. One estimate per distinct (memory, dirty rate)."""
    from scheduler.migration.precopy import MigrationInput, simulate
    from scheduler.migration.presets import preset_for

    preset = preset_for(
        spec.hypervisor,
        downtime_limit_ms=d.DEFAULT_DOWNTIME_LIMIT_MS,
        timeout_s=d.DEFAULT_MIGRATION_TIMEOUT_S,
    )
    verdict: dict[tuple[int, float], bool] = {}
    out = np.ones(vms.memory_mib.size, dtype=np.bool_)
    for k, key in enumerate(zip(vms.memory_mib.tolist(), vms.dirty_rate_mibps.tolist(), strict=True)):
        if key not in verdict:
            run = simulate(MigrationInput(float(key[0]), key[1], spec.network_gbps), preset)
            verdict[key] = run.outcome != "aborted"
        out[k] = verdict[key]
    return out


def initial_placement(
    spec: SynthSpec,
    hosts: Hosts,
    vms: Vms,
    rules: list[RuleDraft],
    host_groups: list[IntArray],
    witness: IntArray,
    overcommit: float,
    rng: np.random.Generator,
) -> IntArray:
    """The witness, perturbed by moves whose reverse is a legal migration (see the package docstring)."""
    n_vms = witness.size
    in_rule = np.zeros(n_vms, dtype=np.bool_)
    for rule in rules:
        if rule.alive:
            in_rule[rule.vms] = True

    # New VMs and immobile VMs come from VMs in no rule; immobile ones never on a host to be emptied.
    free = np.flatnonzero(~in_rule)
    new = rng.permutation(free)[: spec.new_vms]
    vms.new[new] = True
    candidates = np.flatnonzero(~in_rule & ~vms.new & ~hosts.returned[witness])
    n_immobile = min(round(spec.immobile_fraction * n_vms), candidates.size)
    immobile = np.sort(rng.permutation(candidates)[:n_immobile])
    vms.immobile_kind[immobile] = np.arange(n_immobile) % IMMOBILE_KINDS

    host = witness.copy()
    host[vms.new] = -1
    placed = host >= 0
    cpu_cap = hosts.cpu_mhz.astype(np.float64)
    mem_cap = hosts.memory_mib.astype(np.float64) * overcommit
    p = _Placement(
        host=host,
        cpu_used=np.bincount(host[placed], weights=vms.cpu_mhz[placed], minlength=cpu_cap.size).astype(
            np.float64
        ),
        mem_used=np.bincount(host[placed], weights=vms.memory_mib[placed], minlength=cpu_cap.size).astype(
            np.float64
        ),
        cpu_cap=cpu_cap,
        mem_cap=mem_cap,
        vm_cpu=vms.cpu_mhz,
        vm_mem=vms.memory_mib,
    )
    donor = ~in_rule & ~vms.new & (vms.immobile_kind < 0)
    # Donors are drawn in one random order shared by every host that draws them; the masks live
    # in that order, and the part that depends only on the target's CPU and islands is cached.
    order = rng.permutation(n_vms)
    position = np.empty(n_vms, dtype=np.int64)
    position[order] = np.arange(n_vms)
    unmoved = donor[order].copy()
    vendor_of = hosts.vendor[witness[order]]
    generation_of = hosts.generation[witness[order]]
    need_of = vms.need[order]
    static: dict[tuple[int, int, int], BoolArray] = {}

    def compatible_donors(target: int) -> BoolArray:
        """Unmoved donors (in the shared order) whose way back from ``target`` is a legal move."""
        key = (int(hosts.vendor[target]), int(hosts.generation[target]), int(hosts.has[target]))
        if key not in static:
            ok: BoolArray = (vendor_of == key[0]) & ((need_of & ~key[2]) == 0)
            if not spec.imc:
                ok &= generation_of >= key[1]
            static[key] = ok
        return static[key] & unmoved

    def move(ids: IntArray, target: int) -> None:
        p.move(ids, target)
        unmoved[position[ids]] = False

    def fill(target: int, cpu_room: float, mask: BoolArray, max_count: int) -> None:
        """Move donors in ``mask`` onto ``target``, in the shared random order, up to the rooms."""
        ids = order[mask]
        mem_room = p.mem_cap[target] - p.mem_used[target]
        ids = ids[(p.vm_cpu[ids] <= cpu_room) & (p.vm_mem[ids] <= mem_room)][:max_count]
        if ids.size == 0:
            return
        take = (np.cumsum(p.vm_cpu[ids]) <= cpu_room) & (np.cumsum(p.vm_mem[ids]) <= mem_room)
        move(ids[: int(np.argmin(take)) if not take.all() else ids.size], target)

    # Maintenance hosts: filled like an average up host (load, VM count), so evacuating them is
    # real work and, in a cluster with few VMs, every maintenance host gets some. Only with VMs
    # whose live migration completes under the cluster's hypervisor and link: a VM that must
    # leave and cannot would make the instance infeasible, and the witness promises otherwise.
    per_host = max(1, math.ceil(int(np.count_nonzero(placed)) / max(int(np.count_nonzero(hosts.up)), 1)))
    maintenance = np.flatnonzero(hosts.state == MAINTENANCE).tolist()
    evacuable = _migrations_complete(spec, vms)[order] if maintenance else None
    for m in maintenance:
        assert evacuable is not None
        mask = compatible_donors(m) & evacuable
        room = max(spec.load * p.cpu_cap[m] - p.cpu_used[m], 0.0)
        fill(m, room, mask, per_host)
        if not (p.host == m).any() and mask.any():
            # Every donor is bigger than an average host's share: take the smallest one that fits.
            ids = order[mask]
            ids = ids[(p.vm_cpu[ids] <= p.cpu_cap[m]) & (p.vm_mem[ids] <= p.mem_cap[m])]
            if ids.size:
                move(ids[[int(np.argmin(p.vm_cpu[ids]))]], m)

    up = np.flatnonzero(hosts.up)
    if spec.skew == "hotspots" and up.size >= 2:
        count = min(max(1, round(HOT_HOST_FRACTION * up.size)), up.size - 1)
        hot = np.sort(rng.permutation(up)[:count])
        cold = np.ones(hosts.state.size, dtype=np.bool_)
        cold[hot] = False
        target_utilization = min(HOT_MAX_UTILIZATION, spec.load + HOT_EXTRA_UTILIZATION)
        cold_of = cold[witness[order]]  # donors come from hosts that are not hot themselves
        for h in hot.tolist():
            room = max(target_utilization * p.cpu_cap[h] - p.cpu_used[h], 0.0)
            fill(h, room, compatible_donors(h) & cold_of, n_vms)

    if spec.skew == "after_maintenance":
        for e in np.flatnonzero(hosts.returned).tolist():
            targets = hosts.up & ~hosts.returned & (hosts.vendor == hosts.vendor[e])
            if not spec.imc:
                targets &= hosts.generation <= hosts.generation[e]
            ids = np.flatnonzero((p.host == e) & (vms.need == 0))  # restricted VMs never go there
            _spread(p, ids[np.argsort(-p.vm_mem[ids], kind="stable")], np.flatnonzero(targets))

    _break_anti_affinity(spec, hosts, rules, p, rng)
    _break_soft_rules(spec, hosts, rules, host_groups, p, rng)
    return p.host


def _spread(p: _Placement, ids: IntArray, targets: IntArray) -> None:
    """Move ``ids`` one by one to the target with most relative room; those that fit nowhere stay."""
    if ids.size == 0 or targets.size == 0:
        return
    loads = Loads.empty(p.cpu_cap, p.mem_cap)
    loads.cpu_free = (p.cpu_cap - p.cpu_used).tolist()
    loads.mem_free = (p.mem_cap - p.mem_used).tolist()
    assign = [-1] * p.host.size
    place_singles(ids.tolist(), targets, loads, p.vm_cpu.tolist(), p.vm_mem.tolist(), assign)
    for v in ids.tolist():
        if assign[v] >= 0:
            p.move(np.array([v]), assign[v])


def _legal_targets(spec: SynthSpec, hosts: Hosts, source: int) -> BoolArray:
    """Up hosts a VM placed on them could leave for ``source`` (same vendor, not newer than it)."""
    ok: BoolArray = hosts.up & ~hosts.returned & (hosts.vendor == hosts.vendor[source])
    if not spec.imc:
        ok &= hosts.generation <= hosts.generation[source]
    return ok


def _break_anti_affinity(
    spec: SynthSpec, hosts: Hosts, rules: list[RuleDraft], p: _Placement, rng: np.random.Generator
) -> None:
    """Start about 15 % of anti-affinity rules with two members on one host (e.g. after an HA restart)."""
    for rule in rules:
        if not (rule.alive and rule.kind is RuleKind.ANTI_AFFINITY):
            continue
        if rng.random() >= ANTI_AFFINITY_BROKEN_FRACTION:
            continue
        a, b = rule.vms[0], rule.vms[1]
        target = int(p.host[a])
        if _legal_targets(spec, hosts, int(p.host[b]))[target] and p.fits(b, target):
            p.move(np.array([b]), target)


def _break_soft_rules(
    spec: SynthSpec,
    hosts: Hosts,
    rules: list[RuleDraft],
    host_groups: list[IntArray],
    p: _Placement,
    rng: np.random.Generator,
) -> None:
    """Start about 25 % of should / should_not rules with one member on the wrong side."""
    for rule in rules:
        if not (rule.alive and rule.mode in (HostRuleMode.SHOULD, HostRuleMode.SHOULD_NOT)):
            continue
        if rng.random() >= SOFT_RULE_BROKEN_FRACTION:
            continue
        v = rule.vms[0]
        inside = np.zeros(hosts.state.size, dtype=np.bool_)
        inside[host_groups[rule.host_group]] = True
        targets = np.flatnonzero(_legal_targets(spec, hosts, int(p.host[v])) & (inside != rule.wants_hosts))
        for target in rng.permutation(targets).tolist():
            if p.fits(v, target):
                p.move(np.array([v]), target)
                break

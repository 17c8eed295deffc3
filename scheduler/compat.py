"""Migration compatibility: which host may hold which VM at the end of a plan, and why not.

The optimizer takes ``Compatibility.allowed`` as each VM's candidate host set, the migration
planner and the checker test every move target against it, and ``unmovable`` feeds the plan's
``unmovable`` list. The rules come from docs/inventory.md and the FusionCompute facts (IMC, DVS, shared
storage, linked clones, devices).

Semantics of ``allowed[v, h]`` (True = VM ``v`` may be on host ``h`` when the plan ends, and a
migration of ``v`` may target ``h``):

- ``h`` must be usable: ``up`` or ``standby`` (a standby host may be powered on first). A host in
  ``maintenance`` or ``down`` is never allowed, not even for the VMs that run on it now.
- Every priority-1 rule of ``v`` must accept ``h`` (``must``: ``h`` is one of the rule's hosts;
  ``must_not``: it is not). This binds the current host too: a VM that breaks a ``must`` rule
  where it runs has to move.
- ``v``'s *current* host is otherwise always allowed, even where the migration tests below would
  refuse it (a VM already running there needs no migration to stay; e.g. its host lost a
  datastore path it does not use, or IMC was raised after it booted).
- Any other host must pass the migration tests: it sees all of ``v``'s datastores and networks
  (DVS), its CPU vendor equals the current host's, and its CPU generation is at least the
  baseline (the IMC generation when ``policy.imc`` is set, else the current host's generation).
- An immobile VM (pinned, devices, DRS disabled, linked clone) with a host may only stay there.
- A new VM (no host) has no current host: it may go to any host that sees its datastores and
  networks and, when IMC is set, whose vendor is the IMC vendor and generation at least the IMC
  generation; without IMC any CPU will do. Immobility flags do not restrict a new VM: initial
  placement is not a move.

The matrix is computed per *signature* (datastores, networks, current host's CPU, new or not,
immobile or not): clusters hold thousands of VMs but few distinct signatures, so each host test
runs once per signature and rows are broadcast by fancy indexing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from scheduler.model import NO_HOST, VM, CpuModel, Host, HostState, Instance, Rule, Unmovable
from scheduler.model.instance import BoolArray, IntArray

# Exclusion codes, stable for callers that map them to findings or conflicts.
STORAGE = "storage"
NETWORK = "network"
CPU_VENDOR = "cpu.vendor"
CPU_GENERATION = "cpu.generation"
HOST_STATE = "host.state"
IMMOBILE = "immobile"
RULE_P1 = "rule.p1"


@dataclass(frozen=True, slots=True)
class Exclusion:
    """One reason why a VM may not be on a host: a stable code, a message, the rule if any."""

    code: str
    message: str
    rule: str | None = None


@dataclass(frozen=True, eq=False)
class Compatibility:
    """Where each VM may be at the end of a plan (``allowed[vm, host]``), with reasons on demand.

    ``allowed`` is read-only, rows in ``instance.vms`` order, columns in ``instance.hosts`` order.
    Reasons are recomputed per pair when asked (cheap, and never needed for most pairs).
    """

    instance: Instance
    allowed: BoolArray
    _p1_rules_of_vm: dict[str, tuple[Rule, ...]] = field(repr=False)

    def is_allowed(self, vm: str, host: str) -> bool:
        """Whether ``vm`` may be on ``host`` at the end of a plan (see the module docstring)."""
        inst = self.instance
        return bool(self.allowed[inst.vm_index[vm], inst.host_index[host]])

    def allowed_hosts(self, vm: str) -> list[str]:
        """The hosts ``vm`` may be on, in inventory order."""
        row = self.allowed[self.instance.vm_index[vm]]
        return [self.instance.hosts[i].name for i in np.flatnonzero(row)]

    def explain(self, vm: str, host: str) -> list[Exclusion]:
        """Every reason why ``vm`` may not be on ``host`` (empty exactly when it is allowed)."""
        inst = self.instance
        v = inst.vm(vm)
        h = inst.host(host)
        out: list[Exclusion] = []
        if h.state is HostState.MAINTENANCE:
            out.append(Exclusion(HOST_STATE, f"host {h.name} is in maintenance"))
        elif h.state is HostState.DOWN:
            out.append(Exclusion(HOST_STATE, f"host {h.name} is down"))
        for rule in self._p1_rules_of_vm.get(vm, ()):
            if not rule.allows_host(h.name):
                verb = "must run on" if rule.wants_hosts else "must not run on"
                group = rule.host_group or ", ".join(rule.hosts)
                out.append(Exclusion(RULE_P1, f"priority-1 rule {rule.name}: {vm} {verb} {group}", rule.name))
        if v.host == h.name:
            return out  # staying needs no migration: only state and priority-1 rules apply
        immobile = v.immobility_reasons()
        if v.host is not None and immobile:
            out.extend(Exclusion(IMMOBILE, f"{r}: stays on {v.host}") for r in immobile)
        out.extend(_migration_exclusions(inst, v, h))
        return out

    def reasons(self, vm: str, host: str) -> list[str]:
        """Messages of ``explain``: why ``vm`` may not be on ``host`` (empty when it may)."""
        return [e.message for e in self.explain(vm, host)]

    def excluded_reasons(self, vm: str) -> dict[str, list[str]]:
        """For every host ``vm`` may not be on, the reasons, in inventory order."""
        row = self.allowed[self.instance.vm_index[vm]]
        return {
            self.instance.hosts[i].name: self.reasons(vm, self.instance.hosts[i].name)
            for i in np.flatnonzero(~row)
        }

    @cached_property
    def num_allowed(self) -> IntArray:
        """Number of allowed hosts per VM (0 means the VM cannot be placed at all)."""
        counts: IntArray = self.allowed.sum(axis=1).astype(np.int64)
        return counts


def compatibility(instance: Instance) -> Compatibility:
    """Build the allowed[vm, host] matrix of ``instance`` (semantics in the module docstring).

    Cost: one host test per distinct VM signature plus O(VMs × hosts) boolean broadcasting; a
    10,000-VM × 128-host cluster takes a few tens of milliseconds.
    """
    n_vms, n_hosts = instance.num_vms, instance.num_hosts
    hosts = instance.hosts
    imc = instance.policy.imc

    # Host-side tables: datastore / network incidence, CPU vendor and generation.
    ds_names = sorted(
        {d for h in hosts for d in h.datastores} | {d for v in instance.vms for d in v.datastores}
    )
    net_names = sorted({n for h in hosts for n in h.networks} | {n for v in instance.vms for n in v.networks})
    ds_col = {d: i for i, d in enumerate(ds_names)}
    net_col = {n: i for i, n in enumerate(net_names)}
    host_ds = np.zeros((n_hosts, len(ds_names)), dtype=np.bool_)
    host_net = np.zeros((n_hosts, len(net_names)), dtype=np.bool_)
    for i, h in enumerate(hosts):
        host_ds[i, [ds_col[d] for d in h.datastores]] = True
        host_net[i, [net_col[n] for n in h.networks]] = True
    host_vendor = np.array([h.cpu.vendor for h in hosts], dtype=object)
    host_gen = np.array([h.cpu.generation for h in hosts], dtype=np.int64)

    # One signature per distinct (datastores, networks, baseline CPU, new) tuple.
    current = instance.current_host
    sig_index: dict[tuple[frozenset[str], frozenset[str], CpuModel | None], int] = {}
    sig_of_vm = np.empty(n_vms, dtype=np.int64)
    for k, v in enumerate(instance.vms):
        # VMs on hosts with the same CPU model get the same migration row: key on the model, not the host.
        cur = int(current[k])
        key = (v.datastores, v.networks, None if cur == NO_HOST else hosts[cur].cpu)
        sig_of_vm[k] = sig_index.setdefault(key, len(sig_index))

    sig_rows = np.ones((len(sig_index), n_hosts), dtype=np.bool_)
    for (datastores, networks, src), s in sig_index.items():
        row = sig_rows[s]
        if datastores:
            row &= host_ds[:, [ds_col[d] for d in datastores]].all(axis=1)
        if networks:
            row &= host_net[:, [net_col[n] for n in networks]].all(axis=1)
        if src is None:
            if imc is not None:
                row &= (host_vendor == imc.vendor) & (host_gen >= imc.generation)
        else:
            baseline = imc.generation if imc is not None else src.generation
            row &= (host_vendor == src.vendor) & (host_gen >= baseline)

    allowed = sig_rows[sig_of_vm]  # fancy indexing copies: rows are independent from here on
    placed = current != NO_HOST
    placed_idx = np.flatnonzero(placed)
    allowed[placed_idx, current[placed_idx]] = True  # staying needs no migration

    immobile = np.array(
        [v.host is not None and bool(v.immobility_reasons()) for v in instance.vms], dtype=bool
    )
    if immobile.any():
        imm_idx = np.flatnonzero(immobile)
        allowed[imm_idx] = False
        allowed[imm_idx, current[imm_idx]] = True

    usable = np.array([h.state in (HostState.UP, HostState.STANDBY) for h in hosts], dtype=np.bool_)
    allowed &= usable[np.newaxis, :]

    p1_of_vm: dict[str, list[Rule]] = {}
    vm_index = instance.vm_index
    for rule in instance.rules:
        if not rule.is_hard:
            continue
        # The reader has checked every name, so the rule's own mask applies as the checker's does.
        rows = [vm_index[v] for v in rule.vms]
        allowed[rows] &= instance.accepted_hosts(rule)[np.newaxis, :]
        for name in rule.vms:
            p1_of_vm.setdefault(name, []).append(rule)

    allowed.setflags(write=False)
    return Compatibility(instance, allowed, {k: tuple(r) for k, r in p1_of_vm.items()})


def allowed_before_rules(instance: Instance, compat: Compatibility | None = None) -> BoolArray:
    """allowed[vm, host] without the priority-1 rules: the migration tests and the hosts' states
    alone, what a conflict or an explanation sets a rule against. ``compat``, the instance's own,
    is reused where there is no priority-1 rule to lift."""
    if compat is not None and not any(rule.is_hard for rule in instance.rules):
        return compat.allowed
    return compatibility(replace(instance, rules=tuple(r for r in instance.rules if not r.is_hard))).allowed


def unmovable(instance: Instance, compat: Compatibility | None = None) -> list[Unmovable]:
    """The placed VMs that cannot move at all, with the reasons (the plan's ``unmovable`` list).

    A VM is unmovable when it is immobile (pinned, devices, DRS disabled, linked clone) or when no
    host other than its current one is allowed; the reasons then summarise why each other host
    is excluded, grouped by exclusion code. New VMs are never listed: they are placed, not moved.
    """
    compat = compat if compat is not None else compatibility(instance)
    out: list[Unmovable] = []
    current = instance.current_host
    others = compat.allowed.copy()
    placed_idx = np.flatnonzero(current != NO_HOST)
    others[placed_idx, current[placed_idx]] = False
    stuck = (current != NO_HOST) & ~others.any(axis=1)
    for k in np.flatnonzero(stuck):
        v = instance.vms[k]
        reasons = v.immobility_reasons()
        if not reasons:
            reasons = [_summarise_exclusions(compat, v)]
        out.append(Unmovable(v.name, tuple(reasons)))
    return out


def _summarise_exclusions(compat: Compatibility, v: VM) -> str:
    """One line naming, per exclusion code, how many other hosts it rules out and one example."""
    by_code: dict[str, list[str]] = {}
    for h in compat.instance.hosts:
        if h.name == v.host:
            continue
        exclusions = compat.explain(v.name, h.name)
        codes_seen: set[str] = set()
        for e in exclusions:
            if e.code not in codes_seen:
                codes_seen.add(e.code)
                by_code.setdefault(e.code, []).append(e.message)
    if not by_code:
        return "no other host in the cluster"
    parts = [f"{len(msgs)} host(s): {msgs[0]}" for _, msgs in sorted(by_code.items())]
    return "no compatible host other than its own (" + "; ".join(parts) + ")"


def _migration_exclusions(instance: Instance, v: VM, h: Host) -> list[Exclusion]:
    """The storage, network and CPU tests a migration (or a new VM's placement) onto ``h`` fails."""
    out: list[Exclusion] = []
    missing_ds = ", ".join(sorted(v.datastores - h.datastores))
    if missing_ds:
        out.append(Exclusion(STORAGE, f"storage not shared: {h.name} lacks datastore(s) {missing_ds}"))
    missing_net = ", ".join(sorted(v.networks - h.networks))
    if missing_net:
        out.append(Exclusion(NETWORK, f"network missing: {h.name} lacks DVS/network(s) {missing_net}"))
    imc = instance.policy.imc
    cpu = h.cpu
    if v.host is None:
        if imc is None:
            return out  # a new VM has no CPU baseline without IMC
        vendor, vendor_of = imc.vendor, "the IMC vendor"
    else:
        vendor, vendor_of = instance.host(v.host).cpu.vendor, "the current host's"
    if cpu.vendor != vendor:
        out.append(Exclusion(CPU_VENDOR, f"CPU vendor {cpu.vendor} differs from {vendor_of} {vendor}"))
    elif imc is not None and cpu.generation < imc.generation:
        msg = f"CPU generation {cpu.generation} below the IMC baseline {imc.generation} (with IMC)"
        out.append(Exclusion(CPU_GENERATION, msg))
    elif imc is None and v.host is not None:
        src_gen = instance.host(v.host).cpu.generation
        if cpu.generation < src_gen:
            msg = f"CPU generation {cpu.generation} below the current host's {src_gen} (without IMC)"
            out.append(Exclusion(CPU_GENERATION, msg))
    return out

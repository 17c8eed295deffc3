"""Why an instance is infeasible: the smallest set of rules, hosts and VMs that cannot hold together.

Two passes. ``structural_conflicts`` catches what needs no search (a VM with no host it may run
on, a VM larger than every host it may use, demand beyond the whole cluster's capacity).
``explain_infeasibility`` asks CP-SAT: every hard group — each priority-1 rule, each host's
capacity, each maintenance host's evacuation — is guarded by an assumption literal; CP-SAT returns
a sufficient subset for infeasibility, which a deletion pass then shrinks to a minimal one (each
member is needed for the contradiction).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from ortools.sat.python import cp_model

from scheduler.check.bounds import distinct_rows
from scheduler.compat import Compatibility, allowed_before_rules
from scheduler.migration.precopy import estimate_vm
from scheduler.model import NO_HOST, Conflict, HostState, Instance, Rule
from scheduler.solver.problem import POWER_OFF
from scheduler.solver.sat import new_solver

CORE_CHECK_S = 2.0  # per deletion test
MAX_CORE_TO_MINIMIZE = 16
DIAGNOSIS_S = 10.0
EXACT_RULES = 10  # a VM's priority-1 rules searched by size for the fewest in a conflict


def structural_conflicts(instance: Instance, compat: Compatibility, power: np.ndarray) -> list[Conflict]:
    """Conflicts visible without search: VMs with nowhere to go, VMs larger than every host they
    may use, demand above the capacity of the hosts that can take it."""
    out: list[Conflict] = []
    usable = power != POWER_OFF
    ok = compat.allowed & usable[None, :]
    rules = _RuleMasks(instance, compat, usable)
    out += _oversized_vms(instance, ok, rules)
    out += _immobile_overload(instance, usable)
    for v in np.flatnonzero(~ok.any(axis=1)):
        out.append(_nowhere_to_go(instance, int(v), rules))
    out += _demand_beyond_capacity(instance, rules.relaxed, usable)
    return out


class _RuleMasks:
    """Per VM, the hosts compatibility and power allow before any priority-1 rule, and the
    fewest of its priority-1 rules that exclude what a conflict needs excluded: a conflict names
    those, not every rule the VM is in (each one it names is needed)."""

    def __init__(self, instance: Instance, compat: Compatibility, usable: np.ndarray) -> None:
        self.instance = instance
        self.usable = usable
        self._compat = compat
        self._relaxed: np.ndarray | None = None

    @property
    def relaxed(self) -> np.ndarray:
        """allowed[vm, host] with no priority-1 rule, on the usable hosts."""
        if self._relaxed is None:
            self._relaxed = allowed_before_rules(self.instance, self._compat) & self.usable[None, :]
        return self._relaxed

    def only_off(self, v: int) -> bool:
        """Whether ``v`` has hosts it may use, all powered off (standby with DPM off)."""
        allowed = np.asarray(self._compat.allowed[v])
        return bool(allowed.any() and not (allowed & self.usable).any())

    def base(self, v: int) -> np.ndarray:
        return np.asarray(self.relaxed[v])

    def fewest(self, v: int, keeps_out: np.ndarray) -> tuple[Rule, ...]:
        """The fewest of ``v``'s priority-1 rules that, with compatibility, leave it no host of
        ``keeps_out``: by size up to ``EXACT_RULES`` rules, then by deletion (each one needed)."""
        name = self.instance.vms[v].name
        mine = [r for r in self.instance.rules if r.is_hard and name in r.vms]
        allowed = self.base(v) & keeps_out

        def excludes(chosen: Sequence[Rule]) -> bool:
            mask = allowed.copy()
            for r in chosen:
                mask &= self.instance.accepted_hosts(r)
            return not mask.any()

        if len(mine) <= EXACT_RULES:
            for size in range(len(mine) + 1):
                for chosen in itertools.combinations(mine, size):
                    if excludes(chosen):
                        return chosen
        kept = list(mine)
        for rule in mine:
            trial = [r for r in kept if r is not rule]
            if excludes(trial):
                kept = trial
        return tuple(kept)


def _nowhere_to_go(instance: Instance, v: int, rules: _RuleMasks) -> Conflict:
    """A VM no usable host may take: its evacuation, its immobility or the rules that forbid the
    hosts compatibility allows, named as few as make the contradiction."""
    vm = instance.vms[v]
    reasons = vm.immobility_reasons()
    on = instance.host(vm.host) if vm.host is not None else None
    if on is not None and on.state in (HostState.MAINTENANCE, HostState.DOWN):
        named = () if reasons else rules.fewest(v, rules.usable)
        why = f"VM {vm.name} must leave {on.state.value} host {on.name}"
        if reasons:
            why += f" but cannot move ({'; '.join(reasons)})"
        else:
            why += " and no other host may take it"
            why += f" ({_rules_phrase(named)})" if named else ""
        return Conflict("maintenance", vm.name, why, rules=_names(named), hosts=(on.name,), vms=(vm.name,))
    if reasons and on is not None:
        # It stays where it is, so the rules that matter are those forbidding that host: one is enough.
        here = np.zeros(instance.num_hosts, dtype=np.bool_)
        here[instance.host_index[on.name]] = True
        named = rules.fewest(v, here)
        verb = "forbids" if len(named) == 1 else "forbid"
        why = f"VM {vm.name} cannot move ({'; '.join(reasons)}) and {_rules_phrase(named)} {verb}"
        why += f" its host {on.name}"
        return Conflict("rule", vm.name, why, rules=_names(named), hosts=(on.name,), vms=(vm.name,))
    named = rules.fewest(v, rules.usable)
    why = f"VM {vm.name} has no host it may run on"
    if named:
        why += f" ({_rules_phrase(named)} together with compatibility)"
    elif rules.only_off(v):
        why += ": the hosts that may take it are in standby, and stay off with DPM off"
    return Conflict("rule" if named else "compatibility", vm.name, why, rules=_names(named), vms=(vm.name,))


def _rules_phrase(rules: Sequence[Rule]) -> str:
    return f"priority-1 rule{'' if len(rules) == 1 else 's'} {', '.join(r.name for r in rules)}"


def _names(rules: tuple[Rule, ...]) -> tuple[str, ...]:
    return tuple(r.name for r in rules)


def _demand_beyond_capacity(instance: Instance, ok: np.ndarray, usable: np.ndarray) -> list[Conflict]:
    """Demand above the capacity of the hosts that can take it, per group of hosts the VMs link
    (hosts sharing a VM that may run on both; ``ok`` without priority-1 rules, so the conflict
    needs none): a host no VM of the group may use is no part of its conflict. Any group over
    capacity is one; checked over the whole cluster, it named every host."""
    out: list[Conflict] = []
    standby_off = np.array([h.state is HostState.STANDBY for h in instance.hosts], dtype=np.bool_) & ~usable
    off = " (DPM off: the hosts in standby stay off)" if standby_off.any() else ""
    group = _host_groups(ok)
    vm_group = np.where(ok.any(axis=1), group[np.argmax(ok, axis=1)], -1)
    for g in np.unique(vm_group[vm_group >= 0]):
        hosts = np.flatnonzero((group == g) & usable)
        vms = vm_group == g
        names = tuple(instance.hosts[h].name for h in hosts)
        cpu_total = int(instance.vm_cpu_demand_mhz[vms].sum())
        cpu_cap = int(instance.host_cpu_mhz[hosts].sum())
        mem_total = int(instance.vm_memory_mib[vms].sum())
        mem_cap = float(instance.host_memory_admission_mib[hosts].sum())
        whose = (
            "the hosts a plan may use" + off
            if len(hosts) == int(usable.sum())
            else f"the hosts that may take them ({', '.join(names)})"
        )
        if cpu_total > cpu_cap:
            out.append(
                Conflict(
                    "capacity",
                    "cpu",
                    f"CPU demand {cpu_total} MHz exceeds the {cpu_cap} MHz of {whose}",
                    hosts=names,
                )
            )
        if mem_total > mem_cap:
            out.append(
                Conflict(
                    "capacity",
                    "memory",
                    f"configured memory {mem_total} MiB exceeds the {mem_cap:.0f} MiB {whose} admit",
                    hosts=names,
                )
            )
    return out


def _host_groups(ok: np.ndarray) -> np.ndarray:
    """Label hosts by the groups VMs link: two hosts are in one group when some VM may use both."""
    parent = np.arange(ok.shape[1])

    def root(h: int) -> int:
        while parent[h] != h:
            parent[h] = parent[parent[h]]
            h = int(parent[h])
        return h

    rows, _ = distinct_rows(ok)  # VMs of one signature link the same hosts
    for row in rows:
        hosts = np.flatnonzero(row)
        for h in hosts[1:]:
            a, b = root(int(hosts[0])), root(int(h))
            if a != b:
                parent[b] = a
    return np.array([root(h) for h in range(ok.shape[1])], dtype=np.int64)


def _oversized_vms(instance: Instance, ok: np.ndarray, rules: _RuleMasks) -> list[Conflict]:
    """VMs whose CPU demand or configured memory exceeds the largest host they may use. Without
    this the conflict search names only host capacities, and never the VM that fits none of them.
    Where a larger host would take it but for its priority-1 rules, the fewest of those that keep
    it off every host large enough are named too."""
    out: list[Conflict] = []
    cpu_cap = instance.host_cpu_mhz
    mem_cap = np.floor(instance.host_memory_admission_mib).astype(np.int64)  # as the CP model has it
    cpu_need = instance.vm_cpu_demand_mhz
    mem_need = instance.vm_memory_mib
    # Per VM, the most any host it may use holds (-1 where it may use none: reported above),
    # computed once per distinct row.
    rows, which = distinct_rows(ok)
    cpu_most = np.where(rows, cpu_cap[None, :], -1).max(axis=1, initial=-1)[which]
    mem_most = np.where(rows, mem_cap[None, :], -1).max(axis=1, initial=-1)[which]
    for v in np.flatnonzero(ok.any(axis=1) & ((cpu_need > cpu_most) | (mem_need > mem_most))):
        vm = instance.vms[v]
        needs: list[str] = []
        largest: list[str] = []
        hosts: list[str] = []
        for need, most, caps, what, unit in (
            (cpu_need[v], cpu_most[v], cpu_cap, "CPU", "MHz"),
            (mem_need[v], mem_most[v], mem_cap, "configured memory", "MiB"),
        ):
            if need <= most:
                continue
            biggest = instance.hosts[int(np.flatnonzero(ok[v] & (caps == most))[0])].name
            needs.append(f"{int(need):,} {unit} of {what}")
            largest.append(f"{int(most):,} {unit} ({biggest})")
            hosts.append(biggest)
        where = "the largest host it may use has" if len(needs) == 1 else "the largest hosts it may use have"
        why = f"VM {vm.name} needs {' and '.join(needs)}; {where} {' and '.join(largest)}"
        large_enough = (cpu_cap >= cpu_need[v]) & (mem_cap >= mem_need[v])
        named: tuple[Rule, ...] = ()
        if (rules.base(int(v)) & large_enough).any():
            named = rules.fewest(int(v), large_enough)
            why += f", {_rules_phrase(named)} keeping it off every host large enough"
        out.append(
            Conflict(
                "capacity",
                vm.name,
                why,
                rules=_names(named),
                hosts=tuple(dict.fromkeys(hosts)),
                vms=(vm.name,),
            )
        )
    return out


def _immobile_overload(instance: Instance, usable: np.ndarray) -> list[Conflict]:
    """Hosts that stay usable whose VMs that cannot move (pinned, devices, DRS off...) alone exceed
    the host's CPU or admitted memory: no plan relieves them (a host leaving service is reported
    for the VMs that cannot leave it). The model holds such VMs as fixed load, which no
    capacity constraint can then hold, so without this the overload would only show in the checker."""
    immobile = np.array([bool(v.immobility_reasons()) for v in instance.vms], dtype=np.bool_)
    immobile &= instance.current_host != NO_HOST
    hosts = instance.current_host[immobile]
    n = instance.num_hosts
    cpu = np.bincount(hosts, instance.vm_cpu_demand_mhz[immobile], minlength=n)
    mem = np.bincount(hosts, instance.vm_memory_mib[immobile], minlength=n)
    mem_cap = np.floor(instance.host_memory_admission_mib)  # as the CP model and the checker have it
    out: list[Conflict] = []
    for h in np.flatnonzero(usable & ((cpu > instance.host_cpu_mhz) | (mem > mem_cap))):
        host = instance.hosts[h]
        vms = tuple(instance.vms[v].name for v in np.flatnonzero(immobile & (instance.current_host == h)))
        over = []
        if cpu[h] > instance.host_cpu_mhz[h]:
            over.append(f"{int(cpu[h]):,} MHz of CPU against its {int(instance.host_cpu_mhz[h]):,} MHz")
        if mem[h] > mem_cap[h]:
            admits = int(mem_cap[h])
            over.append(f"{int(mem[h]):,} MiB of configured memory against the {admits:,} MiB it admits")
        out.append(
            Conflict(
                "capacity",
                host.name,
                f"the VMs on host {host.name} that cannot move ({', '.join(vms)}) need {' and '.join(over)}",
                hosts=(host.name,),
                vms=vms,
            )
        )
    return out


def migration_conflicts(instance: Instance, stuck: np.ndarray) -> list[Conflict]:
    """VMs that must move but whose live migration never completes, even alone on an idle link:
    the hypervisor's timeout ends it first, or the guest dirties memory faster than it is sent."""
    policy = instance.policy.migration
    out: list[Conflict] = []
    for v in np.flatnonzero(stuck & (instance.current_host != NO_HOST)):
        vm = instance.vms[v]
        alone = estimate_vm(vm, policy)
        if alone.stop_reason == "timeout":
            why = (
                f"its live migration cannot finish within the {policy.timeout_s:g} s migration timeout "
                f"under {policy.hypervisor}, even alone on an idle link ({vm.memory_mib:,} MiB at "
                f"{alone.precopy_rate_mibps:,.0f} MiB/s): raise the timeout or the migration bandwidth"
            )
        else:
            why = (
                f"its live migration would never complete under {policy.hypervisor} "
                f"({vm.dirty_rate_mibps:g} MiB/s dirtied, {policy.downtime_limit_ms:g} ms downtime limit): "
                "quiesce it, raise the downtime limit or use a preset that throttles the guest"
            )
        out.append(
            Conflict(
                "migration",
                vm.name,
                f"VM {vm.name} must leave host {vm.host} but {why}",
                hosts=(vm.host,) if vm.host else (),
                vms=(vm.name,),
            )
        )
    return out


def explain_infeasibility(
    instance: Instance,
    compat: Compatibility,
    power: np.ndarray,
    kept_in_place: np.ndarray | None = None,
) -> list[Conflict]:
    """A minimal set of hard groups that conflict: P1 rules, host capacities, evacuations, and the
    VMs kept in place because their migration would not converge (``kept_in_place``)."""
    relaxed = allowed_before_rules(instance, compat)
    usable = power != POWER_OFF
    model = cp_model.CpModel()
    current = instance.current_host
    # A new VM is placed, not moved: its immobility flags do not restrict where it starts.
    movable = np.array([not v.immobility_reasons() or v.host is None for v in instance.vms], dtype=np.bool_)
    x: list[dict[int, cp_model.IntVar]] = []
    for v in range(instance.num_vms):
        hosts = set(np.flatnonzero(relaxed[v] & usable).tolist()) if movable[v] else set()
        if current[v] != NO_HOST:
            hosts.add(int(current[v]))  # staying put is an option the evacuation literal may forbid
        row = {h: model.new_bool_var(f"x[{v},{h}]") for h in hosts}
        model.add_exactly_one(row.values())
        x.append(row)

    groups: dict[int, Conflict] = {}

    def literal(conflict: Conflict) -> cp_model.IntVar:
        lit = model.new_bool_var(conflict.name)
        groups[lit.index] = conflict
        return lit

    policy = instance.policy.migration
    for k in np.flatnonzero(kept_in_place if kept_in_place is not None else []):
        vm = instance.vms[k]
        cur = int(current[k])
        if cur == NO_HOST:
            continue
        lit = literal(
            Conflict(
                "migration",
                vm.name,
                f"VM {vm.name} stays on {vm.host}: its live migration would not converge under "
                f"{policy.hypervisor} ({vm.dirty_rate_mibps:g} MiB/s dirtied)",
                hosts=(vm.host,) if vm.host else (),
                vms=(vm.name,),
            )
        )
        for h, var in x[k].items():
            if h != cur:
                model.add(var == 0).only_enforce_if(lit)
    for rule in instance.rules:
        if not rule.is_hard:
            continue
        lit = literal(
            Conflict(
                "rule",
                rule.name,
                f"priority-1 rule {rule.name} ({rule.mode}) restricts {len(rule.vms)} VM(s)",
                rules=(rule.name,),
                vms=rule.vms,
            )
        )
        for name in rule.vms:
            v = instance.vm_index[name]
            for h, var in x[v].items():
                if not rule.allows_host(instance.hosts[h].name):
                    model.add(var == 0).only_enforce_if(lit)
    for h, host in enumerate(instance.hosts):
        residents = [(v, row[h]) for v, row in enumerate(x) if h in row]
        if not residents:
            continue
        if not usable[h]:
            lit = literal(
                Conflict(
                    "maintenance",
                    host.name,
                    f"host {host.name} ({host.state.value}) must end empty",
                    hosts=(host.name,),
                )
            )
            for _, var in residents:
                model.add(var == 0).only_enforce_if(lit)
            continue
        lit = literal(
            Conflict(
                "capacity",
                host.name,
                f"capacity of host {host.name} ({host.cpu_mhz} MHz, {host.memory_mib} MiB × overcommit)",
                hosts=(host.name,),
            )
        )
        vms = [v for v, _ in residents]
        xs = [var for _, var in residents]
        cpu = cp_model.LinearExpr.weighted_sum(xs, [int(instance.vm_cpu_demand_mhz[v]) for v in vms])
        mem = cp_model.LinearExpr.weighted_sum(xs, [int(instance.vm_memory_mib[v]) for v in vms])
        model.add(cpu <= int(host.cpu_mhz)).only_enforce_if(lit)
        model.add(mem <= int(instance.host_memory_admission_mib[h])).only_enforce_if(lit)

    literals = [model.get_bool_var_from_proto_index(i) for i in groups]
    status, core = _core(model, literals, DIAGNOSIS_S)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # Every group holds together: none of them is to blame, and saying that the search ran
        # out of time would be false.
        adds = "DPM's high target and the move budget" if instance.policy.dpm.enabled else "the move budget"
        return [
            Conflict(
                "unknown",
                "search",
                "priority-1 rules, host capacities and evacuations can all hold together, yet the "
                f"optimizer's placement model, which adds {adds}, has no placement",
            )
        ]
    if status != cp_model.INFEASIBLE:
        return [
            Conflict(
                "unknown",
                "search",
                "the hard constraints could not be satisfied, and the "
                f"conflict search did not finish within {DIAGNOSIS_S:.0f} s",
            )
        ]
    if len(core) <= MAX_CORE_TO_MINIMIZE:
        core = _minimize(model, core)
    return [groups[lit.index] for lit in core]


def _core(
    model: cp_model.CpModel, literals: list[cp_model.IntVar], time_s: float
) -> tuple[cp_model.CpSolverStatus, list[cp_model.IntVar]]:
    """The search's status with every group on, and a sufficient set of groups when infeasible."""
    model.clear_assumptions()
    model.add_assumptions(literals)
    solver = new_solver(time_s, 1, 0)  # assumption cores are reported by the sequential search
    status = solver.solve(model)
    if status != cp_model.INFEASIBLE:
        return status, []
    wanted = set(solver.sufficient_assumptions_for_infeasibility())
    return status, [lit for lit in literals if lit.index in wanted]


def _minimize(model: cp_model.CpModel, core: list[cp_model.IntVar]) -> list[cp_model.IntVar]:
    """Deletion filter: drop each member whose removal keeps the rest infeasible."""
    kept = list(core)
    for lit in list(core):
        trial = [other for other in kept if other is not lit]
        if not trial:
            continue
        model.clear_assumptions()
        model.add_assumptions(trial)
        solver = new_solver(CORE_CHECK_S, 1, 0)
        if solver.solve(model) == cp_model.INFEASIBLE:
            kept = trial
    model.clear_assumptions()
    return kept

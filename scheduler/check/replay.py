"""Replay a plan's migrations and power actions in time order and check every moment (docs/plan.md).

Model of time:

- A migration holds its VM's resources (CPU demand, configured memory) on both source and target
  over [start_s, end_s), and counts against both hosts' concurrency cap over the same interval.
  The VM stays located on the source until end_s, then it is on the target.
- Events at equal times are processed in this order: migration ends, then power actions, then
  migration starts (each group in plan order). So a move ending at t frees room, concurrency and
  the source host for a move starting at t, and a host whose last VM leaves at t may power off
  at t; a host powered on at t with boot_s = 0 may take a move starting at t.
- Capacity is checked when a move starts, on its target: the only moment a host's load grows.
  A host the inventory leaves over capacity may keep its extra load (it can only shrink, as VMs
  leave), but a move into a host that is over capacity after the move is refused; so such a host
  takes nothing in until it is back within capacity and never gets fuller than it started.
- A host powered off must hold no VM and take part in no running move; it receives nothing until
  powered on, and a powered-on host takes moves in only from at_s + boot_s.
- New VMs (no host in the inventory) are placed when the plan ends: a migration never names them,
  and they count only in the final-state check.

The replay keeps per-host loads and counters incrementally: O((M + P) log(M + P)) for M migrations
and P power actions, independent of the number of VMs apart from one setup pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scheduler.check.capacity import CAPACITY_SLACK
from scheduler.check.feasibility import check_placement
from scheduler.check.findings import (
    BOOT,
    CAPACITY_CPU,
    CAPACITY_MEMORY,
    CAPACITY_OVERLOADED_TARGET,
    COMPAT,
    CONCURRENCY,
    HOST_DOWN,
    IMMOBILE,
    MAINTENANCE,
    MIGRATION_ABORTED,
    MIGRATION_DURATION,
    MIGRATION_NEW_VM,
    MIGRATION_OVERLAP,
    MIGRATION_SELF,
    MIGRATION_SOURCE,
    MIGRATION_TIME,
    POWER_INVALID,
    POWER_OFF_NOT_EMPTY,
    POWER_OFF_TARGET,
    REPLAY_MISMATCH,
    RULE_P1,
    UNKNOWN_HOST,
    UNKNOWN_VM,
    Finding,
)
from scheduler.compat import HOST_STATE as EXCL_HOST_STATE
from scheduler.compat import IMMOBILE as EXCL_IMMOBILE
from scheduler.compat import RULE_P1 as EXCL_RULE_P1
from scheduler.compat import Compatibility, compatibility
from scheduler.model import NO_HOST, HostState, Instance, Migration, Plan, PowerActionKind

DURATION_RTOL = 1e-6  # end_s - start_s must equal estimate.total_s within this relative tolerance
TIME_ATOL_S = 1e-9  # slack on boot-time comparisons, against float noise in planner arithmetic

# Event ranks at equal times: ends free resources before power actions and starts use them.
_END, _POWER, _START = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Replay:
    """The outcome of replaying a plan: findings on the way, and where everything ended up."""

    findings: list[Finding]
    placement: dict[str, str]  # placed VMs only (new VMs are not replayed)
    host_states: dict[str, str]


def replay(instance: Instance, plan: Plan, compat: Compatibility | None = None) -> Replay:
    """Replay ``plan`` from the inventory state, checking every event (no final-state check)."""
    compat = compat if compat is not None else compatibility(instance)
    return _Replayer(instance, compat).run(plan)


def replay_plan(instance: Instance, plan: Plan, compat: Compatibility | None = None) -> list[Finding]:
    """Every finding of the replay, of the comparison with the plan's final state, and of that state.

    The final state (``plan.placement`` / ``plan.host_states``) must equal the replayed one
    (``replay.mismatch`` otherwise) and pass ``check_placement``; a final-state finding already
    raised during the replay (same code, VM, host and rule) is not repeated.
    """
    compat = compat if compat is not None else compatibility(instance)
    result = replay(instance, plan, compat)
    out = list(result.findings)
    for vm, host in result.placement.items():
        planned = plan.placement.get(vm)
        if planned is not None and planned != host:
            msg = f"replay puts {vm} on {host}, the plan's placement on {planned}"
            out.append(Finding(REPLAY_MISMATCH, msg, vm=vm, host=planned))
    for host, state in result.host_states.items():
        planned = plan.host_states.get(host)
        if planned is not None and planned != state:
            msg = f"replay leaves host {host} {state}, the plan's host_states say {planned}"
            out.append(Finding(REPLAY_MISMATCH, msg, host=host))
    seen = {(f.code, f.vm, f.host, f.rule) for f in out}
    for f in check_placement(instance, plan.placement, plan.host_states, compat):
        if (f.code, f.vm, f.host, f.rule) not in seen:
            out.append(f)
    return out


def unreplayable(instance: Instance, m: Migration) -> Finding | None:
    """Why ``m`` cannot be replayed at all (unknown VM or host, a new VM, a move to its own host,
    times that make no sense), or None when it can."""
    if m.vm not in instance.vm_index:
        return Finding(UNKNOWN_VM, f"migration of unknown VM {m.vm}", m.start_s, vm=m.vm)
    for host in (m.source, m.target):
        if host not in instance.host_index:
            msg = f"migration of {m.vm} names unknown host {host}"
            return Finding(UNKNOWN_HOST, msg, m.start_s, host=host, vm=m.vm)
    if instance.vm(m.vm).host is None:
        msg = f"migration of new VM {m.vm}: a new VM is placed, not migrated"
        return Finding(MIGRATION_NEW_VM, msg, m.start_s, vm=m.vm)
    if m.source == m.target:
        return Finding(MIGRATION_SELF, f"migration of {m.vm} from {m.source} to itself", m.start_s, vm=m.vm)
    if not (math.isfinite(m.start_s) and math.isfinite(m.end_s)) or m.start_s < 0 or m.end_s < m.start_s:
        msg = f"migration of {m.vm} has start_s={m.start_s} and end_s={m.end_s}"
        return Finding(MIGRATION_TIME, msg, m.start_s, vm=m.vm)
    return None


class _Replayer:
    """Mutable replay state: VM locations, per-host loads, running moves, power states."""

    def __init__(self, instance: Instance, compat: Compatibility) -> None:
        self.inst = instance
        self.compat = compat
        self.findings: list[Finding] = []
        # Python lists, not numpy: the loop touches single elements, where lists are faster.
        self.loc: list[int] = [int(h) for h in instance.current_host]
        self.cpu_demand_mhz: list[int] = [int(x) for x in instance.vm_cpu_demand_mhz]
        self.memory_mib: list[int] = [int(x) for x in instance.vm_memory_mib]
        n = instance.num_hosts
        self.cpu_cap_mhz: list[int] = [int(x) for x in instance.host_cpu_mhz]
        self.mem_cap_mib: list[float] = [
            float(x) * (1.0 + CAPACITY_SLACK) for x in instance.host_memory_admission_mib
        ]
        self.cpu_load_mhz: list[int] = [0] * n
        self.mem_load_mib: list[int] = [0] * n
        self.num_vms: list[int] = [0] * n
        for k, h in enumerate(self.loc):
            if h != NO_HOST:
                self.cpu_load_mhz[h] += self.cpu_demand_mhz[k]
                self.mem_load_mib[h] += self.memory_mib[k]
                self.num_vms[h] += 1
        self.active: list[int] = [0] * n
        self.in_flight: list[bool] = [False] * instance.num_vms
        self.state: list[HostState] = list(instance.host_states)
        self.ready_at_s: list[float] = [-math.inf] * n
        self.max_concurrent = instance.policy.migration.max_concurrent_per_host

    def run(self, plan: Plan) -> Replay:
        events: list[tuple[float, int, int]] = []  # (time, rank, index into plan list)
        started: list[bool] = [False] * len(plan.migrations)
        for i, m in enumerate(plan.migrations):
            if self._admissible(m):
                events.append((m.start_s, _START, i))
                if m.end_s > m.start_s:  # a zero-length move ends inside its start (ends sort first)
                    events.append((m.end_s, _END, i))
        for i, p in enumerate(plan.power_actions):
            if p.host in self.inst.host_index:
                events.append((p.at_s, _POWER, i))
            else:
                self._add(UNKNOWN_HOST, f"power action on unknown host {p.host}", p.at_s, host=p.host)
        events.sort()
        for t, rank, i in events:
            if rank == _START:
                m = plan.migrations[i]
                started[i] = self._start(m)
                if started[i] and m.end_s <= m.start_s:
                    self._end(m)
            elif rank == _END:
                if started[i]:
                    self._end(plan.migrations[i])
            else:
                self._power(plan.power_actions[i].host, plan.power_actions[i].action, t)
        inst = self.inst
        placement = {inst.vms[k].name: inst.hosts[h].name for k, h in enumerate(self.loc) if h != NO_HOST}
        states = {h.name: s.value for h, s in zip(inst.hosts, self.state, strict=True)}
        return Replay(self.findings, placement, states)

    def _add(
        self,
        code: str,
        message: str,
        at_s: float | None,
        *,
        host: str | None = None,
        vm: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.findings.append(Finding(code, message, at_s, host=host, vm=vm, rule=rule))

    def _admissible(self, m: Migration) -> bool:
        """Static checks of one migration; False when it cannot be replayed at all."""
        malformed = unreplayable(self.inst, m)
        if malformed is not None:
            self.findings.append(malformed)
            return False
        if m.estimate.extra.get("outcome") == "aborted":
            # An aborted pre-copy leaves the VM running on its source: a plan that counts the move
            # as done claims a final state no hypervisor reaches.
            why = m.estimate.extra.get("stop_reason") or "aborted"
            msg = f"migration of {m.vm} aborts ({why}) by its own estimate: {m.vm} would stay on {m.source}"
            self._add(MIGRATION_ABORTED, msg, m.start_s, vm=m.vm)
            return False
        duration_s = m.end_s - m.start_s
        total_s = m.estimate.total_s
        if abs(duration_s - total_s) > DURATION_RTOL * max(1.0, abs(total_s)):
            msg = f"migration of {m.vm} lasts {duration_s:g} s but its estimate says {total_s:g} s"
            self._add(MIGRATION_DURATION, msg, m.start_s, vm=m.vm)
        return True

    def _start(self, m: Migration) -> bool:
        """A move starts: check it, then hold the VM's resources on the target. True when applied."""
        inst, t = self.inst, m.start_s
        k = inst.vm_index[m.vm]
        s, d = inst.host_index[m.source], inst.host_index[m.target]
        if self.in_flight[k]:
            self._add(MIGRATION_OVERLAP, f"{m.vm} starts a move while another of its moves runs", t, vm=m.vm)
            return False
        if self.loc[k] != s:
            where = inst.hosts[self.loc[k]].name
            msg = f"migration of {m.vm} from {m.source}, but {m.vm} is on {where} at that moment"
            self._add(MIGRATION_SOURCE, msg, t, vm=m.vm, host=m.source)
            return False
        self._check_target(m, k, d)
        for h in (s, d):
            if self.active[h] + 1 > self.max_concurrent:
                name = inst.hosts[h].name
                msg = (
                    f"host {name} would take part in {self.active[h] + 1} migrations at once "
                    f"(max_concurrent_per_host = {self.max_concurrent}) when {m.vm} starts"
                )
                self._add(CONCURRENCY, msg, t, host=name, vm=m.vm)
        self._check_capacity(m, k, d)
        self.active[s] += 1
        self.active[d] += 1
        self.in_flight[k] = True
        return True

    def _check_target(self, m: Migration, k: int, d: int) -> None:
        """The target's power state at this moment, and its compatibility with the VM."""
        t, name = m.start_s, m.target
        state = self.state[d]
        if state is HostState.MAINTENANCE:
            self._add(MAINTENANCE, f"{m.vm} moves into maintenance host {name}", t, host=name, vm=m.vm)
        elif state is HostState.DOWN:
            self._add(HOST_DOWN, f"{m.vm} moves into down host {name}", t, host=name, vm=m.vm)
        elif state is HostState.STANDBY:
            self._add(POWER_OFF_TARGET, f"{m.vm} moves into powered-off host {name}", t, host=name, vm=m.vm)
        elif t < self.ready_at_s[d] - TIME_ATOL_S * max(1.0, abs(self.ready_at_s[d])):
            msg = f"{m.vm} moves into {name} before it has booted (ready at {self.ready_at_s[d]:g} s)"
            self._add(BOOT, msg, t, host=name, vm=m.vm)
        if self.compat.allowed[k, d]:
            return
        other: list[str] = []
        for e in self.compat.explain(m.vm, name):
            if e.code == EXCL_IMMOBILE:
                self._add(IMMOBILE, f"{m.vm} is moved but it is immobile: {e.message}", t, vm=m.vm, host=name)
            elif e.code == EXCL_RULE_P1:
                self._add(
                    RULE_P1, f"{m.vm} moves into {name}: {e.message}", t, vm=m.vm, host=name, rule=e.rule
                )
            elif e.code != EXCL_HOST_STATE:  # the dynamic state check above covers it
                other.append(e.message)
        if other:
            self._add(COMPAT, f"{m.vm} cannot move to {name}: {'; '.join(other)}", t, vm=m.vm, host=name)

    def _check_capacity(self, m: Migration, k: int, d: int) -> None:
        """Add the VM's load to the target and report any capacity it exceeds."""
        t, name = m.start_s, m.target
        was_over = self.cpu_load_mhz[d] > self.cpu_cap_mhz[d] or self.mem_load_mib[d] > self.mem_cap_mib[d]
        self.cpu_load_mhz[d] += self.cpu_demand_mhz[k]
        self.mem_load_mib[d] += self.memory_mib[k]
        if was_over:
            msg = f"{m.vm} moves into {name}, which is over capacity and may only shrink"
            self._add(CAPACITY_OVERLOADED_TARGET, msg, t, host=name, vm=m.vm)
            return
        if self.cpu_load_mhz[d] > self.cpu_cap_mhz[d]:
            msg = (
                f"host {name}: CPU demand {self.cpu_load_mhz[d]} MHz exceeds "
                f"{self.cpu_cap_mhz[d]} MHz while {m.vm} moves in"
            )
            self._add(CAPACITY_CPU, msg, t, host=name, vm=m.vm)
        if self.mem_load_mib[d] > self.mem_cap_mib[d]:
            limit = float(self.inst.host_memory_admission_mib[d])
            msg = (
                f"host {name}: configured memory {self.mem_load_mib[d]} MiB exceeds "
                f"{limit:g} MiB while {m.vm} moves in"
            )
            self._add(CAPACITY_MEMORY, msg, t, host=name, vm=m.vm)

    def _end(self, m: Migration) -> None:
        """A move ends: the VM is on the target; the source lets go of its resources."""
        inst = self.inst
        k = inst.vm_index[m.vm]
        s, d = inst.host_index[m.source], inst.host_index[m.target]
        self.cpu_load_mhz[s] -= self.cpu_demand_mhz[k]
        self.mem_load_mib[s] -= self.memory_mib[k]
        self.num_vms[s] -= 1
        self.num_vms[d] += 1
        self.active[s] -= 1
        self.active[d] -= 1
        self.loc[k] = d
        self.in_flight[k] = False

    def _power(self, host: str, action: PowerActionKind, t: float) -> None:
        """Power a host off (it must be up and idle) or on (it must be in standby)."""
        h = self.inst.host_index[host]
        state = self.state[h]
        if action is PowerActionKind.POWER_OFF:
            if state is not HostState.UP:
                self._add(POWER_INVALID, f"power_off of host {host}, which is {state.value}", t, host=host)
                return
            if self.num_vms[h] or self.active[h]:
                msg = (
                    f"power_off of host {host} while it holds {self.num_vms[h]} VM(s) "
                    f"and takes part in {self.active[h]} migration(s)"
                )
                self._add(POWER_OFF_NOT_EMPTY, msg, t, host=host)
            self.state[h] = HostState.STANDBY
        else:
            if state is not HostState.STANDBY:
                self._add(POWER_INVALID, f"power_on of host {host}, which is {state.value}", t, host=host)
                return
            self.state[h] = HostState.UP
            self.ready_at_s[h] = t + self.inst.hosts[h].power.boot_s

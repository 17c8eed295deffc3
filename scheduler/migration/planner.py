"""The migration planner: from the current placement to a target one, a timed plan safe at every moment.

Why a separate stage: the placement solver decides *where* VMs go and which hosts are on; this
module decides *when* each move runs (staged solving: placement first, then timing). Its output is the
``migrations`` and ``power_actions`` of a plan (docs/plan.md):

1. Moves: every placed VM whose target differs from its host; new VMs are placed, not moved.
2. Parking (``parking.py``): when full hosts wait on each other (swaps, rings), one VM of the cycle
   goes through a host with room first, the one whose extra move costs the least time.
3. Order (``ordering.py``): list scheduling, moves that unblock others and long ones first,
   maintenance hosts drained first.
4. Time (``schedule.py``): an event-driven simulation in which a move starts only when its target
   has room and has booted, both hosts are under their concurrency cap and its share of the links
   keeps the running moves converging; links are shared max-min fairly and every move's pre-copy
   run advances at the rate it gets, so ``start_s``/``end_s`` and the estimate are what sharing gives.
5. Power: hosts to power on are powered on at time 0 and take moves after ``boot_s``; hosts to
   power off are powered off when their last VM has left and no move will touch them again.

When a run finds no order, it is repeated with half the moves per host at once, down to one (the
schedule's note says so). When even that finds none (every cycle is full and no host has room to
park), ``UnreachableTargetError`` names the hosts and VMs involved: the planner never emits an
unsafe plan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from scheduler.compat import compatibility
from scheduler.errors import InputError, Problem
from scheduler.migration.links import link_shares
from scheduler.migration.moves import Facts, Move, Usage
from scheduler.migration.ordering import PriorityKey, priority_keys
from scheduler.migration.parking import (
    SequentialReplay,
    add_parking,
    resolve_by_search,
    search_from_start,
    sequence_moves,
)
from scheduler.migration.precopy import (
    MigrationInput,
    PrecopyRun,
    migration_input_for,
    nic_payload_mibps,
    preset_for_policy,
)
from scheduler.migration.schedule import NeverEndsError, Simulation, Timeline
from scheduler.model import (
    HostState,
    Instance,
    Migration,
    MoveReason,
    PowerAction,
    PowerActionKind,
)

TARGET_SOURCE = "target"  # the default "file" named by problems of the target (see ``source``)

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(moves_done, moves_expected)`` each time a move ends in the simulation."""


class UnreachableTargetError(Exception):
    """No capacity-safe order of migrations reaches the target: the hosts and VMs that block it."""

    def __init__(self, hosts: Sequence[str], vms: Sequence[str], message: str) -> None:
        self.hosts = tuple(hosts)
        self.vms = tuple(vms)
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class ScheduleStats:
    """Figures of a schedule; ``lower_bound_s`` is the bound of ``lower_bound_s()`` (see there)."""

    moves: int
    parking_moves: int
    makespan_s: float
    total_migration_s: float
    total_transferred_mib: float
    peak_concurrent_moves: int
    critical_path: tuple[str, ...]
    lower_bound_s: float
    non_converging_moves: int = 0
    # Moves per host the schedule lets run at once: the policy's ``max_concurrent_per_host``, or
    # fewer where no safe order was found at it (``Schedule.notes`` then says why).
    concurrency_limit: int = 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the plan's ``metrics``)."""
        return {
            "moves": self.moves,
            "parking_moves": self.parking_moves,
            "makespan_s": self.makespan_s,
            "total_migration_s": self.total_migration_s,
            "total_transferred_mib": self.total_transferred_mib,
            "peak_concurrent_moves": self.peak_concurrent_moves,
            "critical_path": list(self.critical_path),
            "lower_bound_s": self.lower_bound_s,
            "non_converging_moves": self.non_converging_moves,
            "concurrency_limit": self.concurrency_limit,
        }


@dataclass(frozen=True, slots=True)
class Schedule:
    """The timed part of a plan: migrations in start order, power actions in time order, figures."""

    migrations: tuple[Migration, ...]
    power_actions: tuple[PowerAction, ...]
    stats: ScheduleStats
    host_states: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # sentences worth a reader's attention (fewer moves at once, why)


def plan_migrations(
    instance: Instance,
    target_placement: Mapping[str, str],
    target_host_states: Mapping[str, str] | None = None,
    *,
    reasons: Mapping[str, MoveReason] | None = None,
    progress: ProgressCallback | None = None,
    source: str = TARGET_SOURCE,
) -> Schedule:
    """Schedule the migrations and power actions taking ``instance`` to the target.

    ``target_placement`` maps VM names to hosts (a placed VM it omits stays where it is; a new VM
    must be named). ``target_host_states`` gives final host states; omitted, hosts keep theirs
    except standby hosts the placement uses, which are powered on. ``reasons`` gives each VM's
    move reason; by default ``maintenance`` when its host is in maintenance, ``dpm`` when its host
    is powered off at the end, else ``drs``. ``source`` is what problems of the target name as
    their file (the target's path when it was read from one).

    Raises:
        InputError: the target names unknown VMs or hosts, asks a state change no power action
            makes, or sends a VM where it may not go.
        UnreachableTargetError: no capacity-safe order reaches the target.
    """
    target = _resolve_target(instance, target_placement, target_host_states, source)
    planner = _Planner(instance, target, reasons or {}, progress)
    return planner.plan()


# -- the target, validated ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    host_of: list[int]  # final host index per VM
    states: list[HostState]  # final state per host
    power_on: list[int]
    power_off: list[int]


def _resolve_target(
    instance: Instance, placement: Mapping[str, str], host_states: Mapping[str, str] | None, source: str
) -> _Target:
    """Check the target's names, state changes and host choices; InputError lists every problem."""
    problems: list[Problem] = []
    host_index = instance.host_index
    for vm in placement:
        if vm not in instance.vm_index:
            problems.append(Problem(source, f"placement: {vm}", "", "unknown VM"))
    host_of: list[int] = []
    for v in instance.vms:
        name = placement.get(v.name, v.host)
        if name is None:
            problems.append(Problem(source, f"placement: {v.name}", "", "a new VM needs a target host"))
            host_of.append(-1)
        elif name not in host_index:
            problems.append(Problem(source, f"placement: {v.name}", "", f"unknown host {name}"))
            host_of.append(-1)
        else:
            host_of.append(host_index[name])

    states = list(instance.host_states)
    named: set[int] = set()
    if host_states is not None:
        for name, value in host_states.items():
            if name not in host_index:
                problems.append(Problem(source, f"host_states: {name}", "", "unknown host"))
                continue
            try:
                states[host_index[name]] = HostState(value)
                named.add(host_index[name])
            except ValueError:
                allowed = ", ".join(s.value for s in HostState)
                problems.append(
                    Problem(source, f"host_states: {name}", "", f"unknown state {value!r} ({allowed})")
                )
    # A standby host the placement uses is powered on, unless host_states names it: a partial
    # host_states only says what it says.
    for h in {h for h in host_of if h >= 0} - named:
        if states[h] is HostState.STANDBY:
            states[h] = HostState.UP

    power_on: list[int] = []
    power_off: list[int] = []
    for h, (host, final) in enumerate(zip(instance.hosts, states, strict=True)):
        now = host.state
        if final is now:
            continue
        if now is HostState.STANDBY and final is HostState.UP:
            power_on.append(h)
        elif now is HostState.UP and final is HostState.STANDBY:
            power_off.append(h)
        else:
            message = (
                f"{now.value} → {final.value} is no power action: a plan only powers off hosts that "
                "are up and powers on hosts in standby; other state changes happen outside plans"
            )
            if final is HostState.MAINTENANCE:
                message += " (a target made with --maintenance is scheduled with the same flag)"
            problems.append(Problem(source, f"host_states: {host.name}", "", message))

    compat = compatibility(instance)
    for k, (v, h) in enumerate(zip(instance.vms, host_of, strict=True)):
        if h < 0:
            continue
        host = instance.hosts[h]
        if states[h] is not HostState.UP:
            problems.append(
                Problem(
                    source,
                    f"placement: {v.name}",
                    "",
                    f"host {host.name} is {states[h].value} at the end and cannot hold VMs",
                )
            )
        elif v.host != host.name and not compat.allowed[k, h]:
            why = "; ".join(compat.reasons(v.name, host.name)) or "not allowed"
            problems.append(Problem(source, f"placement: {v.name}", "", f"cannot go to {host.name}: {why}"))
    if problems:
        raise InputError(problems)
    return _Target(host_of, states, power_on, power_off)


# -- planning ------------------------------------------------------------------------------------


class _Planner:
    """One planning run: facts, costs and the callbacks the simulation needs."""

    def __init__(
        self,
        instance: Instance,
        target: _Target,
        reasons: Mapping[str, MoveReason],
        progress: ProgressCallback | None,
    ) -> None:
        self.instance = instance
        self.target = target
        self.policy = instance.policy.migration
        self.preset = preset_for_policy(self.policy)
        self.progress = progress
        self.link_mibps = nic_payload_mibps(self.policy)
        self.concurrency = max(1, self.policy.max_concurrent_per_host)
        self.host_names = tuple(h.name for h in instance.hosts)
        self.current = [int(h) for h in instance.current_host]
        # Each moving VM's target: a search that undoes a move already made lands it here again.
        self.moved_to = {
            v: dst
            for v, (src, dst) in enumerate(zip(self.current, target.host_of, strict=True))
            if 0 <= src != dst
        }
        self.facts = self._facts()
        self.drained_first = [h.state is HostState.MAINTENANCE for h in instance.hosts]
        self.reason_by_vm = self._reasons(reasons)
        self._alone: dict[int, tuple[float, bool]] = {}  # vm → (seconds, lands) alone on idle links
        self._inputs: dict[int, MigrationInput] = {}

    def _facts(self) -> Facts:
        inst, target = self.instance, self.target
        powered_on = set(target.power_on)
        powered_off = set(target.power_off)
        receives = []
        parks = []
        ready = []
        for h, host in enumerate(inst.hosts):
            final_up = target.states[h] is HostState.UP
            on_now = host.state is HostState.UP
            # A host powered off at the end may still hold a VM for a while (the search uses it);
            # parking prefers hosts that stay on, so that no power-off waits on a parked VM.
            receives.append(final_up or (on_now and h in powered_off))
            parks.append(final_up)
            ready.append(float(host.power.boot_s) if h in powered_on else 0.0)
        return Facts(
            host_names=self.host_names,
            vm_names=tuple(v.name for v in inst.vms),
            cpu_cap_mhz=tuple(int(x) for x in inst.host_cpu_mhz),
            memory_cap_mib=tuple(float(x) for x in inst.host_memory_admission_mib),
            vm_cpu_mhz=tuple(int(x) for x in inst.vm_cpu_demand_mhz),
            vm_memory_mib=tuple(int(x) for x in inst.vm_memory_mib),
            allowed=compatibility(inst).allowed,
            receives=tuple(receives),
            parks=tuple(parks),
            ready_s=tuple(ready),
        )

    def _reasons(self, given: Mapping[str, MoveReason]) -> list[MoveReason]:
        """Each VM's move reason: the one given, else from its source host's state."""
        inst, target = self.instance, self.target
        out: list[MoveReason] = []
        for v, h in zip(inst.vms, self.current, strict=True):
            reason = given.get(v.name)
            if reason is None:
                if h >= 0 and inst.hosts[h].state is HostState.MAINTENANCE:
                    reason = MoveReason.MAINTENANCE
                elif h >= 0 and target.states[h] is HostState.STANDBY:
                    reason = MoveReason.DPM
                else:
                    reason = MoveReason.DRS
            out.append(MoveReason(reason))
        return out

    # -- costs ------------------------------------------------------------------------------

    def make_run(self, vm: int) -> PrecopyRun:
        inp = self._inputs.get(vm)
        if inp is None:
            inp = self._inputs[vm] = migration_input_for(self.instance.vms[vm], self.policy)
        return PrecopyRun(inp, self.preset)

    def cost_s(self, vm: int) -> float:
        """Seconds the VM's move takes alone on idle links (the cost a parking move adds)."""
        return self._alone_run(vm)[0]

    def _alone_run(self, vm: int) -> tuple[float, bool]:
        """(seconds, whether it lands) of the VM's move alone on idle links, from one run to its
        end: the costs and the check that every move lands ask both of every move."""
        cached = self._alone.get(vm)
        if cached is None:
            # The whole link, as the estimator gives a move alone: the run keeps its pre-copy to
            # the preset's cap by itself, and a QEMU switchover uses the rest.
            cached = self._alone[vm] = self.make_run(vm).finish_and_landing(self.link_mibps)
        return cached

    def _check_movable_alone(self, moves: Sequence[Move]) -> None:
        """Every move must at least land alone: a migration that never ends, or one the hypervisor
        gives up on (its timeout), leaves the VM where it was and reaches nothing."""
        never: list[Move] = []
        aborted: list[Move] = []
        for m in moves:
            seconds, lands = self._alone_run(m.vm)
            if math.isinf(seconds):
                never.append(m)
            elif not lands:
                aborted.append(m)
        for bad, why in (
            (never, f"the guest dirties memory faster than {self.preset.name} can send it"),
            (aborted, f"{self.preset.name} gives up on them at the migration timeout"),
        ):
            if bad:
                raise self._not_landing(bad, f"never complete even alone on an idle link ({why})")

    def _not_landing(self, bad: Sequence[Move], what: str) -> UnreachableTargetError:
        """The error for moves that leave their VM where it was: ``what`` says how they fail."""
        vms = [self.facts.vm_names[m.vm] for m in bad]
        hosts = sorted({self.host_names[h] for m in bad for h in (m.source, m.target)})
        listed = ", ".join(vms[:10]) + (" ..." if len(vms) > 10 else "")
        return UnreachableTargetError(hosts, vms, f"{len(bad)} migration(s) {what}: {listed}")

    # -- the run ----------------------------------------------------------------------------

    def plan(self) -> Schedule:
        """The timed schedule, at the policy's concurrency, or fewer moves per host at once when
        none is found there (the note says so); ``UnreachableTargetError`` when even one move
        per host at a time finds no order."""
        self._check_final_capacity()
        moves = [
            Move(v, src, dst, self.reason_by_vm[v])
            for v, (src, dst) in enumerate(zip(self.current, self.target.host_of, strict=True))
            if src >= 0 and src != dst
        ]
        self._check_movable_alone(moves)
        # Parking depends on the placement alone, not on how many moves run at once: every run
        # below starts from the same parked moves.
        parked = add_parking(self.facts, Usage.of_placement(self.facts, self.current), moves, self.cost_s)
        limit = self.concurrency
        first: UnreachableTargetError | None = None
        while True:
            try:
                timeline = self._simulate(parked.moves, limit)
            except UnreachableTargetError as exc:
                # What blocked the run depends on the state the concurrent moves left when it
                # stalled, and on the link shares they got: with fewer at once the state differs
                # and the shares grow, so fewer moves per host can reach what more could not. At
                # one per host no link is shared, and every move lands (checked above).
                if limit == 1:
                    return self._one_at_a_time_from_start(moves, first or exc, exc)
                first = first or exc
                limit //= 2
                continue
            notes = () if first is None else (self._fallback_note(limit, first),)
            sooner = self._sooner_one_at_a_time(moves, timeline)
            if sooner is not None:
                return self._schedule(sooner[0], moves, 1, (*notes, sooner[1]))
            return self._schedule(timeline, moves, limit, notes)

    def _sooner_one_at_a_time(self, moves: Sequence[Move], timeline: Timeline) -> tuple[Timeline, str] | None:
        """The moves one at a time, in an order that fits without parking, where that ends sooner
        than ``timeline``, with a note saying so; else None. On a few moves the list scheduler's
        priorities (drains first) can force a parking move, or a wait, that a plain order avoids;
        tried only where the moves' alone times add up to less than the timed makespan, which on
        clusters of any size they do not."""
        makespan = max((tm.end_s for tm in timeline.moves), default=0.0)
        ready = max((self.facts.ready_s[m.target] for m in moves), default=0.0)
        if sum(self.cost_s(m.vm) for m in moves) + ready >= makespan:
            return None
        replay = SequentialReplay(Usage.of_placement(self.facts, self.current), moves)
        if replay.drain():
            return None
        chained = sequence_moves(replay.applied, self.moved_to, self.reason_by_vm.__getitem__)
        try:
            alone = self._simulate(chained, 1)
        except UnreachableTargetError:
            return None
        alone_s = max((tm.end_s for tm in alone.moves), default=0.0)
        if alone_s >= makespan:
            return None
        note = (
            f"migrations run one at a time: in that order they end at {alone_s:.0f} s, where the "
            f"concurrent order ended at {makespan:.0f} s"
        )
        return alone, note

    def _one_at_a_time_from_start(
        self, moves: Sequence[Move], first: UnreachableTargetError, last: UnreachableTargetError
    ) -> Schedule:
        """The last resort: a strictly sequential order searched from the inventory's placement.

        Each run above searched from where it stalled, after moves that may not be undone (off
        a host in maintenance, off a host a priority-1 rule forbids, off one that started over
        capacity): an order from the start may still exist. On a small cluster the search from
        the start covers every movable VM, so its failure is a proof; elsewhere the target is
        declared unreachable as the last run found it, and not as proven.
        """
        usage = Usage.of_placement(self.facts, self.current)
        fallback = search_from_start(self.facts, usage, self.current, moves, self.reason_by_vm.__getitem__)
        if fallback is None or fallback.moves is None:
            stuck = [self.instance.vm_index[name] for name in last.vms]
            proven = fallback is not None and fallback.proven
            raise self._unreachable(self.current, moves, stuck, proven) from last
        timeline = self._simulate(fallback.moves, 1)
        note = (
            f"migrations run one at a time, in an order searched from the start: at {self.concurrency} "
            f"per host the planner found no safe order ({first.message})"
        )
        return self._schedule(timeline, moves, 1, (note,))

    def _simulate(self, moves: Sequence[Move], limit: int) -> Timeline:
        """One event-driven run of ``moves`` (parking included) with at most ``limit`` moves per
        host at once."""
        facts = self.facts
        sim = Simulation(
            facts,
            self.current,
            moves,
            keys_of=partial(self._keys_of, limit=limit),
            make_run=self.make_run,
            alone_s=self.cost_s,
            link_shares=self._link_shares,
            link_mibps=self.link_mibps,
            concurrency=limit,
            power_off=set(self.target.power_off),
            replan=self._replan,
            progress=self.progress,
        )
        try:
            timeline = sim.run()
        except NeverEndsError as exc:
            m = exc.move
            raise UnreachableTargetError(
                [self.host_names[m.source], self.host_names[m.target]],
                [facts.vm_names[m.vm]],
                f"the migration of {facts.vm_names[m.vm]} never completes at the bandwidth it gets",
            ) from exc
        # The simulation keeps every running move converging at its share of the links; should a
        # move still end aborted, no plan may count it as done (the checker would reject it).
        gave_up = [tm.move for tm in timeline.moves if tm.estimate.extra.get("outcome") == "aborted"]
        if gave_up:
            raise self._not_landing(gave_up, "abort at the share of the links they get alongside others")
        return timeline

    def _keys_of(self, moves: Sequence[Move], usage: Usage, *, limit: int) -> list[PriorityKey]:
        durations = [self.cost_s(m.vm) for m in moves]
        return priority_keys(moves, usage, durations, self.drained_first, limit)

    def _fallback_note(self, limit: int, blocked: UnreachableTargetError) -> str:
        return (
            f"migrations run at most {limit} per host at once, not the policy's {self.concurrency}: "
            f"at {self.concurrency} the planner found no safe order ({blocked.message})"
        )

    def _link_shares(
        self, flows: Mapping[int, tuple[int, int, float]], capacity_mibps: Mapping[int, float]
    ) -> dict[int, float]:
        names = self.host_names
        named = {k: (names[s], names[d], demand) for k, (s, d, demand) in flows.items()}
        return link_shares(named, {names[h]: c for h, c in capacity_mibps.items()})

    def _replan(
        self, host_of: list[int], usage: Usage, pending: list[Move], force_search: bool
    ) -> list[Move]:
        """New moves for a stall: parking first, the search when parking cannot help."""
        if not force_search:
            parked = add_parking(self.facts, usage, pending, self.cost_s)
            if parked.resolved:
                return parked.moves
        fallback = resolve_by_search(
            self.facts, usage, host_of, pending, self.reason_by_vm.__getitem__, self.moved_to
        )
        if fallback.moves is not None:
            return fallback.moves
        raise self._unreachable(host_of, pending, fallback.stuck_vms, fallback.proven)

    def _unreachable(
        self, host_of: Sequence[int], pending: Sequence[Move], stuck: Sequence[int], proven: bool
    ) -> UnreachableTargetError:
        names, vm_names = self.host_names, self.facts.vm_names
        target_of = {m.vm: m.target for m in pending}
        stuck = list(stuck) or [m.vm for m in pending]
        hosts = sorted({names[host_of[v]] for v in stuck} | {names[target_of[v]] for v in stuck})
        vms = sorted(vm_names[v] for v in stuck)
        how = (
            "no order of migrations reaches the target"
            if proven
            else "no order of migrations reaching the target was found"
        )
        message = (
            f"{how}: hosts {', '.join(hosts)} are too full to take VMs {', '.join(vms)} in any order, "
            "and no host any of them may run on (compatibility, priority-1 rules) has room to park "
            "one of them on the way"
        )
        return UnreachableTargetError(hosts, vms, message)

    def _check_final_capacity(self) -> None:
        """A target over capacity on some host is reachable by no order."""
        facts = self.facts
        final = Usage.of_placement(facts, self.target.host_of)
        over = [h for h in range(facts.num_hosts) if not final.within(h)]
        if not over:
            return
        hosts = [self.host_names[h] for h in over]
        vms = sorted(facts.vm_names[v] for v, h in enumerate(self.target.host_of) if h in set(over))
        raise UnreachableTargetError(
            hosts, vms, f"the target leaves host(s) {', '.join(hosts)} over capacity: no order can reach it"
        )

    # -- output -----------------------------------------------------------------------------

    def _schedule(
        self, timeline: Timeline, original: Sequence[Move], limit: int, notes: tuple[str, ...]
    ) -> Schedule:
        names, vm_names = self.host_names, self.facts.vm_names
        order = sorted(range(len(timeline.moves)), key=lambda i: (timeline.moves[i].start_s, i))
        migrations = tuple(
            Migration(
                vm=vm_names[tm.move.vm],
                source=names[tm.move.source],
                target=names[tm.move.target],
                start_s=tm.start_s,
                end_s=tm.end_s,
                reason=tm.move.reason,
                estimate=tm.estimate,
            )
            for tm in (timeline.moves[i] for i in order)
        )
        actions = [PowerAction(names[h], PowerActionKind.POWER_ON, 0.0) for h in self.target.power_on]
        missing = set(self.target.power_off) - set(timeline.power_off_s)
        if missing:  # every host due off is empty at the end of a replay that reached the target
            raise AssertionError(f"hosts never emptied: {sorted(names[h] for h in missing)}")
        actions += [
            PowerAction(names[h], PowerActionKind.POWER_OFF, t) for h, t in timeline.power_off_s.items()
        ]
        actions.sort(key=lambda a: (a.at_s, a.host))
        stats = ScheduleStats(
            moves=len(migrations),
            parking_moves=sum(1 for m in migrations if m.reason is MoveReason.PARKING),
            makespan_s=max((m.end_s for m in migrations), default=0.0),
            total_migration_s=sum(m.end_s - m.start_s for m in migrations),
            total_transferred_mib=sum(m.estimate.transferred_mib for m in migrations),
            peak_concurrent_moves=timeline.peak_concurrent_moves,
            critical_path=_critical_path(timeline, vm_names),
            lower_bound_s=self.lower_bound_s(original),
            non_converging_moves=sum(1 for m in migrations if not m.estimate.converges),
            concurrency_limit=limit,
        )
        host_states = {h.name: s.value for h, s in zip(self.instance.hosts, self.target.states, strict=True)}
        return Schedule(migrations, tuple(actions), stats, host_states, notes)

    def lower_bound_s(self, moves: Sequence[Move]) -> float:
        """A simple bound on any schedule's makespan for ``moves``.

        The larger of the longest single move (alone, on idle links) and, over hosts, the seconds
        of moves touching the host divided by the moves it may run at once.
        """
        if not moves:
            return 0.0
        per_host = [0.0] * self.facts.num_hosts
        longest = 0.0
        for m in moves:
            d = self.cost_s(m.vm)
            longest = max(longest, d)
            per_host[m.source] += d
            per_host[m.target] += d
        return max(longest, max(per_host) / self.concurrency)


def _critical_path(timeline: Timeline, vm_names: Sequence[str]) -> tuple[str, ...]:
    """VMs along the chain of moves that ends last, each started by the end of the one before."""
    if not timeline.moves:
        return ()
    i: int | None = max(range(len(timeline.moves)), key=lambda k: (timeline.moves[k].end_s, -k))
    chain: list[str] = []
    while i is not None:
        tm = timeline.moves[i]
        chain.append(vm_names[tm.move.vm])
        i = tm.cause
    chain.reverse()
    return tuple(chain)

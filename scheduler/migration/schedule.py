"""When each move runs: event-driven list scheduling with shared migration links.

The clock jumps from event to event (a move ends, a host finishes booting). At each event the
moves that may start are tried in priority order (``ordering.priority_keys``); a move may start
when

- its ``after`` move has ended and its target has booted;
- both of its hosts take part in fewer than ``max_concurrent_per_host`` moves;
- its VM fits on the target now, counting every VM there and every VM moving in or out (a moving
  VM holds its resources on both hosts until its move ends); a host over capacity takes nothing;
- the shares of link bandwidth it leaves to the running moves keep each of them converging, and
  its own share lets it converge whenever running alone would;
- sharing pays: when starting it slows a running move or leaves it less than its pre-copy asks,
  the moves of its link component, run to their ends together, all land and end no later than
  they would if it waited for its links to clear and then ran alone. Pre-copy resends what the
  guest dirties while a pass is on the wire, so a slower share sends more in all; two busy guests
  on one link can each take ten times as long together as one after the other.

Between events every running move gets a constant rate: the max-min fair share of its source's
egress and its target's ingress (progressive filling, recomputed at every start and end), and its
pre-copy simulation (``PrecopyRun``) advances at that rate. A move's end time, and the estimate it
carries, are therefore what it really gets with the moves running beside it.

When nothing runs, nothing can start and no host is booting, the remaining moves wait on each
other: ``replan`` (parking, then a search) replaces them from the state at that moment.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from scheduler.migration import links
from scheduler.migration.moves import Facts, Move, Usage
from scheduler.migration.ordering import PriorityKey
from scheduler.model import MigrationEstimateRecord, MoveReason

# A share that moved less than this (relative) leaves a running move's simulation alone; the
# checker's re-simulation (``links.SharedLinkSimulation``) keeps such shares too.
RATE_RTOL = links.RATE_RTOL
TIME_RTOL = 1e-9  # moves predicted to end within this (relative) of the next event end with it

_PENDING, _RUNNING, _DONE, _CANCELLED = 0, 1, 2, 3


class EstimateLike(Protocol):
    """The outcome of a simulated migration (``precopy.MigrationEstimate``)."""

    def to_record(self) -> MigrationEstimateRecord: ...


class Run(Protocol):
    """A migration simulated under piecewise-constant bandwidth (``precopy.PrecopyRun``)."""

    @property
    def finished(self) -> bool: ...

    @property
    def demand_mibps(self) -> float: ...

    def time_to_finish(self, rate_mibps: float) -> float: ...

    def advance(self, dt_s: float, rate_mibps: float) -> None: ...

    def would_converge(self, rate_mibps: float) -> bool: ...

    def finish_and_landing(self, rate_mibps: float) -> tuple[float, bool]: ...

    def copy(self) -> Run: ...

    def result(self) -> EstimateLike: ...


# (source, target, demand) per move and NIC capacity per host → each move's share (``links.link_shares``).
LinkShares = Callable[[Mapping[int, tuple[int, int, float]], Mapping[int, float]], dict[int, float]]
# (host of each VM, usage, moves left, whether only the exhaustive fallback will do) -> new moves
Replan = Callable[[list[int], Usage, list[Move], bool], list[Move]]
KeysOf = Callable[[Sequence[Move], Usage], list[PriorityKey]]


class NeverEndsError(Exception):
    """A running migration would never end at the bandwidth it gets (and nothing else will change)."""

    def __init__(self, move: Move) -> None:
        self.move = move
        super().__init__(f"migration of VM #{move.vm} never ends")


@dataclass(frozen=True, slots=True)
class TimedMove:
    """A move with its times and simulated estimate; ``cause``: the index (in the timeline) of the
    move whose end let it start, None when it started at time 0 or at a boot."""

    move: Move
    start_s: float
    end_s: float
    estimate: MigrationEstimateRecord
    cause: int | None


@dataclass(slots=True)
class Timeline:
    """What the simulation produced: moves in start order, power-off times, peak concurrency."""

    moves: list[TimedMove] = field(default_factory=list)
    power_off_s: dict[int, float] = field(default_factory=dict)
    peak_concurrent_moves: int = 0
    replans: int = 0


@dataclass(slots=True)
class _Running:
    run: Run
    start_s: float
    cause: int | None
    demand_mibps: float  # what it asks of the links during pre-copy (its cap, or the link)
    rate_mibps: float = 0.0
    since_s: float = 0.0
    finish_s: float = math.inf


class Simulation:
    """Mutable state of one scheduling run; ``run()`` returns the timeline."""

    def __init__(
        self,
        facts: Facts,
        host_of: list[int],
        moves: Sequence[Move],
        *,
        keys_of: KeysOf,
        make_run: Callable[[int], Run],
        alone_s: Callable[[int], float],
        link_shares: LinkShares,
        link_mibps: float,
        concurrency: int,
        power_off: set[int],
        replan: Replan,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.facts = facts
        self.host_of = list(host_of)
        self.usage = Usage.of_placement(facts, self.host_of)
        self.vm_count = [0] * facts.num_hosts
        for h in self.host_of:
            if h >= 0:
                self.vm_count[h] += 1
        self.keys_of = keys_of
        self.make_run = make_run
        self.alone_s = alone_s
        self.link_shares = link_shares
        self.link_mibps = link_mibps
        self.concurrency = concurrency
        self.power_off_left = set(power_off)
        self.replan = replan
        self.progress = progress

        self.moves: list[Move] = []
        self.keys: list[PriorityKey] = []
        self.status: list[int] = []
        self.children: list[list[int]] = []
        self.pending_at: list[set[int]] = [set() for _ in range(facts.num_hosts)]
        self.touching = [0] * facts.num_hosts  # pending or running moves with the host as an end
        self.active = [0] * facts.num_hosts
        self.running: dict[int, _Running] = {}
        self.by_source: list[set[int]] = [set() for _ in range(facts.num_hosts)]  # running, by egress
        self.by_target: list[set[int]] = [set() for _ in range(facts.num_hosts)]  # running, by ingress
        self.timeline = Timeline()
        self.index_in_timeline: dict[int, int] = {}
        self._drained: tuple[float, dict[frozenset[int], dict[int, float]]] = (-1.0, {})
        self.final_target: dict[int, int] = {}
        self.done_count = 0
        self._add_moves(moves)
        self.total_estimate = len(self.moves)
        boots = sorted({r for r in facts.ready_s if r > 0.0})
        self.boots: list[float] = boots

    # -- bookkeeping ------------------------------------------------------------------------

    def _add_moves(self, moves: Sequence[Move]) -> None:
        """Append moves (their ``after`` indices are local to ``moves``) and rank them."""
        offset = len(self.moves)
        keys = self.keys_of(moves, self.usage)
        for j, m in enumerate(moves):
            i = offset + j
            after = None if m.after is None else m.after + offset
            m = dataclasses.replace(m, after=after)
            self.moves.append(m)
            # The local tie-break index is shifted so that keys stay unique across replans.
            k = keys[j]
            self.keys.append((k[0], k[1], k[2], k[3] + offset))
            self.status.append(_PENDING)
            self.children.append([])
            if after is not None:
                self.children[after].append(i)
            self.pending_at[m.source].add(i)
            self.pending_at[m.target].add(i)
            self.touching[m.source] += 1
            self.touching[m.target] += 1
            self.final_target[m.vm] = m.target

    def _cancel_pending(self) -> list[int]:
        """Drop every pending move (a replan replaces them); return their VMs, each once."""
        vms: dict[int, None] = {}
        for i, s in enumerate(self.status):
            if s != _PENDING:
                continue
            m = self.moves[i]
            self.status[i] = _CANCELLED
            self.pending_at[m.source].discard(i)
            self.pending_at[m.target].discard(i)
            self.touching[m.source] -= 1
            self.touching[m.target] -= 1
            vms[m.vm] = None
        return list(vms)

    # -- the event loop ---------------------------------------------------------------------

    def run(self) -> Timeline:
        t = 0.0
        self._power_off_empty(t)
        dirty: set[int] = set(range(self.facts.num_hosts))
        ended_now: list[int] = []
        last_done = -1
        self.max_replans = 2 * len(self.moves) + 10
        while True:
            self._start_ready(t, dirty, ended_now)
            ended_now = []
            if not self.running:
                if not any(s == _PENDING for s in self.status):
                    break
                boot = self._next_boot(t)
                if boot is not None:
                    t = boot
                    dirty = {h for h, r in enumerate(self.facts.ready_s) if r == boot}
                    continue
                # A replan after which no move ended would loop: only the search fallback will do.
                stuck_again = self.done_count == last_done or self.timeline.replans >= self.max_replans
                last_done = self.done_count
                self._replan_now(force_search=stuck_again)
                dirty = set(range(self.facts.num_hosts))
                continue
            next_end = min(r.finish_s for r in self.running.values())
            boot = self._next_boot(t)
            if boot is not None and boot < next_end:
                t = boot
                dirty = {h for h, r in enumerate(self.facts.ready_s) if r == boot}
                continue
            if math.isinf(next_end):
                i = next(iter(self.running))
                raise NeverEndsError(self.moves[i])
            t = next_end
            tol = TIME_RTOL * max(1.0, t)
            ending = sorted(i for i, r in self.running.items() if r.finish_s <= t + tol)
            dirty = set()
            freed_out: set[int] = set()
            freed_in: set[int] = set()
            for i in ending:
                self._end(i, t)
                m = self.moves[i]
                dirty.add(m.source)
                dirty.add(m.target)
                freed_out.add(m.source)
                freed_in.add(m.target)
                for c in self.children[i]:
                    dirty.add(self.moves[c].source)
                    dirty.add(self.moves[c].target)
                ended_now.append(i)
            self._rerate(t, freed_out, freed_in)
        return self.timeline

    def _next_boot(self, t: float) -> float | None:
        while self.boots and self.boots[0] <= t:
            self.boots.pop(0)
        return self.boots[0] if self.boots else None

    def _start_ready(self, t: float, dirty: set[int], ended_now: list[int]) -> None:
        """Start, in priority order, every move among those touching ``dirty`` hosts that may start.

        A move the guard held back is tried again only then: the guard holds a move back only
        while one of its hosts runs a move, and that move's end makes the host dirty.
        """
        candidates: set[int] = set()
        for h in dirty:
            candidates |= self.pending_at[h]
        for i in sorted(candidates, key=self.keys.__getitem__):
            if self._may_start(i, t):
                self._start(i, t, ended_now)
                # Shares now, so that the next candidate's guard compares against the real ones.
                m = self.moves[i]
                self._rerate(t, {m.source}, {m.target})

    def _may_start(self, i: int, t: float) -> bool:
        m = self.moves[i]
        if self.status[i] != _PENDING:
            return False
        if m.after is not None and self.status[m.after] != _DONE:
            return False
        cap = self.concurrency
        if self.active[m.source] >= cap or self.active[m.target] >= cap:
            return False
        if self.facts.ready_s[m.target] > t or not self.usage.fits(m.target, m.vm):
            return False
        return self._guard(i, t)

    def _guard(self, i: int, t: float) -> bool:
        """Whether starting move ``i`` at ``t`` keeps every running move converging (and ``i`` too,
        when it can), and sharing its links pays (``_sharing_pays``).

        Skipped when neither of its hosts runs a move: then nobody's share changes.
        """
        m = self.moves[i]
        if not self.active[m.source] and not self.active[m.target]:
            return True
        run = self.make_run(m.vm)
        demand = min(run.demand_mibps, self.link_mibps)
        component = self._component({m.source}, {m.target})
        rates = self._available(component, (i, m.source, m.target, demand))
        if not run.would_converge(rates[i]) and run.would_converge(self.link_mibps):
            return False
        # Sharing costs something only where a pre-copy gets less than it asks (its cap, or the link).
        slowed = rates[i] < demand * (1.0 - RATE_RTOL)
        for j in component:
            r = self.running[j]
            new = rates[j]
            if new >= r.rate_mibps * (1.0 - RATE_RTOL):
                continue
            if r.run.would_converge(r.rate_mibps) and not r.run.would_converge(new):
                return False
            slowed = slowed or new < r.demand_mibps * (1.0 - RATE_RTOL)
        return not slowed or self._sharing_pays(i, t, component, demand)

    def _sharing_pays(self, i: int, t: float, component: set[int], demand: float) -> bool:
        """Whether the running moves of ``component`` and move ``i``, all run from ``t`` to their ends
        together, land and end no later than if ``i`` waited until no running move shares its
        source's egress or its target's ingress and then ran alone on the free link.

        A look-ahead without further starts: each side is simulated with the shares recomputed
        whenever a move ends, and a move that would not land (a share cut below what it needs when
        another ends elsewhere) counts as never ending. Ties start now: without dirty pages sharing
        a full link ends both sides at the same time, and overlapping the parts of a migration that
        send nothing (the resume) puts concurrency ahead.
        """
        m = self.moves[i]
        flows = self._flows(component)
        waiting = self._drain_running(flows, t)
        together = self._drain({**flows, i: (m.source, m.target, demand)}, t)
        if math.isinf(together[i]) or any(
            math.isinf(together[j]) and math.isfinite(end) for j, end in waiting.items()
        ):
            return False
        sharers = [
            end
            for j, end in waiting.items()
            if self.moves[j].source == m.source or self.moves[j].target == m.target
        ]
        free_at = max(sharers, default=t)
        # A running move already doomed without ``i`` is doomed with it too: compare the others.
        wait_end = max([free_at + self.alone_s(m.vm), *(e for e in waiting.values() if math.isfinite(e))])
        together_end = max(e for e in together.values() if math.isfinite(e))
        return together_end <= wait_end * (1.0 + TIME_RTOL)

    def _drain_running(self, flows: dict[int, tuple[int, int, float]], t: float) -> dict[int, float]:
        """``_drain`` of running moves only, kept for the rest of the instant ``t``: every move tried
        then against the same running moves shares it."""
        at, cache = self._drained
        if at != t:
            cache = {}
            self._drained = (t, cache)
        key = frozenset(flows)
        if key not in cache:
            cache[key] = self._drain(flows, t)
        return cache[key]

    def _drain(self, flows: dict[int, tuple[int, int, float]], t: float) -> dict[int, float]:
        """End times of the given moves (running ones from their state at ``t``, others from their
        start) run from ``t`` with no other move starting, shares recomputed at each end; inf for
        one that would never end or would end without landing."""
        runs: dict[int, Run] = {}
        for j in flows:
            r = self.running.get(j)
            if r is None:
                runs[j] = self.make_run(self.moves[j].vm)
                continue
            run = r.run.copy()
            if t > r.since_s and r.rate_mibps > 0.0:
                run.advance(t - r.since_s, r.rate_mibps)
            runs[j] = run
        ends: dict[int, float] = {}
        left = dict(flows)
        now = t
        # Each move's last probe: (rate, instant it ends at, lands). An end elsewhere changes only
        # the shares of its own link component, and a move whose rate stays exactly the same ends
        # when it was going to: probing it again re-simulates the same pre-copy rounds (on busy
        # guests near the convergence edge, three probes in four of the look-ahead's were such).
        last: dict[int, tuple[float, float, bool]] = {}
        while left:
            rates = self._shares(left)
            probes: dict[int, tuple[float, bool]] = {}
            for j in left:
                seen = last.get(j)
                if seen is not None and seen[0] == rates[j]:
                    probes[j] = (seen[1] - now, seen[2])
                    continue
                probe = runs[j].finish_and_landing(rates[j]) if rates[j] > 0.0 else (math.inf, False)
                last[j] = (rates[j], now + probe[0], probe[1])
                probes[j] = probe
            finish = {j: probe[0] for j, probe in probes.items()}
            step = min(finish.values())
            if math.isinf(step):
                ends.update(dict.fromkeys(left, math.inf))
                break
            tol = TIME_RTOL * max(1.0, step)
            for j in list(left):
                if finish[j] <= step + tol:
                    # A run the hypervisor gives up on (its timeout) leaves its VM where it was.
                    ends[j] = now + finish[j] if probes[j][1] else math.inf
                    del left[j]
                else:
                    runs[j].advance(step, rates[j])
            now += step
        return ends

    def _component(self, out_links: set[int], in_links: set[int]) -> set[int]:
        """Running moves connected to the given egress / ingress links through shared links
        (``links.linked_moves``): a start or an end only changes the shares inside its own."""
        return links.linked_moves(
            out_links, in_links, self.by_source.__getitem__, self.by_target.__getitem__, self._ends
        )

    def _ends(self, j: int) -> tuple[int, int]:
        m = self.moves[j]
        return m.source, m.target

    def _available(
        self, component: set[int], extra: tuple[int, int, int, float] | None = None
    ) -> dict[int, float]:
        """The bandwidth each running move of a component (and the ``extra`` one, when given) may use
        (``_shares``)."""
        flows = self._flows(component)
        if extra is not None:
            flows[extra[0]] = (extra[1], extra[2], extra[3])
        return self._shares(flows)

    def _flows(self, component: set[int]) -> dict[int, tuple[int, int, float]]:
        """(source, target, demand) of each running move of a component."""
        return {
            j: (self.moves[j].source, self.moves[j].target, self.running[j].demand_mibps) for j in component
        }

    def _shares(self, flows: Mapping[int, tuple[int, int, float]]) -> dict[int, float]:
        """The bandwidth each flow (source, target, demand) may use (``links.link_shares``): its
        max-min fair share, plus what its links leave unused (a capped pre-copy keeps to its cap;
        the final copy, uncapped, may take the rest, as QEMU lifts the limit at switchover)."""
        caps: dict[int, float] = {}
        for src, dst, _ in flows.values():
            caps[src] = self.link_mibps
            caps[dst] = self.link_mibps
        return self.link_shares(flows, caps)

    def _start(self, i: int, t: float, ended_now: Sequence[int]) -> None:
        m = self.moves[i]
        self.status[i] = _RUNNING
        self.pending_at[m.source].discard(i)
        self.pending_at[m.target].discard(i)
        self.usage.add(m.target, m.vm)
        self.active[m.source] += 1
        self.active[m.target] += 1
        run = self.make_run(m.vm)
        demand = min(run.demand_mibps, self.link_mibps)
        self.running[i] = _Running(run, t, self._cause(m, ended_now), demand, since_s=t)
        self.by_source[m.source].add(i)
        self.by_target[m.target].add(i)
        self.timeline.peak_concurrent_moves = max(self.timeline.peak_concurrent_moves, len(self.running))

    def _cause(self, m: Move, ended_now: Sequence[int]) -> int | None:
        """The move, among those that just ended, that most plausibly let ``m`` start."""
        if not ended_now:
            return None
        for j in ended_now:
            e = self.moves[j]
            if j == m.after or e.source in (m.source, m.target) or e.target in (m.source, m.target):
                return self.index_in_timeline[j]
        return self.index_in_timeline[ended_now[-1]]

    def _rerate(self, t: float, out_links: set[int], in_links: set[int]) -> None:
        """Give the running moves around the given links their new bandwidth from ``t`` on,
        bringing each one's simulation up to ``t`` at its old bandwidth first."""
        component = self._component(out_links, in_links)
        if not component:
            return
        rates = self._available(component)
        for j in component:
            r = self.running[j]
            new = rates[j]
            if r.rate_mibps > 0.0 and abs(new - r.rate_mibps) <= RATE_RTOL * r.rate_mibps:
                continue
            if r.rate_mibps > 0.0 and t > r.since_s:
                r.run.advance(t - r.since_s, r.rate_mibps)
            r.since_s = t
            r.rate_mibps = new
            r.finish_s = t + r.run.time_to_finish(new) if new > 0.0 else math.inf

    def _end(self, i: int, t: float) -> None:
        m = self.moves[i]
        r = self.running.pop(i)
        self.by_source[m.source].discard(i)
        self.by_target[m.target].discard(i)
        if t > r.since_s:
            r.run.advance(t - r.since_s, r.rate_mibps)
        if not r.run.finished:
            # Float noise between the predicted finish and the clock: finish the last sliver.
            r.run.advance(max(r.run.time_to_finish(r.rate_mibps), 0.0), r.rate_mibps)
        record = r.run.result().to_record()
        # The plan's times are the clock's; the record's duration is made to match them exactly.
        record = dataclasses.replace(record, total_s=t - r.start_s)
        self.status[i] = _DONE
        self.done_count += 1
        self.usage.remove(m.source, m.vm)
        self.active[m.source] -= 1
        self.active[m.target] -= 1
        self.touching[m.source] -= 1
        self.touching[m.target] -= 1
        self.vm_count[m.source] -= 1
        self.vm_count[m.target] += 1
        self.host_of[m.vm] = m.target
        self.index_in_timeline[i] = len(self.timeline.moves)
        self.timeline.moves.append(TimedMove(m, r.start_s, t, record, r.cause))
        self._power_off_empty(t, (m.source, m.target))
        if self.progress is not None:
            self.progress(self.done_count, max(self.total_estimate, self.done_count))

    def _power_off_empty(self, t: float, hosts: Sequence[int] | None = None) -> None:
        """Power off, at ``t``, each host due off that is empty and that no move will touch again."""
        for h in hosts if hosts is not None else sorted(self.power_off_left):
            if h in self.power_off_left and not self.touching[h] and not self.vm_count[h]:
                self.power_off_left.discard(h)
                self.timeline.power_off_s[h] = t

    def _keep_on_for(self, moves: Sequence[Move]) -> None:
        """Take back the power-off of a host that a replan routes a VM through.

        A host due off is powered off as soon as it empties; the search of a later replan may still
        need it as a stepping stone (it is on now, in the facts). Nothing has touched it since it
        emptied, so keeping it on instead is the same timeline with a later power-off, recorded
        again when it empties for good.
        """
        for m in moves:
            for h in (m.source, m.target):
                if self.timeline.power_off_s.pop(h, None) is not None:
                    self.power_off_left.add(h)

    def _replan_now(self, *, force_search: bool) -> None:
        vms = self._cancel_pending()
        pending = [
            Move(v, self.host_of[v], self.final_target[v], self._reason_of(v))
            for v in vms
            if self.host_of[v] != self.final_target[v]
        ]
        self.timeline.replans += 1
        if not pending:
            return
        fresh = self.replan(list(self.host_of), self.usage.copy(), pending, force_search)
        self._keep_on_for(fresh)
        self._add_moves(fresh)
        self.total_estimate = max(self.total_estimate, self.done_count + len(fresh))

    def _reason_of(self, vm: int) -> MoveReason:
        """The reason of the VM's last planned move to its final target (parking moves excluded)."""
        for i in range(len(self.moves) - 1, -1, -1):
            m = self.moves[i]
            if m.vm == vm and m.target == self.final_target[vm]:
                return m.reason
        raise AssertionError(f"no move of VM #{vm} to its target")

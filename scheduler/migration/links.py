"""Concurrent migrations on shared host links: max-min fair rates and an event-driven simulation.

Why: a migration's rate is its share of the busiest link it crosses, and sharing raises
``λ = D/(s·R)``: starting one more move can turn a converging migration into a stalled one
(``docs/estimator.md`` §4). Treating concurrent migrations as free parallelism underestimates
plans; managers cap them for the same reason (OpenStack Nova's ``max_concurrent_live_migrations``
defaults to 1 per host, ``nova/conf/compute.py``).

Link model: each host has one NIC capacity (MiB/s of payload) that applies to its egress and its
ingress **separately**, as full-duplex Ethernet does (BtrPlace likewise keeps one cumulative
resource per link direction). A migration from ``a`` to ``b`` uses ``a``'s egress and ``b``'s
ingress; two moves out of one host share its egress, a move into and a move out of one host do not
compete. Each move gets its ``link_shares`` share, recomputed whenever a move starts or ends. The
planner (``schedule.py``) times its moves with this model, and the checker
(``check.timing``) re-simulates a plan's moves with :class:`SharedLinkSimulation` to confirm
those times.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from scheduler.migration.precopy import MigrationEstimate, MigrationInput, PrecopyRun
from scheduler.migration.presets import HypervisorPreset

K = TypeVar("K", bound=Hashable)

_EPS = 1e-9
RATE_RTOL = 1e-9  # a share that moved less than this (relative) is kept: its run's end stands


def max_min_fair_rates(
    flows: Mapping[K, tuple[str, str, float]], capacity_mibps: Mapping[str, float]
) -> dict[K, float]:
    """Max-min fair rates by progressive filling.

    Each flow is ``(source host, target host, demand MiB/s)`` and uses the source's egress and the
    target's ingress, each of capacity ``capacity_mibps[host]`` (a host missing from the mapping is
    unconstrained). All unfrozen flows grow at the same pace; a flow freezes when it reaches its
    demand or when a link it crosses is full. The result gives no flow more than its demand, no
    link more than its capacity, and no flow can gain without taking from one with a lower rate.
    """
    rates: dict[K, float] = dict.fromkeys(flows, 0.0)
    links: dict[K, tuple[tuple[str, str], tuple[str, str]]] = {
        key: ((src, "out"), (dst, "in")) for key, (src, dst, _demand) in flows.items()
    }
    remaining: dict[tuple[str, str], float] = {}
    for src, dst, _demand in flows.values():
        for link in ((src, "out"), (dst, "in")):
            remaining[link] = capacity_mibps.get(link[0], math.inf)
    active = {key for key, (_s, _d, demand) in flows.items() if demand > _EPS}
    while active:
        users: dict[tuple[str, str], int] = {}
        for key in active:
            for link in links[key]:
                users[link] = users.get(link, 0) + 1
        # The largest equal increment before a flow meets its demand or a link fills up.
        step = min(flows[key][2] - rates[key] for key in active)
        for link, count in users.items():
            step = min(step, remaining[link] / count)
        step = max(step, 0.0)
        for key in active:
            rates[key] += step
            for link in links[key]:
                remaining[link] -= step
        full = {
            link for link in users if remaining[link] <= _EPS * max(1.0, capacity_mibps.get(link[0], 1.0))
        }
        active = {
            key
            for key in active
            if flows[key][2] - rates[key] > _EPS and not any(link in full for link in links[key])
        }
    return rates


def link_shares(
    flows: Mapping[K, tuple[str, str, float]], capacity_mibps: Mapping[str, float]
) -> dict[K, float]:
    """The bandwidth each flow may use: its max-min fair rate (``max_min_fair_rates``) plus what
    both of its links leave unused.

    Why the rest on top: a flow's demand is what its pre-copy asks (its cap, or the link), and a
    capped pre-copy keeps to its cap by itself; its final copy is uncapped and takes whatever its
    links have left, as QEMU lifts the limit at switchover. A host missing from ``capacity_mibps``
    leaves an unbounded rest.
    """
    rates = max_min_fair_rates(flows, capacity_mibps)
    used_out: dict[str, float] = {}
    used_in: dict[str, float] = {}
    for key, (src, dst, _demand) in flows.items():
        used_out[src] = used_out.get(src, 0.0) + rates[key]
        used_in[dst] = used_in.get(dst, 0.0) + rates[key]
    shares: dict[K, float] = {}
    for key, (src, dst, _demand) in flows.items():
        rest_out = capacity_mibps.get(src, math.inf) - used_out[src]
        rest_in = capacity_mibps.get(dst, math.inf) - used_in[dst]
        shares[key] = rates[key] + max(min(rest_out, rest_in), 0.0)
    return shares


H = TypeVar("H", bound=Hashable)


def linked_moves(
    out_links: Iterable[H],
    in_links: Iterable[H],
    leaving: Callable[[H], Iterable[K]],
    entering: Callable[[H], Iterable[K]],
    ends: Callable[[K], tuple[H, H]],
) -> set[K]:
    """The running moves connected to the given egress (``out_links``) and ingress (``in_links``)
    links through shared links: ``leaving(h)`` / ``entering(h)`` are the running moves out of /
    into host ``h``, ``ends(k)`` a move's (source, target).

    Max-min fair shares split exactly along such components, so a start or an end only changes
    the shares inside its own: the planner and ``SharedLinkSimulation`` rerate just these.
    """
    found: set[K] = set()
    outs, ins = list(out_links), list(in_links)
    seen_out, seen_in = set(outs), set(ins)
    while outs or ins:
        for key in leaving(outs.pop()) if outs else entering(ins.pop()):
            if key in found:
                continue
            found.add(key)
            source, target = ends(key)
            if source not in seen_out:
                seen_out.add(source)
                outs.append(source)
            if target not in seen_in:
                seen_in.add(target)
                ins.append(target)
    return found


@dataclass(frozen=True, slots=True)
class MoveSpec(Generic[K]):
    """One migration to simulate: its id, hosts, input and preset."""

    key: K
    source: str
    target: str
    inp: MigrationInput
    preset: HypervisorPreset | None = None


@dataclass(slots=True)
class _Active(Generic[K]):
    spec: MoveSpec[K]
    run: PrecopyRun
    start_s: float
    demand_mibps: float  # what its pre-copy asks of the links (its cap, or the link), fixed at its start
    rate_mibps: float = 0.0
    end_s: float = math.inf  # when it ends at ``rate_mibps``

    def copy(self) -> _Active[K]:
        return _Active(
            self.spec, self.run.copy(), self.start_s, self.demand_mibps, self.rate_mibps, self.end_s
        )


class SharedLinkSimulation(Generic[K]):
    """Migrations that share host NICs, simulated from event to event.

    Why event-driven: rates are piecewise constant between starts and ends, so between two events
    every :class:`PrecopyRun` advances at a fixed share (``link_shares``, capped at the move's own
    link); at each event the shares of the moves linked to it are recomputed (max-min fairness
    splits exactly along the components of moves that share a link, so the others keep theirs).
    A planner asks "what happens to the running moves if I start this one now" with
    :meth:`preview_start` or :meth:`would_break_convergence` before committing with :meth:`start`;
    a checker adds every move of a plan at its start time and runs to completion.
    """

    def __init__(self, capacity_mibps: Mapping[str, float], now_s: float = 0.0) -> None:
        self.capacity_mibps = dict(capacity_mibps)
        self.now_s = now_s
        self._active: dict[K, _Active[K]] = {}
        self._pending: list[tuple[float, int, MoveSpec[K]]] = []
        self._seq = 0
        self._done: dict[K, tuple[float, float, MigrationEstimate]] = {}
        self._keys: set[K] = set()  # every id ever added: pending, running or done
        self._out: dict[str, set[K]] = {}  # running moves by source (its egress)
        self._in: dict[str, set[K]] = {}  # running moves by target (its ingress)

    # -- building --------------------------------------------------------------------------------

    def add(self, spec: MoveSpec[K], start_s: float | None = None) -> None:
        """Schedule a migration to start at ``start_s`` (default: now)."""
        at = self.now_s if start_s is None else start_s
        if at < self.now_s - _EPS:
            raise ValueError(f"cannot start {spec.key!r} in the past ({at} < {self.now_s})")
        if spec.key in self._keys:
            raise ValueError(f"duplicate move id {spec.key!r}")
        self._keys.add(spec.key)
        heapq.heappush(self._pending, (at, self._seq, spec))
        self._seq += 1

    def start(self, spec: MoveSpec[K]) -> None:
        """Start a migration now."""
        self.add(spec, self.now_s)
        self._start_due()

    def copy(self) -> SharedLinkSimulation[K]:
        """An independent copy for look-ahead."""
        other: SharedLinkSimulation[K] = SharedLinkSimulation(self.capacity_mibps, self.now_s)
        other._active = {k: a.copy() for k, a in self._active.items()}
        other._pending = list(self._pending)
        other._seq = self._seq
        other._done = dict(self._done)
        other._keys = set(self._keys)
        other._out = {h: set(keys) for h, keys in self._out.items()}
        other._in = {h: set(keys) for h, keys in self._in.items()}
        return other

    # -- state -----------------------------------------------------------------------------------

    @property
    def running(self) -> tuple[K, ...]:
        """Ids of the migrations in progress."""
        return tuple(self._active)

    @property
    def completed(self) -> dict[K, tuple[float, float, MigrationEstimate]]:
        """Finished migrations: ``(start_s, end_s, estimate)``."""
        return dict(self._done)

    def rates(self) -> dict[K, float]:
        """Current rate (MiB/s) of every running migration."""
        return {k: a.rate_mibps for k, a in self._active.items()}

    # -- time ------------------------------------------------------------------------------------

    def _start_due(self) -> None:
        """Start the moves due now and end the runs with nothing left, then share their links anew."""
        out_links: set[str] = set()
        in_links: set[str] = set()
        while self._pending and self._pending[0][0] <= self.now_s + _EPS:
            _at, _seq, spec = heapq.heappop(self._pending)
            run = PrecopyRun(spec.inp, spec.preset)
            self._active[spec.key] = _Active(spec, run, self.now_s, run.demand_mibps)
            self._out.setdefault(spec.source, set()).add(spec.key)
            self._in.setdefault(spec.target, set()).add(spec.key)
            out_links.add(spec.source)
            in_links.add(spec.target)
        ended_out, ended_in = self._collect()
        self._rerate(out_links | ended_out, in_links | ended_in)

    def _collect(self) -> tuple[set[str], set[str]]:
        """Record the runs that have ended; returns the egress and ingress links they free."""
        out_links: set[str] = set()
        in_links: set[str] = set()
        for key in [k for k, a in self._active.items() if a.run.finished]:
            active = self._active.pop(key)
            self._out[active.spec.source].discard(key)
            self._in[active.spec.target].discard(key)
            out_links.add(active.spec.source)
            in_links.add(active.spec.target)
            self._done[key] = (active.start_s, self.now_s, active.run.result())
        return out_links, in_links

    def _spec_ends(self, key: K) -> tuple[str, str]:
        spec = self._active[key].spec
        return spec.source, spec.target

    def _rerate(self, out_links: set[str], in_links: set[str]) -> None:
        """New shares for the running moves linked to the given links, and when each now ends.
        Every run is up to date at ``now_s`` (``step`` advances them all)."""
        none: set[K] = set()
        component = linked_moves(
            out_links,
            in_links,
            lambda h: self._out.get(h, none),
            lambda h: self._in.get(h, none),
            self._spec_ends,
        )
        if not component:
            return
        flows = {
            k: (self._active[k].spec.source, self._active[k].spec.target, self._active[k].demand_mibps)
            for k in component
        }
        shares = link_shares(flows, self.capacity_mibps)
        for key in component:
            active = self._active[key]
            rate = min(shares[key], active.spec.inp.link_mibps)
            old = active.rate_mibps
            if old > 0.0 and abs(rate - old) <= RATE_RTOL * old:
                # The same share to rounding: the end found at it still stands. The planner keeps
                # such a share too, so near the edge of convergence both take the same path.
                continue
            active.rate_mibps = rate
            active.end_s = self.now_s + active.run.time_to_end(rate)

    def step(self, until_s: float = math.inf) -> bool:
        """Advance to the next event (a start or an end), or to ``until_s``; False when nothing is left."""
        self._start_due()
        if not self._active and not self._pending:
            return False
        horizon = min(until_s, self._pending[0][0] if self._pending else math.inf)
        next_end = min((a.end_s for a in self._active.values()), default=math.inf)
        dt = min(horizon, next_end) - self.now_s
        if math.isinf(dt):
            raise RuntimeError("no migration can progress (no bandwidth and no timeout)")
        dt = max(dt, 0.0)
        for active in self._active.values():
            left = active.end_s - self.now_s
            if left <= dt + 1e-9:
                # This run ends at this event: a little slack so rounding cannot leave it a hair short.
                active.run.advance(left + 1e-9, active.rate_mibps)
            else:
                active.run.advance(dt, active.rate_mibps)
        self.now_s += dt
        self._start_due()
        return bool(self._active or self._pending) or dt > 0

    def advance_to(self, t_s: float) -> None:
        """Run every event up to time ``t_s``."""
        while self.now_s < t_s - _EPS and (self._active or self._pending):
            self.step(until_s=t_s)
        self.now_s = max(self.now_s, t_s)

    def run_to_completion(self) -> dict[K, tuple[float, float, MigrationEstimate]]:
        """Run until every migration has ended; ``(start_s, end_s, estimate)`` per move id."""
        while self._active or self._pending:
            self.step()
        return dict(self._done)

    # -- look-ahead ------------------------------------------------------------------------------

    def preview_start(self, spec: MoveSpec[K]) -> dict[K, MigrationEstimate]:
        """Final estimates of the running moves and of ``spec`` if ``spec`` started now."""
        probe = self.copy()
        probe.start(spec)
        keys = set(self._active) | {spec.key}
        done = probe.run_to_completion()
        return {key: done[key][2] for key in keys}

    def would_break_convergence(self, spec: MoveSpec[K]) -> bool:
        """Whether starting ``spec`` now makes a running move that would converge fail to."""
        baseline = self.copy().run_to_completion()
        with_new = self.preview_start(spec)
        return any(baseline[key][2].converges and not with_new[key].converges for key in self._active)

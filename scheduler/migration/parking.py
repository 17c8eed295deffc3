"""Breaking cycles and deadlocks: parking moves through a host with room, and a last-resort search.

With hosts full, a swap (A→B while B→A) or a ring of full hosts has no capacity-safe order: every
move waits for room that only another waiting move frees. The remedy (Entropy's pivot migration,
proxlb-solver's temporary moves) is to route one VM of the cycle through a third host with room.

``add_parking`` replays the moves one at a time, in any order that fits, until the rest wait on
each other; it then parks the VM whose extra move costs the least migration time among those
whose departure lets a waiting move in, and goes on. Because a sequential order is also a valid
timed order (one move at a time), a move set this replay completes has a safe schedule.

``search_sequence`` is the fallback when no single parking helps (for instance a VM that is not
asked to move must step aside first): an A* search over placements whose every edge is one move
that fits. Not every move can be undone: nothing goes back to a host in maintenance, to a host a
priority-1 rule forbids the VM, or to a host that started over capacity. So a search from the
state where a run stalled may fail where one from the start succeeds, and proves nothing;
``search_from_start`` is the one whose failure is a proof, where it covers every movable VM of the
cluster (at most ``EXHAUSTIVE_MAX_VMS``) within its node budget.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from scheduler.migration.moves import Facts, Move, Usage
from scheduler.model import MoveReason

DEFAULT_SEARCH_BUDGET = 50_000  # placements expanded before the search gives up
EXHAUSTIVE_MAX_VMS = 8  # up to this many movable VMs, the search considers all of them


@dataclass(slots=True)
class ParkingResult:
    """Moves with parking moves inserted, and the VMs still deadlocked (empty when resolved)."""

    moves: list[Move]
    stuck_vms: list[int] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        return not self.stuck_vms


class SequentialReplay:
    """Moves applied one at a time, in any order that fits, on a copy of the state.

    ``where`` is each pending VM's host in the replayed state, ``applied`` the moves in the order
    they were applied (a safe order when run one after another), ``waiting`` the VMs whose move
    does not fit yet, by target host.
    """

    def __init__(self, usage: Usage, pending: Sequence[Move]) -> None:
        self.usage = usage.copy()
        self.where: dict[int, int] = {m.vm: m.source for m in pending}
        self.target_of: dict[int, int] = {m.vm: m.target for m in pending}
        self.waiting: dict[int, list[int]] = {}
        for m in pending:
            self.waiting.setdefault(m.target, []).append(m.vm)
        self.applied: list[tuple[int, int, int]] = []
        self._queue: deque[int] = deque(self.waiting)

    def drain(self) -> list[int]:
        """Apply every move that fits, until none does; return the VMs still waiting."""
        u = self.usage
        while self._queue:
            h = self._queue.popleft()
            vms = self.waiting.get(h)
            if not vms:
                continue
            still: list[int] = []
            for v in vms:
                if u.fits(h, v):
                    self.step(v, h)
                else:
                    still.append(v)
            self.waiting[h] = still
        return [v for vms in self.waiting.values() for v in vms]

    def step(self, vm: int, host: int) -> None:
        """Move ``vm`` to ``host`` in the replayed state; its old host may now let a move in."""
        src = self.where[vm]
        self.usage.add(host, vm)
        self.usage.remove(src, vm)
        self.where[vm] = host
        self.applied.append((vm, src, host))
        self._queue.append(src)


def add_parking(
    facts: Facts,
    usage: Usage,
    pending: Sequence[Move],
    move_cost_s: Callable[[int], float],
) -> ParkingResult:
    """Insert parking moves so that ``pending`` (one move per VM, from where it is now) can complete.

    ``usage`` describes the state now, with nothing in flight. A parked VM's move becomes two: to
    the parking host (reason ``parking``) and from there to its target, chained by ``Move.after``.
    Each VM is parked at most once, so this ends after at most one parking per pending move.
    """
    replay = SequentialReplay(usage, pending)
    parked_at: dict[int, int] = {}
    while True:
        stuck = replay.drain()
        if not stuck:
            break
        choice = _choose_parking(facts, replay, stuck, parked_at, move_cost_s)
        if choice is None:
            return ParkingResult(list(pending), sorted(stuck))
        vm, park = choice
        parked_at[vm] = park
        replay.step(vm, park)

    out: list[Move] = []
    for m in pending:
        host = parked_at.get(m.vm)
        if host is None:
            out.append(m)
            continue
        out.append(Move(m.vm, m.source, host, MoveReason.PARKING))
        out.append(Move(m.vm, host, m.target, m.reason, after=len(out) - 1))
    return ParkingResult(out)


def _choose_parking(
    facts: Facts,
    replay: SequentialReplay,
    stuck: Iterable[int],
    parked_at: Mapping[int, int],
    move_cost_s: Callable[[int], float],
) -> tuple[int, int] | None:
    """The (VM, parking host) that adds the least migration time among those that unblock a move.

    A parking that frees no room any waiting move can use is a last resort; among hosts, one that
    no waiting move targets is preferred (parking there takes no room a real move needs), then the
    one with the most slack.
    """
    u = replay.usage
    targeted = {h for h, vms in replay.waiting.items() if vms}
    best: tuple[tuple[bool, float, int], int, int] | None = None
    for v in stuck:
        if v in parked_at:
            continue
        src = replay.where[v]
        helps = _departure_helps(u, src, v, replay.waiting.get(src, ()))
        key = (not helps, move_cost_s(v), v)
        if best is not None and key >= best[0]:
            continue
        host = _parking_host(facts, u, v, src, replay.target_of[v], targeted)
        if host is not None:
            best = (key, v, host)
    return None if best is None else (best[1], best[2])


def _departure_helps(u: Usage, src: int, vm: int, incoming: Iterable[int]) -> bool:
    """Whether ``vm`` leaving ``src`` lets at least one waiting move into ``src``."""
    u.remove(src, vm)
    try:
        return any(u.fits(src, w) for w in incoming if w != vm)
    finally:
        u.add(src, vm)


def _parking_host(facts: Facts, u: Usage, vm: int, src: int, dst: int, targeted: set[int]) -> int | None:
    """A host that may hold ``vm`` for a while and has room for it now: one no waiting move
    targets, then the soonest ready (up, not booting), then the one with most slack."""
    row = facts.allowed[vm]
    best: tuple[bool, float, float] | None = None
    best_host: int | None = None
    for h in range(facts.num_hosts):
        if h in (src, dst) or not facts.parks[h] or not row[h] or not u.fits(h, vm):
            continue
        # A host still booting holds the parking move, and every move waiting on it, until it is up.
        key = (h in targeted, facts.ready_s[h], -u.slack(h))
        if best is None or key < best:
            best, best_host = key, h
    return best_host


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """A sequence of moves (VM, source, target) reaching the target, or None; and whether the
    search covered every placement of the VMs it considered."""

    steps: list[tuple[int, int, int]] | None
    exhaustive: bool


def search_sequence(
    facts: Facts,
    usage: Usage,
    host_of: Sequence[int],
    target_of: Mapping[int, int],
    movable: Sequence[int],
    *,
    budget: int = DEFAULT_SEARCH_BUDGET,
) -> SearchOutcome:
    """Shortest sequence of single moves that fit, taking every VM in ``target_of`` to its target.

    ``movable`` are the VMs the search may move (those of ``target_of`` included); each step moves
    one of them to a host that receives moves, allows it and has room. A* on the number of VMs not
    yet on their target, which never overestimates the moves left.
    """
    vms = sorted(set(movable) | set(target_of))
    k = len(vms)
    start = tuple(host_of[v] for v in vms)
    goal = tuple(target_of.get(v, host_of[v]) for v in vms)
    # Usage of everything the search does not move, so a state's usage is this plus its VMs.
    base = usage.copy()
    for v, h in zip(vms, start, strict=True):
        base.remove(h, v)
    choices = [
        [h for h in range(facts.num_hosts) if facts.receives[h] and bool(facts.allowed[v, h])] for v in vms
    ]

    def misplaced(state: tuple[int, ...]) -> int:
        return sum(1 for a, b in zip(state, goal, strict=True) if a != b)

    came_from: dict[tuple[int, ...], tuple[tuple[int, ...], int, int, int] | None] = {start: None}
    cost: dict[tuple[int, ...], int] = {start: 0}
    frontier: list[tuple[int, int, tuple[int, ...]]] = [(misplaced(start), 0, start)]
    expanded = 0
    while frontier:
        _, g, state = heapq.heappop(frontier)
        if g > cost[state]:
            continue
        if state == goal:
            return SearchOutcome(_unwind(came_from, state), True)
        expanded += 1
        if expanded > budget:
            return SearchOutcome(None, False)
        u = base.copy()
        for v, h in zip(vms, state, strict=True):
            u.add(h, v)
        for i, v in enumerate(vms):
            here = state[i]
            for h in choices[i]:
                if h == here or not u.fits(h, v):
                    continue
                nxt = (*state[:i], h, *state[i + 1 :])
                if g + 1 < cost.get(nxt, k * k + 1_000_000):
                    cost[nxt] = g + 1
                    came_from[nxt] = (state, v, here, h)
                    heapq.heappush(frontier, (g + 1 + misplaced(nxt), g + 1, nxt))
    return SearchOutcome(None, True)


def _unwind(
    came_from: Mapping[tuple[int, ...], tuple[tuple[int, ...], int, int, int] | None], state: tuple[int, ...]
) -> list[tuple[int, int, int]]:
    steps: list[tuple[int, int, int]] = []
    link = came_from[state]
    while link is not None:
        prev, v, src, dst = link
        steps.append((v, src, dst))
        link = came_from[prev]
    steps.reverse()
    return steps


def sequence_moves(
    steps: Sequence[tuple[int, int, int]],
    final_of: Mapping[int, int],
    reason_of: Callable[[int], MoveReason],
) -> list[Move]:
    """Turn a search result into moves chained one after another (only the order is known safe).

    ``final_of``: the target host of every VM the plan moves (its pending move, or one done
    already that the search undid). A VM's last step onto that host carries the VM's reason;
    every other step is a parking move.
    """
    last_step: dict[int, int] = {}
    for i, (v, _, _) in enumerate(steps):
        last_step[v] = i
    out: list[Move] = []
    for i, (v, src, dst) in enumerate(steps):
        final = last_step[v] == i and final_of.get(v) == dst
        reason = reason_of(v) if final else MoveReason.PARKING
        out.append(Move(v, src, dst, reason, after=i - 1 if i > 0 else None))
    return out


def involved_vms(
    facts: Facts, host_of: Sequence[int], stuck: Iterable[int], target_of: Mapping[int, int]
) -> tuple[list[int], bool]:
    """The VMs a bounded search should consider, and whether they are every movable VM: the stuck
    ones and every movable VM on their hosts, or all movable VMs on a small cluster (at most
    ``EXHAUSTIVE_MAX_VMS``), where a search that fails within its budget is a proof."""
    num_allowed = facts.allowed.sum(axis=1)
    movable = [v for v, h in enumerate(host_of) if h >= 0 and (num_allowed[v] > 1 or v in target_of)]
    if len(movable) <= EXHAUSTIVE_MAX_VMS:
        return movable, True
    hosts: set[int] = set()
    stuck_set = set(stuck)
    for v in stuck_set:
        hosts.add(host_of[v])
        hosts.add(target_of[v])
    return [v for v in movable if host_of[v] in hosts or v in stuck_set], False


@dataclass(frozen=True, slots=True)
class Fallback:
    """What a last-resort search found: moves to run strictly one after another, or None; the
    VMs that were stuck; whether a failure is a proof that no order reaches the target."""

    moves: list[Move] | None
    stuck_vms: list[int]
    proven: bool


def resolve_by_search(
    facts: Facts,
    usage: Usage,
    host_of: Sequence[int],
    pending: Sequence[Move],
    reason_of: Callable[[int], MoveReason],
    final_of: Mapping[int, int],
    *,
    budget: int = DEFAULT_SEARCH_BUDGET,
) -> Fallback:
    """A strictly sequential order for ``pending`` from the state now (nothing in flight).

    The moves that fit one after another are applied first; the search then starts from where they
    leave the cluster, over the stuck VMs and the movable VMs on the hosts they involve. A failure
    proves nothing: the moves made so far may not be undoable (see the module docstring).
    """
    replay = SequentialReplay(usage, pending)
    stuck = replay.drain()
    drained = list(host_of)
    for v, h in replay.where.items():
        drained[v] = h
    target_of = {m.vm: m.target for m in pending}
    considered, _ = involved_vms(facts, drained, stuck, target_of)
    outcome = search_sequence(facts, replay.usage, drained, target_of, considered, budget=budget)
    if outcome.steps is None:
        return Fallback(None, sorted(stuck), False)
    steps = replay.applied + outcome.steps
    return Fallback(sequence_moves(steps, final_of, reason_of), sorted(stuck), False)


def search_from_start(
    facts: Facts,
    usage: Usage,
    host_of: Sequence[int],
    moves: Sequence[Move],
    reason_of: Callable[[int], MoveReason],
    *,
    budget: int = DEFAULT_SEARCH_BUDGET,
) -> Fallback | None:
    """A strictly sequential order for ``moves`` from the inventory's placement (``host_of``,
    ``usage``), searched over every movable VM; None on a cluster too large for that (more than
    ``EXHAUSTIVE_MAX_VMS`` movable VMs), where the search would only spend its budget. A failure
    is a proof where the search ran to the end."""
    target_of = {m.vm: m.target for m in moves}
    considered, every = involved_vms(facts, host_of, target_of, target_of)
    if not every:
        return None
    outcome = search_sequence(facts, usage, host_of, target_of, considered, budget=budget)
    if outcome.steps is None:
        return Fallback(None, sorted(target_of), outcome.exhaustive)
    return Fallback(sequence_moves(outcome.steps, target_of, reason_of), [], True)

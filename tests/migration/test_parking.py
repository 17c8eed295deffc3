"""Parking and the last-resort search, on the planner's index-based representation."""

from __future__ import annotations

import numpy as np

from scheduler.migration.moves import Facts, Move, Usage
from scheduler.migration.parking import add_parking, resolve_by_search, search_sequence, sequence_moves
from scheduler.model import MoveReason


def facts(memory_caps: list[int], vm_memory: list[int], *, parks: list[bool] | None = None) -> Facts:
    """Hosts with memory capacities only (CPU never binds), every VM allowed everywhere."""
    n, k = len(memory_caps), len(vm_memory)
    return Facts(
        host_names=tuple(f"h{i}" for i in range(n)),
        vm_names=tuple(f"v{i}" for i in range(k)),
        cpu_cap_mhz=(10**9,) * n,
        memory_cap_mib=tuple(float(c) for c in memory_caps),
        vm_cpu_mhz=(1,) * k,
        vm_memory_mib=tuple(vm_memory),
        allowed=np.ones((k, n), dtype=bool),
        receives=(True,) * n,
        parks=tuple(parks) if parks is not None else (True,) * n,
        ready_s=(0.0,) * n,
    )


def test_moves_that_fit_in_some_order_need_no_parking():
    """h0→h1 needs h1's VM to leave first; that one fits on h2 directly: a chain, not a cycle."""
    f = facts([4, 4, 4], [4, 4])
    usage = Usage.of_placement(f, [0, 1])
    moves = [Move(0, 0, 1, MoveReason.DRS), Move(1, 1, 2, MoveReason.DRS)]
    result = add_parking(f, usage, moves, lambda v: 1.0)
    assert result.resolved
    assert result.moves == moves


def test_swap_parks_the_cheaper_vm_and_chains_its_two_moves():
    f = facts([4, 4, 4], [4, 4])
    usage = Usage.of_placement(f, [0, 1])
    moves = [Move(0, 0, 1, MoveReason.DRS), Move(1, 1, 0, MoveReason.RULE)]
    result = add_parking(f, usage, moves, lambda v: 10.0 if v == 0 else 1.0)
    assert result.resolved
    assert result.moves == [
        Move(0, 0, 1, MoveReason.DRS),
        Move(1, 1, 2, MoveReason.PARKING),
        Move(1, 2, 0, MoveReason.RULE, after=1),
    ]


def test_no_parking_host_leaves_the_cycle_stuck():
    f = facts([4, 4, 4], [4, 4], parks=[True, True, False])
    usage = Usage.of_placement(f, [0, 1])
    moves = [Move(0, 0, 1, MoveReason.DRS), Move(1, 1, 0, MoveReason.DRS)]
    result = add_parking(f, usage, moves, lambda v: 1.0)
    assert not result.resolved
    assert result.stuck_vms == [0, 1]


def test_search_proves_a_swap_among_full_hosts_impossible():
    """Every host is full: no sequence of single moves swaps v0 and v1, and the search says so."""
    f = facts([4, 4, 4], [4, 4, 4])
    usage = Usage.of_placement(f, [0, 1, 2])
    outcome = search_sequence(f, usage, [0, 1, 2], {0: 1, 1: 0}, [0, 1, 2])
    assert outcome.steps is None
    assert outcome.exhaustive


def test_search_fallback_returns_a_strict_sequence():
    f = facts([4, 4, 6], [4, 4, 2])
    usage = Usage.of_placement(f, [0, 1, 2])
    pending = [Move(0, 0, 1, MoveReason.DRS), Move(1, 1, 0, MoveReason.DRS)]
    fallback = resolve_by_search(f, usage, [0, 1, 2], pending, lambda v: MoveReason.DRS, {0: 1, 1: 0})
    assert fallback.moves is not None
    assert all(m.after == i - 1 for i, m in enumerate(fallback.moves) if i > 0)
    # Replaying the sequence one move at a time stays within capacity and ends on the targets.
    where = [0, 1, 2]
    used = Usage.of_placement(f, where)
    for m in fallback.moves:
        assert used.fits(m.target, m.vm)
        used.add(m.target, m.vm)
        used.remove(m.source, m.vm)
        where[m.vm] = m.target
    assert where[0] == 1
    assert where[1] == 0


def test_a_vm_the_search_moves_back_onto_its_target_gets_its_own_reason():
    """v0 reached h1 before the stall; the search steps it aside to h2 and back. Its last step is
    its own move again, not parking (the search knows only the VMs still pending)."""
    steps = [(0, 1, 2), (1, 0, 1), (0, 2, 1)]
    moves = sequence_moves(steps, {0: 1, 1: 1}, lambda v: MoveReason.DRS)
    assert [m.reason for m in moves] == [MoveReason.PARKING, MoveReason.DRS, MoveReason.DRS]
    assert [m.after for m in moves] == [None, 0, 1]

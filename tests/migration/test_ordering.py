"""Dependency graph and list-scheduling priorities."""

from __future__ import annotations

import numpy as np

from scheduler.migration.moves import Facts, Move, Usage
from scheduler.migration.ordering import bottom_levels, dependency_graph, priority_keys
from scheduler.model import MoveReason


def facts(memory_caps: list[int], vm_memory: list[int]) -> Facts:
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
        parks=(True,) * n,
        ready_s=(0.0,) * n,
    )


def test_a_move_into_a_full_host_waits_for_the_moves_out_of_it():
    f = facts([4, 4, 8], [4, 4])
    usage = Usage.of_placement(f, [0, 1])
    moves = [Move(0, 0, 1, MoveReason.DRS), Move(1, 1, 2, MoveReason.DRS)]
    graph = dependency_graph(moves, usage)
    assert graph.has_edge(1, ("host", 1))
    assert graph.has_edge(("host", 1), 0)
    assert bottom_levels(graph, [5.0, 7.0]) == [5.0, 12.0]


def test_a_host_with_room_for_everything_adds_no_edge():
    f = facts([8, 8], [4, 4])
    usage = Usage.of_placement(f, [0, 1])
    moves = [Move(0, 0, 1, MoveReason.DRS), Move(1, 1, 0, MoveReason.DRS)]
    assert dependency_graph(moves, usage).number_of_edges() == 0


def test_unblocking_moves_and_maintenance_drains_come_first():
    f = facts([4, 4, 8, 8], [4, 4, 1])
    usage = Usage.of_placement(f, [0, 1, 3])
    moves = [
        Move(0, 0, 1, MoveReason.DRS),
        Move(1, 1, 2, MoveReason.DRS),
        Move(2, 3, 2, MoveReason.MAINTENANCE),
    ]
    keys = priority_keys(moves, usage, [5.0, 5.0, 1.0], [False, False, False, True], concurrency=2)
    order = sorted(range(3), key=keys.__getitem__)
    assert order == [2, 1, 0]  # maintenance drain, then the move that unblocks, then the blocked one

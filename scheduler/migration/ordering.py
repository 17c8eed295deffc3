"""Which move goes first: the dependency graph of moves and the list-scheduling priority.

A move into a host that lacks room for everything it is to receive waits, in effect, for moves out
of that host; a parked VM's second move waits for its first. These waits form a directed graph
(networkx), and a move's *bottom level* is the longest chain of estimated migration seconds from it
to the end of the graph: the classic list-scheduling priority (HLFET), which starts first the moves
that unblock others and, among free ones, the longest. Cycles (swaps, rings) are collapsed to one
node each: parking has already made them breakable, so the bound only needs to be finite.

Each host's link also serialises its moves, so a move on a host with a long queue of work is as
urgent as one heading a long chain; the priority takes the larger of the two figures. Maintenance
hosts are drained first whatever the figures say.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from scheduler.migration.moves import Move, Usage
from scheduler.model import MoveReason

# Sort key of a move: smaller is more urgent.
PriorityKey = tuple[int, float, float, int]


def dependency_graph(moves: Sequence[Move], usage: Usage) -> nx.DiGraph:
    """Moves as nodes (their index); an edge a → b when b waits for a.

    b waits for a when a is b's ``after``, or when a leaves the host b enters and that host lacks
    room for all it is to receive. Such a host gets a hub node (``("host", h)``) between its
    outgoing and incoming moves, so the graph stays linear in size instead of outgoing × incoming.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(moves)))
    incoming: dict[int, list[int]] = {}
    outgoing: dict[int, list[int]] = {}
    for i, m in enumerate(moves):
        if m.after is not None:
            graph.add_edge(m.after, i)
        incoming.setdefault(m.target, []).append(i)
        outgoing.setdefault(m.source, []).append(i)
    facts = usage.facts
    for h, ins in incoming.items():
        outs = outgoing.get(h)
        if not outs:
            continue
        cpu = usage.cpu_mhz[h] + sum(facts.vm_cpu_mhz[moves[i].vm] for i in ins)
        memory = usage.memory_mib[h] + sum(facts.vm_memory_mib[moves[i].vm] for i in ins)
        if cpu <= facts.cpu_cap_mhz[h] and memory <= facts.memory_cap_mib[h]:
            continue  # room for everything already: incoming moves wait for nobody
        hub = ("host", h)
        graph.add_edges_from((o, hub) for o in outs)
        graph.add_edges_from((hub, i) for i in ins)
    return graph


def bottom_levels(graph: nx.DiGraph, duration_s: Sequence[float]) -> list[float]:
    """Longest chain of move seconds from each move to the end of the graph (itself included).

    Strongly connected parts count as one node weighing their longest move.
    """
    cond = nx.condensation(graph)
    weight: dict[int, float] = {}
    for c, data in cond.nodes(data=True):
        weight[c] = max((duration_s[n] for n in data["members"] if isinstance(n, int)), default=0.0)
    level: dict[int, float] = {}
    for c in reversed(list(nx.topological_sort(cond))):
        below = max((level[s] for s in cond.successors(c)), default=0.0)
        level[c] = weight[c] + below
    mapping = cond.graph["mapping"]
    return [level[mapping[i]] for i in range(len(duration_s))]


def host_queue_s(
    moves: Sequence[Move], duration_s: Sequence[float], num_hosts: int, concurrency: int
) -> list[float]:
    """Seconds of migration each host takes part in, divided by the moves it may run at once."""
    load = [0.0] * num_hosts
    for m, d in zip(moves, duration_s, strict=True):
        load[m.source] += d
        load[m.target] += d
    return [x / max(concurrency, 1) for x in load]


def priority_keys(
    moves: Sequence[Move],
    usage: Usage,
    duration_s: Sequence[float],
    drained_first: Sequence[bool],
    concurrency: int,
) -> list[PriorityKey]:
    """The list-scheduling key of each move (smaller first).

    Order: moves out of a host being drained for maintenance; then the larger of the bottom level
    and the busier end's queue; then the longer move; then plan order, for determinism.
    """
    graph = dependency_graph(moves, usage)
    levels = bottom_levels(graph, duration_s)
    queues = host_queue_s(moves, duration_s, usage.facts.num_hosts, concurrency)
    keys: list[PriorityKey] = []
    for i, m in enumerate(moves):
        urgent = drained_first[m.source] and m.reason is not MoveReason.PARKING
        figure = max(levels[i], queues[m.source], queues[m.target])
        keys.append((0 if urgent else 1, -figure, -duration_s[i], i))
    return keys

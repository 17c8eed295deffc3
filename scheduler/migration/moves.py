"""The planner's working representation: index-based host and VM facts, moves, and live host usage.

The planner's inner loops run thousands of times per plan, so they work on plain lists indexed like
``instance.hosts`` / ``instance.vms`` rather than on names or frozen model objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.model import MoveReason
from scheduler.model.instance import BoolArray


@dataclass(frozen=True, slots=True)
class Move:
    """One migration to schedule: VM ``vm`` from host ``source`` to host ``target`` (indices).

    ``after`` is the index, in the same list, of a move that must end before this one starts: the
    VM's previous move when it goes through a parking host, or the previous step of a sequence
    that is only safe one move at a time.
    """

    vm: int
    source: int
    target: int
    reason: MoveReason
    after: int | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """What the planner knows of hosts and VMs, fixed for the whole plan.

    ``receives[h]``: the host may be the target of a move at some point (it is on, or powered on
    first, and neither in maintenance nor left off). ``parks[h]``: the host may also hold a VM for a
    while to break a cycle (it receives and stays on at the end). ``ready_s[h]``: the earliest time a
    move may target it (its boot time when it is powered on at time 0).
    """

    host_names: tuple[str, ...]
    vm_names: tuple[str, ...]
    cpu_cap_mhz: tuple[int, ...]
    memory_cap_mib: tuple[float, ...]
    vm_cpu_mhz: tuple[int, ...]
    vm_memory_mib: tuple[int, ...]
    allowed: BoolArray
    receives: tuple[bool, ...]
    parks: tuple[bool, ...]
    ready_s: tuple[float, ...]

    @property
    def num_hosts(self) -> int:
        return len(self.host_names)


class Usage:
    """CPU demand and configured memory counted on each host now (a moving VM counts on both ends)."""

    __slots__ = ("cpu_mhz", "facts", "memory_mib")

    def __init__(self, facts: Facts, cpu_mhz: list[int], memory_mib: list[int]) -> None:
        self.facts = facts
        self.cpu_mhz = cpu_mhz
        self.memory_mib = memory_mib

    @classmethod
    def of_placement(cls, facts: Facts, host_of: list[int]) -> Usage:
        """Usage of a placement given as a host index per VM (negative: the VM counts nowhere)."""
        cpu = [0] * facts.num_hosts
        memory = [0] * facts.num_hosts
        for v, h in enumerate(host_of):
            if h >= 0:
                cpu[h] += facts.vm_cpu_mhz[v]
                memory[h] += facts.vm_memory_mib[v]
        return cls(facts, cpu, memory)

    def copy(self) -> Usage:
        return Usage(self.facts, list(self.cpu_mhz), list(self.memory_mib))

    def within(self, host: int) -> bool:
        """Whether the host is within capacity (a host over capacity takes no move in)."""
        f = self.facts
        return self.cpu_mhz[host] <= f.cpu_cap_mhz[host] and self.memory_mib[host] <= f.memory_cap_mib[host]

    def fits(self, host: int, vm: int) -> bool:
        """Whether ``vm`` may arrive on ``host`` now without either resource going over capacity."""
        f = self.facts
        return (
            self.within(host)
            and self.cpu_mhz[host] + f.vm_cpu_mhz[vm] <= f.cpu_cap_mhz[host]
            and self.memory_mib[host] + f.vm_memory_mib[vm] <= f.memory_cap_mib[host]
        )

    def add(self, host: int, vm: int) -> None:
        self.cpu_mhz[host] += self.facts.vm_cpu_mhz[vm]
        self.memory_mib[host] += self.facts.vm_memory_mib[vm]

    def remove(self, host: int, vm: int) -> None:
        self.cpu_mhz[host] -= self.facts.vm_cpu_mhz[vm]
        self.memory_mib[host] -= self.facts.vm_memory_mib[vm]

    def slack(self, host: int) -> float:
        """The smaller free fraction of the host's two resources (negative when over capacity)."""
        f = self.facts
        cpu_cap = max(f.cpu_cap_mhz[host], 1)
        memory_cap = max(f.memory_cap_mib[host], 1.0)
        return min(
            (cpu_cap - self.cpu_mhz[host]) / cpu_cap,
            (memory_cap - self.memory_mib[host]) / memory_cap,
        )

"""The validated, immutable cluster instance every other module works on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from scheduler.model.host import Host, HostState
from scheduler.model.policy import Policy
from scheduler.model.rules import Rule, RuleKind
from scheduler.model.vm import VM

NO_HOST = -1  # host index of a VM without a host (new VM) in index arrays

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Instance:
    """A cluster: hosts, VMs, rules and policy, validated once by the reader.

    Hosts and VMs keep the inventory's order; ``host_index`` / ``vm_index`` map names to positions,
    and the ``*_array`` properties give column vectors in that order for vectorized code.
    Equality compares content (the cached arrays are derived and ignored).
    """

    name: str
    hosts: tuple[Host, ...]
    vms: tuple[VM, ...]
    rules: tuple[Rule, ...] = ()
    policy: Policy = field(default_factory=Policy)
    vm_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    host_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vm_groups", MappingProxyType(dict(self.vm_groups)))
        object.__setattr__(self, "host_groups", MappingProxyType(dict(self.host_groups)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Instance):
            return NotImplemented
        return (
            self.name == other.name
            and self.hosts == other.hosts
            and self.vms == other.vms
            and self.rules == other.rules
            and self.policy == other.policy
            and dict(self.vm_groups) == dict(other.vm_groups)
            and dict(self.host_groups) == dict(other.host_groups)
        )

    __hash__ = None  # type: ignore[assignment]

    # -- index maps -------------------------------------------------------------------------

    @cached_property
    def host_index(self) -> Mapping[str, int]:
        return MappingProxyType({h.name: i for i, h in enumerate(self.hosts)})

    @cached_property
    def vm_index(self) -> Mapping[str, int]:
        return MappingProxyType({v.name: i for i, v in enumerate(self.vms)})

    @cached_property
    def rule_index(self) -> Mapping[str, int]:
        return MappingProxyType({r.name: i for i, r in enumerate(self.rules)})

    def host(self, name: str) -> Host:
        return self.hosts[self.host_index[name]]

    def vm(self, name: str) -> VM:
        return self.vms[self.vm_index[name]]

    @property
    def num_hosts(self) -> int:
        return len(self.hosts)

    @property
    def num_vms(self) -> int:
        return len(self.vms)

    # -- column vectors (read-only numpy arrays) --------------------------------------------

    @cached_property
    def host_cpu_mhz(self) -> IntArray:
        return _frozen(np.array([h.cpu_mhz for h in self.hosts], dtype=np.int64))

    @cached_property
    def host_memory_mib(self) -> IntArray:
        return _frozen(np.array([h.memory_mib for h in self.hosts], dtype=np.int64))

    @cached_property
    def host_memory_admission_mib(self) -> FloatArray:
        """Configured VM memory a host admits: its memory times the overcommit factor."""
        return _frozen(self.host_memory_mib.astype(np.float64) * float(self.policy.memory_overcommit))

    @cached_property
    def vm_cpu_demand_mhz(self) -> IntArray:
        return _frozen(np.array([v.cpu_demand_mhz for v in self.vms], dtype=np.int64))

    @cached_property
    def vm_memory_demand_mib(self) -> IntArray:
        return _frozen(np.array([v.memory_demand_mib for v in self.vms], dtype=np.int64))

    @cached_property
    def vm_memory_mib(self) -> IntArray:
        return _frozen(np.array([v.memory_mib for v in self.vms], dtype=np.int64))

    def balance_columns(self, resource: str) -> tuple[IntArray, IntArray]:
        """(VM demand, host capacity) of a measured resource: ``cpu`` is CPU demand against
        ``cpu_mhz``, ``memory`` memory demand against ``memory_mib`` (docs/inventory.md, balance)."""
        if resource == "cpu":
            return self.vm_cpu_demand_mhz, self.host_cpu_mhz
        return self.vm_memory_demand_mib, self.host_memory_mib

    @cached_property
    def vm_dirty_rate_mibps(self) -> FloatArray:
        return _frozen(np.array([v.dirty_rate_mibps for v in self.vms], dtype=np.float64))

    @cached_property
    def current_host(self) -> IntArray:
        """Index of each VM's current host, ``NO_HOST`` for new VMs."""
        idx = self.host_index
        return _frozen(
            np.array([idx[v.host] if v.host is not None else NO_HOST for v in self.vms], dtype=np.int64)
        )

    @cached_property
    def host_states(self) -> tuple[HostState, ...]:
        return tuple(h.state for h in self.hosts)

    # -- rules ------------------------------------------------------------------------------

    def rules_of_kind(self, kind: RuleKind) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.kind is kind)

    def accepted_hosts(self, rule: Rule) -> BoolArray:
        """For a VM-to-host rule, the hosts where its VMs keep it (``Rule.allows_host`` as a mask)."""
        listed = np.zeros(self.num_hosts, dtype=np.bool_)
        listed[[self.host_index[name] for name in rule.hosts]] = True
        return listed if rule.wants_hosts else ~listed

    def current_placement(self) -> dict[str, str]:
        """Name map of VM to current host, for placed VMs only."""
        return {v.name: v.host for v in self.vms if v.host is not None}


_A = TypeVar("_A", bound=np.ndarray)  # type: ignore[type-arg]


def _frozen(a: _A) -> _A:
    """Mark an array read-only: the instance is immutable, and so are its derived columns."""
    a.setflags(write=False)
    return a

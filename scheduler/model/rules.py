"""Placement rules: VM-VM affinity and anti-affinity, VM-to-host must/must_not/should/should_not.

Priorities follow FusionCompute: 1 = VM-to-host must / must_not (hard); 2 = affinity and
anti-affinity; 3 = VM-to-host should / should_not. A lower priority yields to a higher one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RuleKind(StrEnum):
    AFFINITY = "affinity"
    ANTI_AFFINITY = "anti_affinity"
    VM_HOST = "vm_host"


class HostRuleMode(StrEnum):
    MUST = "must"
    MUST_NOT = "must_not"
    SHOULD = "should"
    SHOULD_NOT = "should_not"


@dataclass(frozen=True, slots=True)
class Rule:
    """One placement rule with its VMs (and hosts, for VM-to-host rules) already resolved.

    ``vm_group`` and ``host_group`` keep the group names the inventory used, so that a plan or a
    message can speak the operator's language.
    """

    name: str
    kind: RuleKind
    vms: tuple[str, ...]
    hosts: tuple[str, ...] = ()
    mode: HostRuleMode | None = None
    vm_group: str | None = None
    host_group: str | None = None

    @property
    def priority(self) -> int:
        """1 (hard), 2 (VM-VM) or 3 (soft VM-to-host)."""
        if self.kind is RuleKind.VM_HOST:
            return 1 if self.mode in (HostRuleMode.MUST, HostRuleMode.MUST_NOT) else 3
        return 2

    @property
    def is_hard(self) -> bool:
        return self.priority == 1

    @property
    def wants_hosts(self) -> bool:
        """For a VM-to-host rule: whether the VMs belong on ``hosts`` (must/should) or off them."""
        return self.mode in (HostRuleMode.MUST, HostRuleMode.SHOULD)

    def allows_host(self, host: str) -> bool:
        """For a VM-to-host rule: whether a VM of the rule on ``host`` satisfies it."""
        return (host in self.hosts) == self.wants_hosts

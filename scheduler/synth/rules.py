"""Step 3, rules: every kind and mode on disjoint VM sets, with group sizes from the Azure tenant
batch sizes, and the host groups VM-to-host rules name."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scheduler.model import HostRuleMode, RuleKind
from scheduler.synth.columns import IntArray
from scheduler.synth.distributions import (
    AFFINITY_SIZES,
    ANTI_AFFINITY_SIZES,
    HOST_GROUP_FRACTION,
    MAX_HOST_GROUPS,
    RULE_MIX,
    RULE_VM_BUDGET,
    RULES_PER_VM,
    TENANT_BATCH_SIZES,
    VM_GROUP_SIZES,
)
from scheduler.synth.hosts import Hosts
from scheduler.synth.spec import SynthSpec
from scheduler.synth.vms import Vms


@dataclass(slots=True)
class RuleDraft:
    kind: RuleKind
    mode: HostRuleMode | None
    vms: list[int]
    host_group: int = -1
    alive: bool = True

    @property
    def wants_hosts(self) -> bool:
        return self.mode in (HostRuleMode.MUST, HostRuleMode.SHOULD)


def _batch_sizes(rng: np.random.Generator, count: int, low: int, high: int) -> IntArray:
    """Group sizes in [low, high] drawn from the Azure tenant batch-size distribution."""
    sizes = np.arange(low, high + 1)
    weights = np.array([TENANT_BATCH_SIZES[int(s)] for s in sizes], dtype=np.float64)
    return rng.choice(sizes, size=count, p=weights / weights.sum()).astype(np.int64)


def draw_rules(
    spec: SynthSpec, hosts: Hosts, vms: Vms, rng: np.random.Generator
) -> tuple[list[RuleDraft], list[IntArray]]:
    """Rules on disjoint VM sets (none in an island), and the host groups VM-to-host rules use."""
    rate = RULES_PER_VM[spec.rule_density]
    if rate == 0.0:
        return [], []
    plain = np.flatnonzero(vms.need == 0)
    eligible = np.flatnonzero(hosts.up & ~hosts.returned)
    count = max(round(rate * spec.vms), min(len(RULE_MIX), plain.size // 8))
    first = rng.permutation(len(RULE_MIX))[: min(count, len(RULE_MIX))]
    weights = np.array([w for _, _, w in RULE_MIX])
    rest = rng.choice(len(RULE_MIX), size=max(count - first.size, 0), p=weights / weights.sum())
    kinds = np.concatenate((first, rest)).astype(np.int64)
    if eligible.size < 2:  # anti-affinity needs two hosts to spread over
        kinds = kinds[kinds != 1]

    low_high = {
        RuleKind.AFFINITY: AFFINITY_SIZES,
        RuleKind.ANTI_AFFINITY: (ANTI_AFFINITY_SIZES[0], min(ANTI_AFFINITY_SIZES[1], eligible.size)),
        RuleKind.VM_HOST: VM_GROUP_SIZES,
    }
    sizes = np.zeros(kinds.size, dtype=np.int64)
    for index, (kind, _, _) in enumerate(RULE_MIX):
        members = np.flatnonzero(kinds == index)
        if members.size:
            sizes[members] = _batch_sizes(rng, members.size, *low_high[kind])
    budget = int(RULE_VM_BUDGET * spec.vms)
    keep = np.cumsum(sizes) <= min(budget, plain.size)
    kinds, sizes = kinds[keep], sizes[keep]

    chosen = rng.permutation(plain)[: int(sizes.sum())]
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    n_vm_host = int(np.count_nonzero(kinds >= 2))
    host_groups = _draw_host_groups(spec, eligible, n_vm_host, rng)
    rules: list[RuleDraft] = []
    for index, kind_index in enumerate(kinds.tolist()):
        kind, mode, _ = RULE_MIX[kind_index]
        members = chosen[bounds[index] : bounds[index + 1]].tolist()
        group = int(rng.integers(len(host_groups))) if kind is RuleKind.VM_HOST else -1
        rules.append(RuleDraft(kind, mode, members, group))
    return rules, host_groups


def _draw_host_groups(
    spec: SynthSpec, eligible: IntArray, n_rules: int, rng: np.random.Generator
) -> list[IntArray]:
    """Named host sets (a licence, a rack); each has an eligible host in and, if any, one out."""
    if n_rules == 0:
        return []
    count = max(1, min(MAX_HOST_GROUPS, math.ceil(n_rules / 4)))
    groups: list[IntArray] = []
    for _ in range(count):
        size = int(np.clip(round(rng.uniform(*HOST_GROUP_FRACTION) * spec.hosts), 1, max(spec.hosts - 1, 1)))
        order = rng.permutation(eligible)
        inside = order[:1]
        outside = order[1:2]
        others = np.setdiff1d(np.arange(spec.hosts), np.concatenate((inside, outside)))
        extra = rng.permutation(others)[: max(size - 1, 0)]
        groups.append(np.sort(np.concatenate((inside, extra))).astype(np.int64))
    return groups

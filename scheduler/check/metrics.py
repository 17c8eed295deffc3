"""Cluster indicators for a state: utilization, DRS imbalance, hosts on, power, rule compliance.

These fill ``plan.metrics.before`` / ``after`` and the summary tables. Definitions:

- utilization of host h: cpu = Σ cpu_demand_mhz / cpu_mhz, memory = Σ memory_demand_mib /
  memory_mib (demand, as DRS balances); allocation = Σ configured memory_mib / (memory_mib ×
  memory_overcommit) (what capacity admits).
- imbalance of a resource = population standard deviation of that utilization over the hosts
  that are *up* (DRS's "current host load standard deviation"; maintenance hosts are being
  emptied and standby/down hosts run nothing, so they are left out, as DRS leaves them out).
- DRS imbalance = the largest imbalance over the resources of ``policy.drs.measure``; the cluster
  is balanced when it is at most ``drs_tolerance(threshold, number of up hosts)``.
- power of a powered host (up or maintenance) = idle_w + (max_w - idle_w) × cpu utilization
  (clipped to [0, 1]); standby and down hosts draw 0 W.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scheduler.check.capacity import host_loads, placement_indices
from scheduler.check.rules import rule_status
from scheduler.model import HostState, Instance

RESOURCES = ("cpu", "memory")
_POWERED = (HostState.UP, HostState.MAINTENANCE)


def drs_tolerance(threshold: int, num_hosts: int) -> float:
    """The imbalance (std-dev of host utilization) a DRS migration threshold leaves alone.

    VMware's published priority of a load-balancing recommendation (KB "Calculating the priority
    level of a VMware DRS migration recommendation", pre-7.0) is

        priority = 6 - ceil(I / 0.1 × sqrt(N))        (read left to right: I·√N / 0.1)

    for imbalance I over N hosts. Threshold t applies the recommendations of priority ≤ t, so a
    balancing move is made iff 6 - ceil(I·√N/0.1) ≤ t ⇔ ceil(I·√N/0.1) ≥ 6 - t ⇔ I·√N/0.1 > 5 - t
    (ceil(x) ≥ n ⇔ x > n - 1 for integer n). The cluster therefore counts as balanced iff

        I ≤ 0.1 × (5 - t) / √N        (t = 2..5)

    t = 5 (aggressive) gives 0: any imbalance is worth a move. t = 1 (conservative) applies only
    priority-1 recommendations, which DRS reserves for mandatory moves (rules, maintenance); no
    load-balancing move has priority 1, so the tolerance is infinite.
    """
    if not 1 <= threshold <= 5:
        raise ValueError(f"DRS threshold must be 1..5, got {threshold}")
    if num_hosts < 1:
        raise ValueError(f"num_hosts must be at least 1, got {num_hosts}")
    if threshold == 1:
        return math.inf
    return 0.1 * (5 - threshold) / math.sqrt(num_hosts)


def drs_min_goodness(num_hosts: int) -> float:
    """The least drop in imbalance that makes a balance-only plan worth its moves at threshold 5.

    Threshold 5's tolerance is 0: every imbalance is worth a move, no placement of whole VMs
    reaches it, and no time-limited solve proves it has gone as low as it can. Each plan would
    then find a little more to do on its own predecessor's target, and reruns would shuffle VMs
    (VMware has the same gap and closes it with ``MinGoodness``: a move must improve the balance
    by a minimum). Here a plan made for balance alone must lower some measured resource's
    imbalance by at least half of one step of the priority scale above, 0.05 / √N; otherwise the
    cluster is left as it is.
    """
    if num_hosts < 1:
        raise ValueError(f"num_hosts must be at least 1, got {num_hosts}")
    return 0.05 / math.sqrt(num_hosts)


@dataclass(frozen=True, slots=True)
class HostMetrics:
    """One host's row: state, load, utilization and power."""

    name: str
    state: str
    powered: bool  # draws power: up or maintenance
    num_vms: int
    cpu_demand_mhz: int
    cpu_mhz: int
    memory_demand_mib: int
    memory_configured_mib: int
    memory_mib: int
    cpu_utilization: float
    memory_utilization: float
    memory_allocation: float  # configured memory / (memory × overcommit)
    watts: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "state": self.state,
            "powered": self.powered,
            "num_vms": self.num_vms,
            "cpu_demand_mhz": self.cpu_demand_mhz,
            "cpu_mhz": self.cpu_mhz,
            "memory_demand_mib": self.memory_demand_mib,
            "memory_configured_mib": self.memory_configured_mib,
            "memory_mib": self.memory_mib,
            "cpu_utilization": self.cpu_utilization,
            "memory_utilization": self.memory_utilization,
            "memory_allocation": self.memory_allocation,
            "watts": self.watts,
        }


@dataclass(frozen=True, slots=True)
class ClusterMetrics:
    """Cluster-wide indicators of one state (see the module docstring for the definitions)."""

    hosts: tuple[HostMetrics, ...]
    imbalance: dict[str, float]  # per resource, over up hosts
    max_utilization: dict[str, float]
    min_utilization: dict[str, float]
    mean_utilization: dict[str, float]
    drs_imbalance: float
    drs_tolerance: float  # inf when the threshold asks for no balancing
    hosts_up: int
    hosts_powered: int
    total_watts: float
    num_vms_placed: int
    num_vms_unplaced: int
    rules: dict[int, dict[str, int]] = field(default_factory=dict)  # priority -> satisfied / violated

    @property
    def drs_balanced(self) -> bool:
        """Whether the DRS imbalance is within the threshold's tolerance."""
        return self.drs_imbalance <= self.drs_tolerance

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for plan.metrics.before / after (an infinite tolerance becomes null)."""
        return {
            "imbalance": dict(self.imbalance),
            "max_utilization": dict(self.max_utilization),
            "min_utilization": dict(self.min_utilization),
            "mean_utilization": dict(self.mean_utilization),
            "drs_imbalance": self.drs_imbalance,
            "drs_tolerance": None if math.isinf(self.drs_tolerance) else self.drs_tolerance,
            "drs_balanced": self.drs_balanced,
            "hosts_up": self.hosts_up,
            "hosts_powered": self.hosts_powered,
            "total_watts": self.total_watts,
            "num_vms_placed": self.num_vms_placed,
            "num_vms_unplaced": self.num_vms_unplaced,
            "rules": {str(p): dict(c) for p, c in sorted(self.rules.items())},
            "hosts": [h.to_dict() for h in self.hosts],
        }

    def host_table(self) -> list[dict[str, Any]]:
        """One row per host for a summary table: percentages rounded to 0.1, watts to 1."""
        return [
            {
                "host": h.name,
                "state": h.state,
                "vms": h.num_vms,
                "cpu_%": round(100 * h.cpu_utilization, 1),
                "memory_%": round(100 * h.memory_utilization, 1),
                "allocated_%": round(100 * h.memory_allocation, 1),
                "watts": round(h.watts),
            }
            for h in self.hosts
        ]


def cluster_metrics(
    instance: Instance, placement: Mapping[str, str], host_states: Mapping[str, str] | None = None
) -> ClusterMetrics:
    """Indicators of the state where VMs sit as ``placement`` says and hosts as ``host_states``.

    ``host_states`` defaults to the inventory's states; a host it does not name keeps its
    inventory state. Vectorized over hosts and VMs; O(VMs + hosts + rule members).
    """
    states = [HostState(host_states.get(h.name, h.state)) if host_states else h.state for h in instance.hosts]
    host_of_vm = placement_indices(instance, placement)
    loads = host_loads(instance, host_of_vm)
    cpu_util = loads.cpu_demand_mhz / instance.host_cpu_mhz
    mem_util = loads.memory_demand_mib / instance.host_memory_mib
    alloc = loads.memory_configured_mib / instance.host_memory_admission_mib
    up = np.array([s is HostState.UP for s in states], dtype=np.bool_)
    powered = np.array([s in _POWERED for s in states], dtype=np.bool_)
    watts = np.array(
        [
            h.power.watts(float(u)) if p else 0.0
            for h, u, p in zip(instance.hosts, cpu_util, powered, strict=True)
        ]
    )

    util = {"cpu": cpu_util, "memory": mem_util}
    imbalance, hi, lo, mean = {}, {}, {}, {}
    for r in RESOURCES:
        u = util[r][up]
        imbalance[r] = float(u.std()) if u.size else 0.0  # numpy's std is the population std-dev
        hi[r] = float(u.max()) if u.size else 0.0
        lo[r] = float(u.min()) if u.size else 0.0
        mean[r] = float(u.mean()) if u.size else 0.0

    drs = instance.policy.drs
    drs_imbalance = max(imbalance[r] for r in drs.measure.resources)
    tolerance = drs_tolerance(drs.threshold, max(1, int(up.sum())))

    rules: dict[int, dict[str, int]] = {}
    for status in rule_status(instance, placement):
        counts = rules.setdefault(status.priority, {"satisfied": 0, "violated": 0})
        counts["satisfied" if status.satisfied else "violated"] += 1

    rows = tuple(
        HostMetrics(
            name=h.name,
            state=states[i].value,
            powered=bool(powered[i]),
            num_vms=int(loads.num_vms[i]),
            cpu_demand_mhz=int(loads.cpu_demand_mhz[i]),
            cpu_mhz=h.cpu_mhz,
            memory_demand_mib=int(loads.memory_demand_mib[i]),
            memory_configured_mib=int(loads.memory_configured_mib[i]),
            memory_mib=h.memory_mib,
            cpu_utilization=float(cpu_util[i]),
            memory_utilization=float(mem_util[i]),
            memory_allocation=float(alloc[i]),
            watts=float(watts[i]),
        )
        for i, h in enumerate(instance.hosts)
    )
    placed = int((host_of_vm >= 0).sum())
    return ClusterMetrics(
        hosts=rows,
        imbalance=imbalance,
        max_utilization=hi,
        min_utilization=lo,
        mean_utilization=mean,
        drs_imbalance=drs_imbalance,
        drs_tolerance=tolerance,
        hosts_up=int(up.sum()),
        hosts_powered=int(powered.sum()),
        total_watts=float(watts.sum()),
        num_vms_placed=placed,
        num_vms_unplaced=instance.num_vms - placed,
        rules=rules,
    )

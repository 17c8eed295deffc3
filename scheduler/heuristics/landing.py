"""Land VMs that are moving anyway where they balance the cluster best.

Description
    A plan pays for a VM's migration once it leaves its host, wherever it lands. So once the
    moving VMs are chosen (``solver.guided`` takes the LP relaxation's choice), placing them is
    load balancing at no cost: minimize the squared deviation of host utilization from the
    fluid mean, summed over the measured resources (each scaled by its allowance, so that a
    resource with a tight tolerance counts more), within capacity, compatibility, DPM's high
    target and, where possible, the CPU peak cap.

    Largest VM first, each to the host where the sum grows least; then passes that move one
    landed VM to a better host or exchange the hosts of two landed VMs, while the sum falls.
    Every evaluation is a vector over hosts (or over the other landed VMs), from loads kept up
    to date, so a pass over a few hundred VMs takes tens of milliseconds.
Requirements
    ``assignment`` holds the VMs to land unplaced (``NO_HOST``), and every host within capacity.
Limitations
    Rules are not checked: the VMs landed must not be members of affinity or anti-affinity rules
    (the caller leaves them out); priority-1 rules and compatibility come in ``allowed``. A local
    optimum: single relocations and pairwise exchanges only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.balance import capacity_matrix, demand_matrix
from scheduler.heuristics.state import LoadState
from scheduler.model import Instance

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MIN_GAIN = 1e-9  # a relocation or exchange must lower the sum by more than rounding noise
MAX_PASSES = 50


@dataclass(frozen=True)
class LandingLimits:
    """What a landing host may take: CPU demand (capacity, or DPM's high target) and memory
    demand (DPM's high target; infinite without) per host, and the CPU peak cap as a
    utilization (None without one). Configured memory is always held to the admission limit."""

    cpu: FloatArray
    memory_demand: FloatArray
    cpu_peak: float | None = None


def land_vms(
    instance: Instance,
    assignment: IntArray,
    vms: IntArray,
    allowed: BoolArray,
    on_mask: BoolArray,
    resources: tuple[str, ...],
    allowance: FloatArray,
    limits: LandingLimits,
    deadline: float | None = None,
) -> IntArray | None:
    """Place every VM of ``vms`` (unplaced in ``assignment``) on a powered-on host and improve
    where they land. Returns the new assignment, or None when some VM fits on no host.

    ``allowance`` (one per resource of ``resources``) scales each resource's squared deviation;
    ``deadline`` (a ``time.monotonic()`` instant) ends the improving passes early."""
    landing = _Landing(
        instance, assignment, allowed & on_mask[None, :], on_mask, resources, allowance, limits
    )
    sizes = (landing.demand[:, vms] / landing.capacity[:, on_mask].mean(axis=1, keepdims=True)).sum(axis=0)
    for v in vms[np.argsort(-sizes, kind="stable")]:
        host = landing.best_host(int(v))
        if host is None:
            return None
        landing.state.move(int(v), host)
    for _ in range(MAX_PASSES):
        if deadline is not None and time.monotonic() >= deadline:
            break
        changed = sum(landing.relocate(int(v)) for v in vms)
        changed += sum(landing.exchange(int(v), vms) for v in vms)
        if changed == 0:
            break
    return landing.state.assignment


class _Landing:
    """Loads, limits and the objective's what-if values for one landing."""

    def __init__(
        self,
        instance: Instance,
        assignment: IntArray,
        allowed: BoolArray,
        on_mask: BoolArray,
        resources: tuple[str, ...],
        allowance: FloatArray,
        limits: LandingLimits,
    ) -> None:
        self.instance = instance
        self.state = LoadState(instance, assignment)
        self.allowed = allowed
        self.limits = limits
        self.resources = resources
        self.demand = demand_matrix(self.state, resources)  # [r, vm]
        self.capacity = np.maximum(capacity_matrix(self.state, resources), 1.0)  # [r, host]
        # The fluid mean every host would sit at, over the hosts that stay on.
        total = self.demand.sum(axis=1, keepdims=True)
        self.mean = total / self.capacity[:, on_mask].sum(axis=1, keepdims=True)
        self.weight = 1.0 / np.maximum(np.asarray(allowance, dtype=np.float64), 1e-3)[:, None] ** 2
        self.cpu_row = resources.index("cpu") if "cpu" in resources else None

    @property
    def load(self) -> FloatArray:
        """Each measured resource's load per host now [r, host]."""
        return np.vstack([self.state.load(r) for r in self.resources]).astype(np.float64)

    # -- what-if values -------------------------------------------------------------------------

    def _deviation(self, load: FloatArray, hosts: IntArray | slice) -> FloatArray:
        """Weighted squared deviation summed over resources, per host of ``hosts`` for loads
        [r, len(hosts)]."""
        u = load / self.capacity[:, hosts]
        return np.asarray((self.weight * (u - self.mean) ** 2).sum(axis=0), dtype=np.float64)

    def _fits(self, vm: int, hosts: IntArray) -> BoolArray:
        """Compatibility, capacity and limits at ``hosts`` for ``vm`` arriving."""
        inst = self.instance
        within = self.state.admits(
            hosts,
            inst.vm_cpu_demand_mhz[vm],
            inst.vm_memory_mib[vm],
            inst.vm_memory_demand_mib[vm],
            self.limits.cpu,
            self.limits.memory_demand,
        )
        return np.asarray(self.allowed[vm, hosts] & within, dtype=np.bool_)

    def _under_peak(self, load: FloatArray, hosts: IntArray) -> BoolArray:
        """Whether CPU loads [r, len(hosts)] keep each host under the peak cap, or at least no
        hotter than it is now (a host the VMs left may still be above it)."""
        if self.limits.cpu_peak is None or self.cpu_row is None:
            return np.ones(len(hosts), dtype=np.bool_)
        r = self.cpu_row
        cap = np.maximum(self.limits.cpu_peak * self.capacity[r, hosts], self.state.cpu[hosts])
        return np.asarray(load[r] <= cap + 1e-9, dtype=np.bool_)

    def _gain_of_adding(self, vm: int, hosts: IntArray) -> FloatArray:
        """How much the sum grows when ``vm`` lands on each of ``hosts``."""
        load = self.load[:, hosts]
        return self._deviation(load + self.demand[:, [vm]], hosts) - self._deviation(load, hosts)

    # -- moves ----------------------------------------------------------------------------------

    def best_host(self, vm: int) -> int | None:
        """The host where ``vm`` adds least to the sum: under the CPU peak cap where any host
        is, anywhere it fits otherwise; None when it fits nowhere."""
        hosts = np.flatnonzero(self.allowed[vm])
        hosts = hosts[self._fits(vm, hosts)]
        if len(hosts) == 0:
            return None
        under = self._under_peak(self.load[:, hosts] + self.demand[:, [vm]], hosts)
        if under.any():
            hosts = hosts[under]
        return int(hosts[int(np.argmin(self._gain_of_adding(vm, hosts)))])

    def relocate(self, vm: int) -> bool:
        """Move a landed VM to the host that lowers the sum most, if any does (never above the
        CPU peak cap)."""
        here = int(self.state.assignment[vm])
        hosts = np.flatnonzero(self.allowed[vm])
        hosts = hosts[(hosts != here) & self._fits(vm, hosts)]
        if len(hosts) == 0:
            return False
        load = self.load
        hosts_ok = self._under_peak(load[:, hosts] + self.demand[:, [vm]], hosts)
        if not hosts_ok.any():
            return False
        hosts = hosts[hosts_ok]
        here_idx = np.array([here])
        leave = (
            self._deviation(load[:, here_idx] - self.demand[:, [vm]], here_idx)[0]
            - self._deviation(load[:, here_idx], here_idx)[0]
        )
        change = self._gain_of_adding(vm, hosts) + leave
        best = int(np.argmin(change))
        if change[best] >= -MIN_GAIN:
            return False
        self.state.move(vm, int(hosts[best]))
        return True

    def exchange(self, vm: int, landed: IntArray) -> bool:
        """Swap the hosts of ``vm`` and the landed VM whose swap lowers the sum most, if any does."""
        inst, state = self.instance, self.state
        a = vm
        ha = int(state.assignment[a])
        hb = state.assignment[landed]
        others = landed[(hb != ha) & (landed != a)]
        if len(others) == 0:
            return False
        hb = state.assignment[others]
        delta = self.demand[:, others] - self.demand[:, [a]]  # what host a gains, host b loses
        load = self.load
        load_a = load[:, [ha]] + delta
        load_b = load[:, hb] - delta
        ha_col = np.full(len(others), ha)
        change = (
            self._deviation(load_a, ha_col)
            + self._deviation(load_b, hb)
            - self._deviation(load[:, [ha]], np.array([ha]))[0]
            - self._deviation(load[:, hb], hb)
        )
        cpu_d = inst.vm_cpu_demand_mhz[others] - inst.vm_cpu_demand_mhz[a]
        cfg_d = inst.vm_memory_mib[others] - inst.vm_memory_mib[a]
        dem_d = inst.vm_memory_demand_mib[others] - inst.vm_memory_demand_mib[a]
        ok = (
            self.allowed[a, hb]
            & self.allowed[others, ha]
            & state.admits(ha_col, cpu_d, cfg_d, dem_d, self.limits.cpu, self.limits.memory_demand)
            & state.admits(hb, -cpu_d, -cfg_d, -dem_d, self.limits.cpu, self.limits.memory_demand)
            & self._under_peak(load_a, ha_col)
            & self._under_peak(load_b, hb)
        )
        change = np.where(ok, change, np.inf)
        best = int(np.argmin(change))
        if change[best] >= -MIN_GAIN:
            return False
        b, hb_best = int(others[best]), int(hb[best])
        state.move(a, hb_best)
        state.move(b, ha)
        return True


__all__ = ["LandingLimits", "land_vms"]

"""Step 2, VMs: sizes from the Azure mix, CPU demand scaled to the spec's load, memory demand,
dirty rates and the datastores and networks each VM uses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from scheduler.synth.columns import NEED_DMZ, NEED_ISLAND, BoolArray, FloatArray, IntArray
from scheduler.synth.distributions import (
    AZURE_CPU_UTILIZATION_CDF,
    AZURE_VM_SIZES,
    BACKUP_NET_VM_FRACTION,
    BUSY_BASE,
    BUSY_DIRTY_RANGE_MIBPS,
    BUSY_MAX,
    BUSY_PER_UTILIZATION,
    DMZ_VM_FRACTION,
    ISLAND_VM_SHARE_OF_HOSTS,
    MEMORY_DEMAND_BETA,
    QUIET_DIRTY_BETA,
    QUIET_DIRTY_MAX_MIBPS,
)
from scheduler.synth.hosts import Hosts
from scheduler.synth.spec import SynthSpec


@dataclass(slots=True)
class Vms:
    """VM columns, index-aligned."""

    vcpus: IntArray
    memory_mib: IntArray
    cpu_mhz: IntArray  # demand; the witness may lower a few when a cluster is packed tight
    memory_demand_mib: IntArray
    dirty_rate_mibps: FloatArray
    need: IntArray  # restricted attachments (bits), dropped when their island cannot take the VM
    datastore: IntArray  # index of the shared datastore
    backup_net: BoolArray
    new: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    immobile_kind: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # -1 mobile


def draw_vms(spec: SynthSpec, hosts: Hosts, rng: np.random.Generator) -> Vms:
    """Sizes, demands, dirty rates and attachments of every VM."""
    n = spec.vms
    table = np.array([(v, gib * 1024, count) for v, gib, count in AZURE_VM_SIZES], dtype=np.float64)
    pick = rng.choice(len(table), size=n, p=table[:, 2] / table[:, 2].sum())
    vcpus = table[pick, 0].astype(np.int64)
    memory_mib = table[pick, 1].astype(np.int64)

    # CPU demand: utilization from the Azure CDF, scaled by one factor s so that the sum of
    # min(s * u, 1) * vcpus * MHz equals load x the up hosts' CPU (bisection on s; monotone).
    cdf = np.array(AZURE_CPU_UTILIZATION_CDF)
    utilization = np.interp(rng.random(n) * 100.0, cdf[:, 1], cdf[:, 0]) / 100.0
    up = hosts.up
    vcpu_mhz = float((hosts.cpu_mhz[up]).sum() / hosts.cores[up].sum())  # capacity-weighted clock
    vm_max_mhz = vcpus * vcpu_mhz
    target_mhz = spec.load * float(hosts.cpu_mhz[up].sum())
    utilization = _scale_to_total(utilization, vm_max_mhz, target_mhz)
    cpu_mhz = np.maximum(np.rint(utilization * vm_max_mhz), 1).astype(np.int64)

    memory_demand = np.rint(memory_mib * rng.beta(*MEMORY_DEMAND_BETA, size=n)).astype(np.int64)

    quiet = QUIET_DIRTY_MAX_MIBPS * rng.beta(*QUIET_DIRTY_BETA, size=n)
    low, high = BUSY_DIRTY_RANGE_MIBPS
    busy_rate = np.exp(rng.uniform(math.log(low), math.log(high), size=n))
    busy = rng.random(n) < np.minimum(BUSY_BASE + BUSY_PER_UTILIZATION * utilization, BUSY_MAX)
    dirty = np.round(np.where(busy, busy_rate, quiet), 1).astype(np.float64)

    need = np.zeros(n, dtype=np.int64)
    if hosts.has.any():
        island_share = ISLAND_VM_SHARE_OF_HOSTS * float(np.mean(hosts.has & NEED_ISLAND > 0))
        draw = rng.random(n)
        need[draw < island_share] = NEED_ISLAND
        need[(draw >= island_share) & (draw < island_share + DMZ_VM_FRACTION)] = NEED_DMZ
    return Vms(
        vcpus=vcpus,
        memory_mib=memory_mib,
        cpu_mhz=cpu_mhz,
        memory_demand_mib=memory_demand,
        dirty_rate_mibps=dirty,
        need=need,
        datastore=rng.integers(0, hosts.shared_datastores, size=n),
        backup_net=rng.random(n) < BACKUP_NET_VM_FRACTION,
        new=np.zeros(n, dtype=np.bool_),
        immobile_kind=np.full(n, -1, dtype=np.int64),
    )


def _scale_to_total(utilization: FloatArray, max_mhz: FloatArray, target_mhz: float) -> FloatArray:
    """Utilizations min(s * u, 1) whose demand sums to ``target_mhz`` (all 1 if out of reach)."""
    if float(max_mhz.sum()) <= target_mhz:
        return np.ones_like(utilization)
    low, high = 0.0, 1.0
    while float((np.minimum(high * utilization, 1.0) * max_mhz).sum()) < target_mhz:
        high *= 2.0
        if high > 1e12:  # every utilization zero: nothing to scale
            return utilization
    for _ in range(60):
        mid = 0.5 * (low + high)
        if float((np.minimum(mid * utilization, 1.0) * max_mhz).sum()) < target_mhz:
            low = mid
        else:
            high = mid
    return np.minimum(high * utilization, 1.0)

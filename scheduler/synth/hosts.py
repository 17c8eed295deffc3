"""Step 1, hosts: vendors, CPU generations, shapes from a real fleet, states and the
incompatibility islands (a local datastore, a DMZ network) each host sees."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scheduler.synth.columns import (
    DOWN,
    MAINTENANCE,
    NEED_DMZ,
    NEED_ISLAND,
    STANDBY,
    UP,
    BoolArray,
    IntArray,
)
from scheduler.synth.distributions import (
    DMZ_HOST_FRACTION,
    HOST_SHAPES_BY_AGE,
    ISLAND_HOST_FRACTION,
    MIN_HOSTS_FOR_ISLANDS,
    RETURNED_HOSTS_PER_UP_HOST,
    SECOND_VENDOR_FRACTION,
)
from scheduler.synth.spec import SynthSpec


@dataclass(slots=True)
class Hosts:
    """Host columns, index-aligned; names and objects are made only at the end."""

    cores: IntArray
    core_mhz: IntArray
    cpu_mhz: IntArray
    memory_mib: IntArray
    vendor: IntArray
    generation: IntArray
    age: IntArray
    state: IntArray
    has: IntArray  # bits of the restricted attachments the host sees
    shared_datastores: int
    returned: BoolArray  # back from maintenance and (to be) emptied: skew "after_maintenance"

    @property
    def up(self) -> BoolArray:
        up: BoolArray = self.state == UP
        return up


def draw_hosts(spec: SynthSpec, rng: np.random.Generator) -> Hosts:
    """Vendors, generations, shapes, states and attachments of every host."""
    n = spec.hosts
    vendor = np.zeros(n, dtype=np.int64)
    if spec.vendors == 2 and n >= 2:
        n_second = max(1, round(SECOND_VENDOR_FRACTION * n))
        vendor[n - n_second :] = 1
    # Generations 1 (oldest) .. G (newest) within each vendor, in name order (bought in batches);
    # generation g has weight 2**(g-1), so the older generations form a minority island.
    generation = np.ones(n, dtype=np.int64)
    gens = spec.cpu_generations
    weights = 2.0 ** np.arange(gens)
    for v in range(spec.vendors):
        members = np.flatnonzero(vendor == v)
        bounds = np.round(np.cumsum(weights) / weights.sum() * members.size).astype(np.int64)
        starts = np.concatenate(([0], bounds[:-1]))
        for g in range(gens):
            generation[members[starts[g] : bounds[g]]] = g + 1
    age = np.minimum(gens - generation, len(HOST_SHAPES_BY_AGE) - 1)

    cores = np.zeros(n, dtype=np.int64)
    core_mhz = np.zeros(n, dtype=np.int64)
    memory_gib = np.zeros(n, dtype=np.int64)
    for a, shapes in enumerate(HOST_SHAPES_BY_AGE):
        members = np.flatnonzero(age == a)
        if members.size == 0:
            continue
        table = np.array(shapes, dtype=np.int64)
        pick = rng.choice(len(shapes), size=members.size, p=table[:, 3] / table[:, 3].sum())
        cores[members] = table[pick, 0]
        core_mhz[members] = table[pick, 1]
        memory_gib[members] = table[pick, 2]

    state = np.full(n, UP, dtype=np.int64)
    order = rng.permutation(n)
    standby = order[: spec.standby_hosts]
    state[standby] = STANDBY
    # Maintenance goes to the oldest hosts of the first vendor first (firmware and part swaps
    # concentrate on old hardware); every same-vendor host is then a legal target for their VMs.
    rest = order[spec.standby_hosts :]
    rank = np.lexsort((rng.random(rest.size), generation[rest], vendor[rest]))
    maintenance = rest[rank[: spec.maintenance_hosts]]
    state[maintenance] = MAINTENANCE
    still_up = np.flatnonzero(state == UP)
    down = rng.permutation(still_up)[: spec.down_hosts]
    state[down] = DOWN

    has = np.zeros(n, dtype=np.int64)
    if n >= MIN_HOSTS_FOR_ISLANDS:
        island = rng.permutation(n)[: max(2, round(ISLAND_HOST_FRACTION * n))]
        has[island] |= NEED_ISLAND
        dmz = rng.permutation(n)[: max(2, round(DMZ_HOST_FRACTION * n))]
        has[dmz] |= NEED_DMZ

    returned = np.zeros(n, dtype=np.bool_)
    up = np.flatnonzero(state == UP)
    if spec.skew == "after_maintenance" and up.size >= 2:
        # The newest generation of its vendor, so every same-vendor host may send VMs back to it.
        newest = np.array([generation[up][vendor[up] == vendor[h]].max() for h in up])
        candidates = up[generation[up] == newest]
        count = min(max(1, round(RETURNED_HOSTS_PER_UP_HOST * up.size)), up.size - 1)
        returned[rng.permutation(candidates)[:count]] = True

    return Hosts(
        cores=cores,
        core_mhz=core_mhz,
        cpu_mhz=cores * core_mhz,
        memory_mib=memory_gib * 1024,
        vendor=vendor,
        generation=generation,
        age=age,
        state=state,
        has=has,
        shared_datastores=int(np.clip(n // 16, 1, 8)),
        returned=returned,
    )

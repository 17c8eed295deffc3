"""Seeded synthetic clusters: realistic sizes and load, skewed but feasible placement, every rule kind.

Benchmarks and tests need clusters of any size that look like real ones and that the optimizer can
solve. ``synthesize`` builds one from a ``SynthSpec``; the same spec always gives an equal instance.

How a cluster is built, and why it is always solvable:

1. Hosts: two-socket shapes from a real fleet, grouped into CPU generations (the older ones a
   minority, an "older island") and optionally a second vendor; most datastores and DVS networks
   are seen by every host, a local datastore only by an island of hosts and a DMZ network only by
   some ("incompatibility islands").
2. VMs: sizes from the Azure VM size mix, CPU demand from the Azure CPU-utilization distribution
   scaled so the cluster's mean CPU utilization equals ``load``, memory demand and dirty rate from
   documented models.
3. Rules: every kind (affinity, anti-affinity, VM-to-host must / must_not / should / should_not),
   on disjoint sets of VMs, with group sizes from the Azure tenant batch sizes.
4. A *witness* placement: every VM (new ones included) on a host that is up, within capacity,
   on hosts that see its datastores and networks, with every rule of every priority satisfied.
   It is built greedily (worst fit, largest first), restricted VMs first; a rule that cannot be
   honoured there is dropped rather than shipped unsatisfiable. It proves the instance solvable.
5. The initial placement is the witness, perturbed by moves whose reverse is a legal migration
   (same vendor, target generation at least the source's, datastores and networks seen):
   maintenance hosts are filled (they must be evacuated), hot hosts are filled (``hotspots``) or a
   host back from maintenance is emptied (``after_maintenance``), about 15 % of anti-affinity
   rules get two members on one host and about 25 % of should / should_not rules get one member
   on the wrong side. Priority-1 rules, affinity rules and immobile VMs are never perturbed, so
   every priority-1 rule holds initially and every affinity group starts together.

``synthesize_with_witness`` also returns the witness, so tests and benchmarks can check it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from scheduler.model import (
    VM,
    CpuModel,
    DpmPolicy,
    DrsPolicy,
    Host,
    HostRuleMode,
    HostState,
    Instance,
    Measure,
    MigrationPolicy,
    Policy,
    PowerModel,
    Rule,
    RuleKind,
)
from scheduler.model import defaults as d

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

RuleDensity = Literal["none", "typical", "dense"]
Skew = Literal["none", "hotspots", "after_maintenance"]

RULE_DENSITIES: Final = ("none", "typical", "dense")
SKEWS: Final = ("none", "hotspots", "after_maintenance")

# Rules per VM: "typical" is about 300 rules in a 10,000-VM cluster, "dense" a rule-heavy estate.
RULES_PER_VM: Final = {"none": 0.0, "typical": 0.03, "dense": 0.10}

# -- distributions, with provenance --------------------------------------------------------------

# Azure Public Dataset V1 (2017), "vm_size_distribution.csv": the exact VM size mix of 1,870,433
# Azure VMs (vcpus, memory in GB, VM count), derived from vmtable.csv. Licence CC-BY-4.0; cite
# Cortez et al., "Resource Central", SOSP 2017. We read the trace's GB as GiB.
AZURE_VM_SIZES: Final[tuple[tuple[int, float, int], ...]] = (
    (1, 1.75, 892_166),
    (2, 3.5, 464_859),
    (4, 7.0, 203_416),
    (8, 14.0, 197_539),
    (8, 56.0, 71_942),
    (1, 0.75, 38_578),
    (1, 2.0, 534),
    (4, 28.0, 420),
    (2, 14.0, 301),
    (2, 4.0, 234),
    (16, 112.0, 148),
    (2, 16.0, 144),
    (4, 8.0, 66),
    (8, 16.0, 43),
    (4, 32.0, 36),
    (8, 64.0, 7),
)

# Azure Public Dataset V1 (2017), "tenant_batch_size_distribution.csv": VMs a tenant creates in one
# 5-minute bin (452,901 batches; CC-BY-4.0). Batches are VMs deployed together, so their sizes are
# the sizes of the groups rules are written for; we keep sizes 1..8 and condition on each rule's range.
TENANT_BATCH_SIZES: Final[dict[int, int]] = {
    1: 258_867,
    2: 81_759,
    3: 29_480,
    4: 18_372,
    5: 11_094,
    6: 6_995,
    7: 5_456,
    8: 4_550,
}

# Azure Public Dataset V2 (2019), CDF of the average CPU utilization of all Azure VMs, digitised from
# the data set's trace-analysis notebook (figure 1; read to about +-1 percentage point; CC-BY-4.0).
# Pairs of (utilization %, cumulative % of VMs); its mean is about 15 %.
AZURE_CPU_UTILIZATION_CDF: Final[tuple[tuple[float, float], ...]] = (
    (0.0, 0.0),
    (2.0, 29.1),
    (5.0, 45.2),
    (10.0, 58.5),
    (15.0, 67.4),
    (20.0, 74.8),
    (30.0, 83.9),
    (40.0, 89.9),
    (50.0, 93.6),
    (60.0, 95.9),
    (70.0, 97.2),
    (90.0, 99.1),
    (100.0, 100.0),
)

# Host shapes (cores, MHz per core, memory GiB, weight) by generation age, 0 = newest. Cores, memory
# and weights are node counts of the Alibaba OpenB 2023 node list (1,523 real servers; Weng et al.,
# USENIX ATC 2023): 104c/512 GiB x387, 128c/768 GiB x39, 96c/768 GiB x21, 96c/384 GiB x596,
# 96c/512 GiB x59, 64c/512 GiB x22, 64c/256 GiB x37 (raised to 384 GiB: virtualization hosts carry
# more memory per core than that GPU fleet). The trace gives no clock; the per-generation clocks
# are our choice within the 2,000-3,000 MHz of current two-socket parts, older generations slower.
HOST_SHAPES_BY_AGE: Final[tuple[tuple[tuple[int, int, int, int], ...], ...]] = (
    ((104, 2_600, 512, 387), (128, 2_400, 768, 39), (96, 2_800, 768, 21)),
    ((96, 2_400, 384, 596), (96, 2_400, 512, 59)),
    ((64, 2_200, 384, 37), (64, 2_200, 512, 22)),
)

# Power curve of a two-socket server, linear in CPU utilization. Published SPECpower_ssj2008 results
# for such servers idle at roughly 100-250 W and peak at 300-700 W; we scale with cores and add a
# little idle power per older generation (less efficient parts). Boot time grows with age (slower
# firmware and memory training).
_IDLE_W_BASE: Final = 60.0
_IDLE_W_PER_CORE: Final = 0.9
_IDLE_W_PER_AGE: Final = 15.0
_DYNAMIC_W_PER_CORE: Final = 2.6
_BOOT_S_BASE: Final = 240.0
_BOOT_S_PER_AGE: Final = 60.0

# Memory demand (what the balancer measures) as a fraction of configured memory: Beta(5, 3), mean
# 0.625, 90 % of VMs between 0.33 and 0.87. A modelling choice: traces that record *active* memory
# (Bitbrains GWA-T-12: median 6 % of provisioned) understate what a hypervisor counts as consumed,
# since guests touch and keep pages (page cache) and rarely return them without ballooning.
_MEMORY_DEMAND_BETA: Final = (5.0, 3.0)

# Dirty rate, a modelling choice consistent with the writable-working-set measurements of Clark et
# al., "Live Migration of Virtual Machines", NSDI 2005: idle and interactive guests dirty a few
# MiB/s, web and database servers tens to a few hundred. Quiet VMs: 20 MiB/s x Beta(1.2, 3) (mean
# about 6 MiB/s); busy VMs: log-uniform in 20..400 MiB/s. The chance of being busy grows with CPU
# utilization (dirtying memory takes CPU): 5 % + 50 % x utilization, at most 60 %.
_QUIET_DIRTY_MAX_MIBPS: Final = 20.0
_QUIET_DIRTY_BETA: Final = (1.2, 3.0)
_BUSY_DIRTY_RANGE_MIBPS: Final = (20.0, 400.0)
_BUSY_BASE: Final = 0.05
_BUSY_PER_UTILIZATION: Final = 0.5
_BUSY_MAX: Final = 0.6

# Incompatibility islands: a local datastore seen by about 12 % of hosts, a DMZ network by 25 %;
# the VMs using them are fewer than those hosts could carry, so they always fit.
_ISLAND_HOST_FRACTION: Final = 0.12
_ISLAND_VM_SHARE_OF_HOSTS: Final = 0.4
_DMZ_HOST_FRACTION: Final = 0.25
_DMZ_VM_FRACTION: Final = 0.04
_BACKUP_NET_VM_FRACTION: Final = 0.2
_MIN_HOSTS_FOR_ISLANDS: Final = 4

# Rule mix after one rule of each kind: (kind, mode) and weight.
_RULE_MIX: Final[tuple[tuple[RuleKind, HostRuleMode | None, float], ...]] = (
    (RuleKind.AFFINITY, None, 0.3),
    (RuleKind.ANTI_AFFINITY, None, 0.3),
    (RuleKind.VM_HOST, HostRuleMode.MUST, 0.1),
    (RuleKind.VM_HOST, HostRuleMode.MUST_NOT, 0.1),
    (RuleKind.VM_HOST, HostRuleMode.SHOULD, 0.1),
    (RuleKind.VM_HOST, HostRuleMode.SHOULD_NOT, 0.1),
)
_AFFINITY_SIZES: Final = (2, 4)
_ANTI_AFFINITY_SIZES: Final = (2, 6)
_VM_GROUP_SIZES: Final = (1, 8)
_RULE_VM_BUDGET: Final = 0.4  # at most this share of VMs is in a rule, leaving room for new VMs
_MAX_HOST_GROUPS: Final = 8
_HOST_GROUP_FRACTION: Final = (0.1, 0.35)

# Skew and initial rule work.
_HOT_HOST_FRACTION: Final = 0.1
_HOT_EXTRA_UTILIZATION: Final = 0.3
_HOT_MAX_UTILIZATION: Final = 0.95
_RETURNED_HOSTS_PER_UP_HOST: Final = 1 / 50
_ANTI_AFFINITY_BROKEN_FRACTION: Final = 0.15
_SOFT_RULE_BROKEN_FRACTION: Final = 0.25

# Memory: without an explicit overcommit, configured VM memory fills at most this share of the up
# hosts' admission, raising the overcommit in steps when the VMs need it (memory reuse).
_MEMORY_FILL_TARGET: Final = 0.85
_OVERCOMMIT_STEP: Final = 0.05
_OVERCOMMIT_RETRIES: Final = 20

_VENDORS: Final = ("intel", "amd")
_SECOND_VENDOR_FRACTION: Final = 0.3
_IMMOBILE_KINDS: Final = 4  # pinned, devices, DRS disabled, linked clone
_DEVICES: Final = (("usb",), ("gpu-passthrough",))

_UP, _MAINTENANCE, _STANDBY, _DOWN = 0, 1, 2, 3
_STATE_OF_CODE: Final = (HostState.UP, HostState.MAINTENANCE, HostState.STANDBY, HostState.DOWN)
_NEED_ISLAND, _NEED_DMZ = 1, 2  # bits of a VM's restricted attachments


# -- the spec ------------------------------------------------------------------------------------


class SpecError(ValueError):
    """A spec that cannot be generated: each problem names the spec field and what is wrong."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.problems))


@dataclass(frozen=True, slots=True)
class SynthSpec:
    """What to generate; every field has a default, so ``SynthSpec(hosts=16, vms=500)`` is complete.

    Fields:
        hosts, vms: cluster size (all hosts, every state; all VMs, new ones included).
        seed: the random seed; equal specs give equal instances.
        load: target mean CPU utilization, sum of VM CPU demand over the CPU of the hosts that are
            up (those that carry the VMs once maintenance hosts are empty), in (0, 0.9]. Reached
            whenever the VMs' vCPUs can carry it (each VM at most 100 % of its vCPUs).
        rule_density: "none", "typical" (3 rules per 100 VMs) or "dense" (10 per 100 VMs).
        skew: "none" (the witness's placement, balanced by worst fit as far as host shapes and
            memory allow), "hotspots" (about 10 % of up hosts filled toward 95 % CPU) or
            "after_maintenance" (one up host in 50, at least one, back from maintenance and empty).
            How far hot hosts get depends on memory: where the automatic overcommit fills memory
            to about 85 % on every host (at 128 × 10,000 and load 0.6), the hot hosts gain only a
            few points of CPU, and the CPU imbalance "none" and "hotspots" start from is much the
            same (about 0.12–0.14, from the hosts' mixed CPU-to-memory shapes); at 32 × 1,000
            three hosts reach about 89 %.
        cpu_generations: CPU generations per vendor; the older ones are the smaller share.
        vendors: 1 (intel) or 2 (intel and an amd island of about 30 % of hosts).
        maintenance_hosts, standby_hosts, down_hosts: hosts in those states (at least one stays up).
            Maintenance hosts (the oldest hosts first) hold VMs that must be evacuated, about as
            many as an average up host; standby and down hosts are empty.
        new_vms: VMs without a host (initial placement), at most half the VMs.
        immobile_fraction: share of VMs that are pinned, have devices, have DRS disabled or are
            linked clones (in turn), at most 0.1.
        dpm_enabled, drs_threshold, measure, hypervisor, network_gbps: written into the policy.
        memory_overcommit: None picks the smallest factor (1.0, or in 0.05 steps) at which
            configured VM memory fills at most 85 % of the up hosts (about 1.25 at 128 x 10,000,
            1.5 at 1,000 x 100,000; more for denser specs); a value is used as given and a spec
            whose VMs do not fit at it is a ``SpecError``.
        imc: set the cluster CPU baseline (IMC) to the oldest generation (one vendor only).
        name: the instance name (default ``synth-<hosts>x<vms>-s<seed>``).
        name_prefix: put before every host, VM, rule, group, datastore and network name, so that
            clusters of one data centre have distinct names.
    """

    hosts: int = 128
    vms: int = 10_000
    seed: int = 0
    load: float = 0.6
    rule_density: RuleDensity = "typical"
    skew: Skew = "hotspots"
    cpu_generations: int = 2
    vendors: int = 1
    maintenance_hosts: int = 0
    standby_hosts: int = 0
    down_hosts: int = 0
    new_vms: int = 0
    immobile_fraction: float = 0.005
    dpm_enabled: bool = False
    drs_threshold: int = d.DEFAULT_DRS_THRESHOLD
    measure: str = d.DEFAULT_DRS_MEASURE
    # Synthetic clusters model the product (KVM under libvirt, migrating at the link's rate); the
    # raw-QEMU preset's 128 MiB/s cap would leave a quarter of the VMs unable to converge.
    hypervisor: str = "fusioncompute"
    network_gbps: float = d.DEFAULT_NETWORK_GBPS
    memory_overcommit: float | None = None
    imc: bool = False
    name: str | None = None
    name_prefix: str = ""

    def __post_init__(self) -> None:
        problems = spec_problems(self)
        if problems:
            raise SpecError(problems)

    @property
    def up_hosts(self) -> int:
        """Hosts left up: those the VMs run on once maintenance hosts are empty."""
        return self.hosts - self.maintenance_hosts - self.standby_hosts - self.down_hosts

    @property
    def instance_name(self) -> str:
        return self.name if self.name is not None else f"synth-{self.hosts}x{self.vms}-s{self.seed}"


def spec_problems(spec: SynthSpec) -> list[tuple[str, str]]:
    """Every problem of a spec as (field, message); empty when it can be generated."""
    problems: list[tuple[str, str]] = []

    def need(ok: bool, name: str, message: str) -> None:
        if not ok:
            problems.append((name, message))

    need(spec.hosts >= 1, "hosts", f"must be at least 1, got {spec.hosts}")
    need(spec.vms >= 1, "vms", f"must be at least 1, got {spec.vms}")
    need(spec.seed >= 0, "seed", f"must be at least 0, got {spec.seed}")
    need(0.0 < spec.load <= 0.9, "load", f"must be in (0, 0.9], got {spec.load}")
    need(
        spec.rule_density in RULE_DENSITIES,
        "rule_density",
        f"must be one of {', '.join(RULE_DENSITIES)}, got {spec.rule_density!r}",
    )
    need(spec.skew in SKEWS, "skew", f"must be one of {', '.join(SKEWS)}, got {spec.skew!r}")
    need(
        1 <= spec.cpu_generations <= 6,
        "cpu_generations",
        f"must be in 1..6, got {spec.cpu_generations}",
    )
    need(spec.vendors in (1, 2), "vendors", f"must be 1 or 2, got {spec.vendors}")
    for name in ("maintenance_hosts", "standby_hosts", "down_hosts", "new_vms"):
        value = getattr(spec, name)
        need(value >= 0, name, f"must be at least 0, got {value}")
    if spec.hosts >= 1 and min(spec.maintenance_hosts, spec.standby_hosts, spec.down_hosts) >= 0:
        # Three flags share the blame: name the one asking for the most hosts.
        biggest = max(("maintenance_hosts", "standby_hosts", "down_hosts"), key=lambda f: getattr(spec, f))
        need(
            spec.up_hosts >= 1,
            biggest,
            f"maintenance + standby + down hosts ({spec.hosts - spec.up_hosts}) must leave at least "
            f"one of the {spec.hosts} hosts up",
        )
    need(
        spec.new_vms <= max(spec.vms, 0) // 2,
        "new_vms",
        f"must be at most half the VMs ({max(spec.vms, 0) // 2}), got {spec.new_vms}",
    )
    need(
        0.0 <= spec.immobile_fraction <= 0.1,
        "immobile_fraction",
        f"must be in [0, 0.1], got {spec.immobile_fraction}",
    )
    need(1 <= spec.drs_threshold <= 5, "drs_threshold", f"must be in 1..5, got {spec.drs_threshold}")
    need(
        spec.measure in d.DRS_MEASURES,
        "measure",
        f"must be one of {', '.join(d.DRS_MEASURES)}, got {spec.measure!r}",
    )
    need(
        spec.hypervisor in d.HYPERVISORS,
        "hypervisor",
        f"must be one of {', '.join(d.HYPERVISORS)}, got {spec.hypervisor!r}",
    )
    need(
        math.isfinite(spec.network_gbps) and spec.network_gbps > 0,
        "network_gbps",
        f"must be a positive number, got {spec.network_gbps}",
    )
    if spec.memory_overcommit is not None:
        need(
            math.isfinite(spec.memory_overcommit) and spec.memory_overcommit >= 1.0,
            "memory_overcommit",
            f"must be at least 1, got {spec.memory_overcommit}",
        )
    need(not (spec.imc and spec.vendors > 1), "imc", "IMC works within one CPU vendor; use vendors=1")
    return problems


# -- public functions ----------------------------------------------------------------------------


def synthesize(spec: SynthSpec) -> Instance:
    """A synthetic cluster for ``spec``; equal specs give equal instances."""
    return synthesize_with_witness(spec)[0]


def synthesize_with_witness(spec: SynthSpec) -> tuple[Instance, dict[str, str]]:
    """The cluster and a witness: a placement of every VM that meets every hard and soft rule.

    The witness proves the instance solvable (maintenance hosts empty, capacity, compatibility
    from each VM's initial host, every rule); tests check it, benchmarks may use it as a bound.
    """
    rng = np.random.default_rng(spec.seed)
    hosts = _draw_hosts(spec, rng)
    vms = _draw_vms(spec, hosts, rng)
    rules, host_groups = _draw_rules(spec, hosts, vms, rng)
    overcommit, witness = _witness_with_overcommit(spec, hosts, vms, rules, host_groups)
    initial = _initial_placement(spec, hosts, vms, rules, host_groups, witness, overcommit, rng)
    return _build(spec, hosts, vms, rules, host_groups, overcommit, initial, witness)


def synthesize_datacenter(
    clusters: int,
    hosts_per_cluster: int,
    vms_per_cluster: int,
    seed: int,
    *,
    template: SynthSpec | None = None,
) -> list[Instance]:
    """Independent clusters ``cluster-00``, ``cluster-01``, ... for the data-centre family.

    Each cluster gets its own seed (spawned from ``seed``) and a name prefix (``c00-``) so that no
    host or VM name repeats across the data centre; ``template`` sets the other spec fields.
    """
    if clusters < 1:
        raise SpecError([("clusters", f"must be at least 1, got {clusters}")])
    if seed < 0:
        raise SpecError([("seed", f"must be at least 0, got {seed}")])
    base = template if template is not None else SynthSpec()
    children = np.random.SeedSequence(seed).spawn(clusters)
    width = max(2, len(str(clusters - 1)))
    instances: list[Instance] = []
    for index, child in enumerate(children):
        tag = f"{index:0{width}d}"
        spec = replace(
            base,
            hosts=hosts_per_cluster,
            vms=vms_per_cluster,
            seed=int(child.generate_state(1, dtype=np.uint32)[0]),
            name=f"cluster-{tag}",
            name_prefix=f"c{tag}-",
        )
        instances.append(synthesize(spec))
    return instances


# -- hosts ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Hosts:
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
        up: BoolArray = self.state == _UP
        return up


def _draw_hosts(spec: SynthSpec, rng: np.random.Generator) -> _Hosts:
    """Vendors, generations, shapes, states and attachments of every host."""
    n = spec.hosts
    vendor = np.zeros(n, dtype=np.int64)
    if spec.vendors == 2 and n >= 2:
        n_second = max(1, round(_SECOND_VENDOR_FRACTION * n))
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

    state = np.full(n, _UP, dtype=np.int64)
    order = rng.permutation(n)
    standby = order[: spec.standby_hosts]
    state[standby] = _STANDBY
    # Maintenance goes to the oldest hosts of the first vendor first (firmware and part swaps
    # concentrate on old hardware); every same-vendor host is then a legal target for their VMs.
    rest = order[spec.standby_hosts :]
    rank = np.lexsort((rng.random(rest.size), generation[rest], vendor[rest]))
    maintenance = rest[rank[: spec.maintenance_hosts]]
    state[maintenance] = _MAINTENANCE
    still_up = np.flatnonzero(state == _UP)
    down = rng.permutation(still_up)[: spec.down_hosts]
    state[down] = _DOWN

    has = np.zeros(n, dtype=np.int64)
    if n >= _MIN_HOSTS_FOR_ISLANDS:
        island = rng.permutation(n)[: max(2, round(_ISLAND_HOST_FRACTION * n))]
        has[island] |= _NEED_ISLAND
        dmz = rng.permutation(n)[: max(2, round(_DMZ_HOST_FRACTION * n))]
        has[dmz] |= _NEED_DMZ

    returned = np.zeros(n, dtype=np.bool_)
    up = np.flatnonzero(state == _UP)
    if spec.skew == "after_maintenance" and up.size >= 2:
        # The newest generation of its vendor, so every same-vendor host may send VMs back to it.
        newest = np.array([generation[up][vendor[up] == vendor[h]].max() for h in up])
        candidates = up[generation[up] == newest]
        count = min(max(1, round(_RETURNED_HOSTS_PER_UP_HOST * up.size)), up.size - 1)
        returned[rng.permutation(candidates)[:count]] = True

    return _Hosts(
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


# -- VMs -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Vms:
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


def _draw_vms(spec: SynthSpec, hosts: _Hosts, rng: np.random.Generator) -> _Vms:
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

    memory_demand = np.rint(memory_mib * rng.beta(*_MEMORY_DEMAND_BETA, size=n)).astype(np.int64)

    quiet = _QUIET_DIRTY_MAX_MIBPS * rng.beta(*_QUIET_DIRTY_BETA, size=n)
    low, high = _BUSY_DIRTY_RANGE_MIBPS
    busy_rate = np.exp(rng.uniform(math.log(low), math.log(high), size=n))
    busy = rng.random(n) < np.minimum(_BUSY_BASE + _BUSY_PER_UTILIZATION * utilization, _BUSY_MAX)
    dirty = np.round(np.where(busy, busy_rate, quiet), 1).astype(np.float64)

    need = np.zeros(n, dtype=np.int64)
    if hosts.has.any():
        island_share = _ISLAND_VM_SHARE_OF_HOSTS * float(np.mean(hosts.has & _NEED_ISLAND > 0))
        draw = rng.random(n)
        need[draw < island_share] = _NEED_ISLAND
        need[(draw >= island_share) & (draw < island_share + _DMZ_VM_FRACTION)] = _NEED_DMZ
    return _Vms(
        vcpus=vcpus,
        memory_mib=memory_mib,
        cpu_mhz=cpu_mhz,
        memory_demand_mib=memory_demand,
        dirty_rate_mibps=dirty,
        need=need,
        datastore=rng.integers(0, hosts.shared_datastores, size=n),
        backup_net=rng.random(n) < _BACKUP_NET_VM_FRACTION,
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


# -- rules ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _RuleDraft:
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


def _draw_rules(
    spec: SynthSpec, hosts: _Hosts, vms: _Vms, rng: np.random.Generator
) -> tuple[list[_RuleDraft], list[IntArray]]:
    """Rules on disjoint VM sets (none in an island), and the host groups VM-to-host rules use."""
    rate = RULES_PER_VM[spec.rule_density]
    if rate == 0.0:
        return [], []
    plain = np.flatnonzero(vms.need == 0)
    eligible = np.flatnonzero(hosts.up & ~hosts.returned)
    count = max(round(rate * spec.vms), min(len(_RULE_MIX), plain.size // 8))
    first = rng.permutation(len(_RULE_MIX))[: min(count, len(_RULE_MIX))]
    weights = np.array([w for _, _, w in _RULE_MIX])
    rest = rng.choice(len(_RULE_MIX), size=max(count - first.size, 0), p=weights / weights.sum())
    kinds = np.concatenate((first, rest)).astype(np.int64)
    if eligible.size < 2:  # anti-affinity needs two hosts to spread over
        kinds = kinds[kinds != 1]

    low_high = {
        RuleKind.AFFINITY: _AFFINITY_SIZES,
        RuleKind.ANTI_AFFINITY: (_ANTI_AFFINITY_SIZES[0], min(_ANTI_AFFINITY_SIZES[1], eligible.size)),
        RuleKind.VM_HOST: _VM_GROUP_SIZES,
    }
    sizes = np.zeros(kinds.size, dtype=np.int64)
    for index, (kind, _, _) in enumerate(_RULE_MIX):
        members = np.flatnonzero(kinds == index)
        if members.size:
            sizes[members] = _batch_sizes(rng, members.size, *low_high[kind])
    budget = int(_RULE_VM_BUDGET * spec.vms)
    keep = np.cumsum(sizes) <= min(budget, plain.size)
    kinds, sizes = kinds[keep], sizes[keep]

    chosen = rng.permutation(plain)[: int(sizes.sum())]
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    n_vm_host = int(np.count_nonzero(kinds >= 2))
    host_groups = _draw_host_groups(spec, eligible, n_vm_host, rng)
    rules: list[_RuleDraft] = []
    for index, kind_index in enumerate(kinds.tolist()):
        kind, mode, _ = _RULE_MIX[kind_index]
        members = chosen[bounds[index] : bounds[index + 1]].tolist()
        group = int(rng.integers(len(host_groups))) if kind is RuleKind.VM_HOST else -1
        rules.append(_RuleDraft(kind, mode, members, group))
    return rules, host_groups


def _draw_host_groups(
    spec: SynthSpec, eligible: IntArray, n_rules: int, rng: np.random.Generator
) -> list[IntArray]:
    """Named host sets (a licence, a rack); each has an eligible host in and, if any, one out."""
    if n_rules == 0:
        return []
    count = max(1, min(_MAX_HOST_GROUPS, math.ceil(n_rules / 4)))
    groups: list[IntArray] = []
    for _ in range(count):
        size = int(np.clip(round(rng.uniform(*_HOST_GROUP_FRACTION) * spec.hosts), 1, max(spec.hosts - 1, 1)))
        order = rng.permutation(eligible)
        inside = order[:1]
        outside = order[1:2]
        others = np.setdiff1d(np.arange(spec.hosts), np.concatenate((inside, outside)))
        extra = rng.permutation(others)[: max(size - 1, 0)]
        groups.append(np.sort(np.concatenate((inside, extra))).astype(np.int64))
    return groups


# -- the witness placement -----------------------------------------------------------------------


class _OverfullError(Exception):
    """Configured VM memory does not fit the up hosts at this overcommit."""


@dataclass(slots=True)
class _Loads:
    """Free capacity per host as Python lists: the greedy loops read them one element at a time."""

    cpu_free: list[float]
    mem_free: list[float]
    inv_cpu: list[float]  # 1 / capacity, to rank hosts by relative room without dividing
    inv_mem: list[float]

    @classmethod
    def empty(cls, cpu_cap: FloatArray, mem_cap: FloatArray) -> _Loads:
        return cls(
            cpu_cap.tolist(),
            mem_cap.tolist(),
            (1.0 / np.maximum(cpu_cap, 1.0)).tolist(),
            (1.0 / np.maximum(mem_cap, 1.0)).tolist(),
        )

    def key(self, h: int) -> float:
        """Heap key: minus the relative room of the tighter resource (worst fit pops the roomiest)."""
        return -min(self.cpu_free[h] * self.inv_cpu[h], self.mem_free[h] * self.inv_mem[h])


def _place_singles(
    vm_ids: Sequence[int],
    domain: IntArray,
    loads: _Loads,
    cpu: list[int],
    mem: list[int],
    assign: list[int],
) -> list[int]:
    """Worst fit: each VM to the domain host with the most relative room; returns those that fit none."""
    heap = [(loads.key(h), h) for h in domain.tolist()]
    heapq.heapify(heap)
    cpu_free, mem_free, inv_cpu, inv_mem = loads.cpu_free, loads.mem_free, loads.inv_cpu, loads.inv_mem
    failed: list[int] = []
    for v in vm_ids:
        c, m = cpu[v], mem[v]
        if not heap:
            failed.append(v)
            continue
        h = heap[0][1]
        if c <= cpu_free[h] and m <= mem_free[h]:
            cpu_free[h] -= c
            mem_free[h] -= m
            assign[v] = h
            heapq.heapreplace(heap, (-min(cpu_free[h] * inv_cpu[h], mem_free[h] * inv_mem[h]), h))
            continue
        # The roomiest host is too small in one resource: look further down, then restore the heap.
        aside = [heapq.heappop(heap)]
        found = -1
        while heap:
            item = heapq.heappop(heap)
            aside.append(item)
            if c <= cpu_free[item[1]] and m <= mem_free[item[1]]:
                found = item[1]
                break
        if found >= 0:
            cpu_free[found] -= c
            mem_free[found] -= m
            assign[v] = found
        else:
            failed.append(v)
        for _, h2 in aside:
            heapq.heappush(heap, (loads.key(h2), h2))
    return failed


def _place_groups(
    groups: Sequence[list[int]],
    together: bool,
    domain: IntArray,
    loads: _Loads,
    cpu: list[int],
    mem: list[int],
    assign: list[int],
) -> list[int]:
    """Worst fit for groups, all on one host (affinity) or each on its own (anti-affinity).

    Returns the indices of groups that could not be placed whole; they are left unplaced.
    """
    heap = [(loads.key(h), h) for h in domain.tolist()]
    heapq.heapify(heap)
    cpu_free, mem_free = loads.cpu_free, loads.mem_free
    failed: list[int] = []
    for index, group in enumerate(groups):
        if together:
            needs = [(sum(cpu[v] for v in group), sum(mem[v] for v in group), group)]
        else:
            members = sorted(group, key=lambda v: (-mem[v], -cpu[v], v))
            needs = [(cpu[v], mem[v], [v]) for v in members]
        aside: list[int] = []
        placed: list[tuple[int, int, int, list[int]]] = []
        j = 0
        while j < len(needs) and heap:
            h = heapq.heappop(heap)[1]
            aside.append(h)
            c, m, vs = needs[j]
            if c <= cpu_free[h] and m <= mem_free[h]:
                cpu_free[h] -= c
                mem_free[h] -= m
                placed.append((h, c, m, vs))
                j += 1
        if j < len(needs):
            for h, c, m, _ in placed:
                cpu_free[h] += c
                mem_free[h] += m
            failed.append(index)
        else:
            for h, _, _, vs in placed:
                for v in vs:
                    assign[v] = h
        for h in aside:
            heapq.heappush(heap, (loads.key(h), h))
    return failed


def _auto_overcommit(hosts: _Hosts, vms: _Vms) -> float:
    """The smallest overcommit (1.0 or a 0.05 step) at which VM memory fills <= 85 % of up hosts."""
    ratio = float(vms.memory_mib.sum()) / float(hosts.memory_mib[hosts.up].sum())
    steps = math.ceil(round(ratio / _MEMORY_FILL_TARGET / _OVERCOMMIT_STEP, 9))
    return max(1.0, round(steps * _OVERCOMMIT_STEP, 2))


def _witness_with_overcommit(
    spec: SynthSpec, hosts: _Hosts, vms: _Vms, rules: list[_RuleDraft], host_groups: list[IntArray]
) -> tuple[float, IntArray]:
    """The memory overcommit and a witness placement at it (raising the overcommit if it must)."""
    if spec.memory_overcommit is not None:
        try:
            return spec.memory_overcommit, _witness(hosts, vms, rules, host_groups, spec.memory_overcommit)
        except _OverfullError:
            raise SpecError(
                [
                    (
                        "memory_overcommit",
                        f"{spec.vms} VMs' configured memory does not fit {spec.up_hosts} up hosts at "
                        f"overcommit {spec.memory_overcommit}; raise it or leave it automatic",
                    )
                ]
            ) from None
    overcommit = _auto_overcommit(hosts, vms)
    pristine = [(r.alive, r.vms) for r in rules]
    for _ in range(_OVERCOMMIT_RETRIES):
        try:
            return overcommit, _witness(hosts, vms, rules, host_groups, overcommit)
        except _OverfullError:
            for rule, (alive, _) in zip(rules, pristine, strict=True):
                rule.alive = alive
            overcommit = round(overcommit + _OVERCOMMIT_STEP, 2)
    raise SpecError([("vms", f"{spec.vms} VMs do not fit {spec.up_hosts} up hosts")])


def _witness(
    hosts: _Hosts, vms: _Vms, rules: list[_RuleDraft], host_groups: list[IntArray], overcommit: float
) -> IntArray:
    """Place every VM on an up host within capacity, meeting every rule; drop rules that cannot be met.

    Restricted VMs go first (affinity groups, anti-affinity groups, VM-to-host groups, island VMs),
    on up hosts other than those to be emptied by the skew, then the rest anywhere up. Within a
    phase, larger VMs go first. A rule that does not fit is dropped (its VMs join the rest); an
    island VM that does not fit its island loses the island attachment. Raises ``_OverfullError`` when
    even the rest cannot be placed for memory.
    """
    n_vms = vms.vcpus.size
    cpu_cap = hosts.cpu_mhz.astype(np.float64)
    mem_cap = hosts.memory_mib.astype(np.float64) * overcommit
    loads = _Loads.empty(cpu_cap, mem_cap)
    cpu = vms.cpu_mhz.tolist()
    mem = vms.memory_mib.tolist()
    assign = [-1] * n_vms
    need = vms.need.copy()  # written back only on success, so a retry starts from the draw
    up = hosts.up
    restricted_hosts = up & ~hosts.returned
    domain_all = np.flatnonzero(up)
    domain_restricted = np.flatnonzero(restricted_hosts)

    # Largest first, measured against the average up host; ties broken by index for determinism.
    size = np.maximum(vms.cpu_mhz / cpu_cap[up].mean(), vms.memory_mib / mem_cap[up].mean())
    rank = np.empty(n_vms, dtype=np.int64)
    rank[np.lexsort((np.arange(n_vms), -size))] = np.arange(n_vms)

    def by_size(ids: Sequence[int]) -> list[int]:
        return sorted(ids, key=lambda v: rank[v])

    def place_rule_groups(kind: RuleKind, together: bool) -> None:
        drafts = [r for r in rules if r.alive and r.kind is kind]
        drafts.sort(key=lambda r: -sum(mem[v] for v in r.vms))
        for index in _place_groups(
            [r.vms for r in drafts], together, domain_restricted, loads, cpu, mem, assign
        ):
            drafts[index].alive = False

    place_rule_groups(RuleKind.AFFINITY, together=True)
    place_rule_groups(RuleKind.ANTI_AFFINITY, together=False)

    by_domain: dict[tuple[int, bool], list[_RuleDraft]] = {}
    for rule in rules:
        if rule.alive and rule.kind is RuleKind.VM_HOST:
            by_domain.setdefault((rule.host_group, rule.wants_hosts), []).append(rule)
    for (group, wants), drafts in sorted(by_domain.items()):
        inside = np.zeros(hosts.state.size, dtype=np.bool_)
        inside[host_groups[group]] = True
        domain = np.flatnonzero(restricted_hosts & (inside == wants))
        owner = {v: rule for rule in drafts for v in rule.vms}
        for v in _place_singles(by_size(list(owner)), domain, loads, cpu, mem, assign):
            owner[v].alive = False  # its placed members stay where they are, now unconstrained

    for bit in (_NEED_ISLAND, _NEED_DMZ):
        ids = np.flatnonzero(vms.need & bit).tolist()
        domain = np.flatnonzero(restricted_hosts & (hosts.has & bit > 0))
        for v in _place_singles(by_size(ids), domain, loads, cpu, mem, assign):
            need[v] = 0

    rest = [v for v in range(n_vms) if assign[v] < 0]
    for v in _place_singles(by_size(rest), domain_all, loads, cpu, mem, assign):
        # No up host has room for both: take the one with most CPU room among those with memory
        # room and lower the VM's CPU demand to fit (a packed cluster only; the load drops a little).
        fits = [h for h in domain_all.tolist() if mem[v] <= loads.mem_free[h]]
        if not fits:
            raise _OverfullError
        h = max(fits, key=lambda k: (loads.cpu_free[k], -k))
        cpu[v] = max(min(cpu[v], math.floor(loads.cpu_free[h])), 0)
        loads.cpu_free[h] -= cpu[v]
        loads.mem_free[h] -= mem[v]
        assign[v] = h
    vms.cpu_mhz = np.array(cpu, dtype=np.int64)
    vms.need = need
    return np.array(assign, dtype=np.int64)


# -- the initial placement -----------------------------------------------------------------------


@dataclass(slots=True)
class _Placement:
    """The initial placement being perturbed, with per-host use kept in step."""

    host: IntArray
    cpu_used: FloatArray
    mem_used: FloatArray
    cpu_cap: FloatArray
    mem_cap: FloatArray
    vm_cpu: IntArray
    vm_mem: IntArray

    def fits(self, v: int, h: int) -> bool:
        return bool(
            self.cpu_used[h] + self.vm_cpu[v] <= self.cpu_cap[h]
            and self.mem_used[h] + self.vm_mem[v] <= self.mem_cap[h]
        )

    def move(self, ids: IntArray, target: int) -> None:
        sources = self.host[ids]
        np.subtract.at(self.cpu_used, sources, self.vm_cpu[ids])
        np.subtract.at(self.mem_used, sources, self.vm_mem[ids])
        self.cpu_used[target] += float(self.vm_cpu[ids].sum())
        self.mem_used[target] += float(self.vm_mem[ids].sum())
        self.host[ids] = target


def _migrations_complete(spec: SynthSpec, vms: _Vms) -> BoolArray:
    """Per VM, whether its live migration alone on an idle link ends with the VM moved (it may
    exceed the downtime limit, but the hypervisor does not give up), under the policy the
    inventory is written with. One estimate per distinct (memory, dirty rate)."""
    from scheduler.migration.precopy import MigrationInput, simulate
    from scheduler.migration.presets import preset_for

    preset = preset_for(
        spec.hypervisor,
        downtime_limit_ms=d.DEFAULT_DOWNTIME_LIMIT_MS,
        timeout_s=d.DEFAULT_MIGRATION_TIMEOUT_S,
    )
    verdict: dict[tuple[int, float], bool] = {}
    out = np.ones(vms.memory_mib.size, dtype=np.bool_)
    for k, key in enumerate(zip(vms.memory_mib.tolist(), vms.dirty_rate_mibps.tolist(), strict=True)):
        if key not in verdict:
            run = simulate(MigrationInput(float(key[0]), key[1], spec.network_gbps), preset)
            verdict[key] = run.outcome != "aborted"
        out[k] = verdict[key]
    return out


def _initial_placement(
    spec: SynthSpec,
    hosts: _Hosts,
    vms: _Vms,
    rules: list[_RuleDraft],
    host_groups: list[IntArray],
    witness: IntArray,
    overcommit: float,
    rng: np.random.Generator,
) -> IntArray:
    """The witness, perturbed by moves whose reverse is a legal migration (see the module docstring)."""
    n_vms = witness.size
    in_rule = np.zeros(n_vms, dtype=np.bool_)
    for rule in rules:
        if rule.alive:
            in_rule[rule.vms] = True

    # New VMs and immobile VMs come from VMs in no rule; immobile ones never on a host to be emptied.
    free = np.flatnonzero(~in_rule)
    new = rng.permutation(free)[: spec.new_vms]
    vms.new[new] = True
    candidates = np.flatnonzero(~in_rule & ~vms.new & ~hosts.returned[witness])
    n_immobile = min(round(spec.immobile_fraction * n_vms), candidates.size)
    immobile = np.sort(rng.permutation(candidates)[:n_immobile])
    vms.immobile_kind[immobile] = np.arange(n_immobile) % _IMMOBILE_KINDS

    host = witness.copy()
    host[vms.new] = -1
    placed = host >= 0
    cpu_cap = hosts.cpu_mhz.astype(np.float64)
    mem_cap = hosts.memory_mib.astype(np.float64) * overcommit
    p = _Placement(
        host=host,
        cpu_used=np.bincount(host[placed], weights=vms.cpu_mhz[placed], minlength=cpu_cap.size).astype(
            np.float64
        ),
        mem_used=np.bincount(host[placed], weights=vms.memory_mib[placed], minlength=cpu_cap.size).astype(
            np.float64
        ),
        cpu_cap=cpu_cap,
        mem_cap=mem_cap,
        vm_cpu=vms.cpu_mhz,
        vm_mem=vms.memory_mib,
    )
    donor = ~in_rule & ~vms.new & (vms.immobile_kind < 0)
    # Donors are drawn in one random order shared by every host that draws them; the masks live
    # in that order, and the part that depends only on the target's CPU and islands is cached.
    order = rng.permutation(n_vms)
    position = np.empty(n_vms, dtype=np.int64)
    position[order] = np.arange(n_vms)
    unmoved = donor[order].copy()
    vendor_of = hosts.vendor[witness[order]]
    generation_of = hosts.generation[witness[order]]
    need_of = vms.need[order]
    static: dict[tuple[int, int, int], BoolArray] = {}

    def compatible_donors(target: int) -> BoolArray:
        """Unmoved donors (in the shared order) whose way back from ``target`` is a legal move."""
        key = (int(hosts.vendor[target]), int(hosts.generation[target]), int(hosts.has[target]))
        if key not in static:
            ok: BoolArray = (vendor_of == key[0]) & ((need_of & ~key[2]) == 0)
            if not spec.imc:
                ok &= generation_of >= key[1]
            static[key] = ok
        return static[key] & unmoved

    def move(ids: IntArray, target: int) -> None:
        p.move(ids, target)
        unmoved[position[ids]] = False

    def fill(target: int, cpu_room: float, mask: BoolArray, max_count: int) -> None:
        """Move donors in ``mask`` onto ``target``, in the shared random order, up to the rooms."""
        ids = order[mask]
        mem_room = p.mem_cap[target] - p.mem_used[target]
        ids = ids[(p.vm_cpu[ids] <= cpu_room) & (p.vm_mem[ids] <= mem_room)][:max_count]
        if ids.size == 0:
            return
        take = (np.cumsum(p.vm_cpu[ids]) <= cpu_room) & (np.cumsum(p.vm_mem[ids]) <= mem_room)
        move(ids[: int(np.argmin(take)) if not take.all() else ids.size], target)

    # Maintenance hosts: filled like an average up host (load, VM count), so evacuating them is
    # real work and, in a cluster with few VMs, every maintenance host gets some. Only with VMs
    # whose live migration completes under the cluster's hypervisor and link: a VM that must
    # leave and cannot would make the instance infeasible, and the witness promises otherwise.
    per_host = max(1, math.ceil(int(np.count_nonzero(placed)) / max(int(np.count_nonzero(hosts.up)), 1)))
    maintenance = np.flatnonzero(hosts.state == _MAINTENANCE).tolist()
    evacuable = _migrations_complete(spec, vms)[order] if maintenance else None
    for m in maintenance:
        assert evacuable is not None
        mask = compatible_donors(m) & evacuable
        room = max(spec.load * p.cpu_cap[m] - p.cpu_used[m], 0.0)
        fill(m, room, mask, per_host)
        if not (p.host == m).any() and mask.any():
            # Every donor is bigger than an average host's share: take the smallest one that fits.
            ids = order[mask]
            ids = ids[(p.vm_cpu[ids] <= p.cpu_cap[m]) & (p.vm_mem[ids] <= p.mem_cap[m])]
            if ids.size:
                move(ids[[int(np.argmin(p.vm_cpu[ids]))]], m)

    up = np.flatnonzero(hosts.up)
    if spec.skew == "hotspots" and up.size >= 2:
        count = min(max(1, round(_HOT_HOST_FRACTION * up.size)), up.size - 1)
        hot = np.sort(rng.permutation(up)[:count])
        cold = np.ones(hosts.state.size, dtype=np.bool_)
        cold[hot] = False
        target_utilization = min(_HOT_MAX_UTILIZATION, spec.load + _HOT_EXTRA_UTILIZATION)
        cold_of = cold[witness[order]]  # donors come from hosts that are not hot themselves
        for h in hot.tolist():
            room = max(target_utilization * p.cpu_cap[h] - p.cpu_used[h], 0.0)
            fill(h, room, compatible_donors(h) & cold_of, n_vms)

    if spec.skew == "after_maintenance":
        for e in np.flatnonzero(hosts.returned).tolist():
            targets = hosts.up & ~hosts.returned & (hosts.vendor == hosts.vendor[e])
            if not spec.imc:
                targets &= hosts.generation <= hosts.generation[e]
            ids = np.flatnonzero((p.host == e) & (vms.need == 0))  # restricted VMs never go there
            _spread(p, ids[np.argsort(-p.vm_mem[ids], kind="stable")], np.flatnonzero(targets))

    _break_anti_affinity(spec, hosts, rules, p, rng)
    _break_soft_rules(spec, hosts, rules, host_groups, p, rng)
    return p.host


def _spread(p: _Placement, ids: IntArray, targets: IntArray) -> None:
    """Move ``ids`` one by one to the target with most relative room; those that fit nowhere stay."""
    if ids.size == 0 or targets.size == 0:
        return
    loads = _Loads.empty(p.cpu_cap, p.mem_cap)
    loads.cpu_free = (p.cpu_cap - p.cpu_used).tolist()
    loads.mem_free = (p.mem_cap - p.mem_used).tolist()
    assign = [-1] * p.host.size
    _place_singles(ids.tolist(), targets, loads, p.vm_cpu.tolist(), p.vm_mem.tolist(), assign)
    for v in ids.tolist():
        if assign[v] >= 0:
            p.move(np.array([v]), assign[v])


def _legal_targets(spec: SynthSpec, hosts: _Hosts, source: int) -> BoolArray:
    """Up hosts a VM placed on them could leave for ``source`` (same vendor, not newer than it)."""
    ok: BoolArray = hosts.up & ~hosts.returned & (hosts.vendor == hosts.vendor[source])
    if not spec.imc:
        ok &= hosts.generation <= hosts.generation[source]
    return ok


def _break_anti_affinity(
    spec: SynthSpec, hosts: _Hosts, rules: list[_RuleDraft], p: _Placement, rng: np.random.Generator
) -> None:
    """Start about 15 % of anti-affinity rules with two members on one host (e.g. after an HA restart)."""
    for rule in rules:
        if not (rule.alive and rule.kind is RuleKind.ANTI_AFFINITY):
            continue
        if rng.random() >= _ANTI_AFFINITY_BROKEN_FRACTION:
            continue
        a, b = rule.vms[0], rule.vms[1]
        target = int(p.host[a])
        if _legal_targets(spec, hosts, int(p.host[b]))[target] and p.fits(b, target):
            p.move(np.array([b]), target)


def _break_soft_rules(
    spec: SynthSpec,
    hosts: _Hosts,
    rules: list[_RuleDraft],
    host_groups: list[IntArray],
    p: _Placement,
    rng: np.random.Generator,
) -> None:
    """Start about 25 % of should / should_not rules with one member on the wrong side."""
    for rule in rules:
        if not (rule.alive and rule.mode in (HostRuleMode.SHOULD, HostRuleMode.SHOULD_NOT)):
            continue
        if rng.random() >= _SOFT_RULE_BROKEN_FRACTION:
            continue
        v = rule.vms[0]
        inside = np.zeros(hosts.state.size, dtype=np.bool_)
        inside[host_groups[rule.host_group]] = True
        targets = np.flatnonzero(_legal_targets(spec, hosts, int(p.host[v])) & (inside != rule.wants_hosts))
        for target in rng.permutation(targets).tolist():
            if p.fits(v, target):
                p.move(np.array([v]), target)
                break


# -- building the instance -----------------------------------------------------------------------


def _names(prefix: str, stem: str, count: int, width: int = 0) -> list[str]:
    digits = max(width, len(str(count)))
    return [f"{prefix}{stem}-{i:0{digits}d}" for i in range(1, count + 1)]


def _build(
    spec: SynthSpec,
    hosts: _Hosts,
    vms: _Vms,
    rules: list[_RuleDraft],
    host_groups: list[IntArray],
    overcommit: float,
    initial: IntArray,
    witness: IntArray,
) -> tuple[Instance, dict[str, str]]:
    """Turn the columns into the model's dataclasses."""
    pre = spec.name_prefix
    host_names = _names(pre, "cna", spec.hosts, 3)
    vm_names = _names(pre, "vm", spec.vms, 4)
    shared = _names(pre, "ds-shared", hosts.shared_datastores, 2)
    island_ds, dmz_net = f"{pre}ds-island-01", f"{pre}dvs-dmz"
    common_nets = (f"{pre}dvs-mgmt", f"{pre}dvs-prod", f"{pre}dvs-backup")

    host_objs: list[Host] = []
    for i in range(spec.hosts):
        has = int(hosts.has[i])
        age = int(hosts.age[i])
        cores = int(hosts.cores[i])
        idle_w = _IDLE_W_BASE + _IDLE_W_PER_CORE * cores + _IDLE_W_PER_AGE * age
        host_objs.append(
            Host(
                name=host_names[i],
                cpu_mhz=int(hosts.cpu_mhz[i]),
                memory_mib=int(hosts.memory_mib[i]),
                cpu=CpuModel(_VENDORS[int(hosts.vendor[i])], int(hosts.generation[i])),
                datastores=frozenset(shared + ([island_ds] if has & _NEED_ISLAND else [])),
                networks=frozenset(common_nets + ((dmz_net,) if has & _NEED_DMZ else ())),
                state=_STATE_OF_CODE[int(hosts.state[i])],
                power=PowerModel(
                    idle_w=idle_w,
                    max_w=idle_w + _DYNAMIC_W_PER_CORE * cores,
                    boot_s=_BOOT_S_BASE + _BOOT_S_PER_AGE * age,
                ),
            )
        )

    # Few distinct attachment sets: share one frozenset object per combination.
    datastore_sets: dict[int, frozenset[str]] = {-1: frozenset((island_ds,))}
    datastore_sets.update({k: frozenset((name,)) for k, name in enumerate(shared)})
    network_sets = {
        (False, False): frozenset((common_nets[1],)),
        (False, True): frozenset((common_nets[1], common_nets[2])),
        (True, False): frozenset((dmz_net,)),
        (True, True): frozenset((dmz_net, common_nets[2])),
    }
    island = (vms.need & _NEED_ISLAND) > 0
    datastore_key = np.where(island, -1, vms.datastore).tolist()
    dmz = ((vms.need & _NEED_DMZ) > 0).tolist()
    backup = vms.backup_net.tolist()
    immobile = vms.immobile_kind.tolist()
    host_of = [host_names[h] if h >= 0 else None for h in initial.tolist()]
    vm_objs = [
        VM(
            name=name,
            host=host_of[i],
            vcpus=vcpus,
            memory_mib=memory,
            cpu_demand_mhz=cpu,
            memory_demand_mib=memory_demand,
            dirty_rate_mibps=dirty,
            datastores=datastore_sets[datastore_key[i]],
            networks=network_sets[(dmz[i], backup[i])],
            drs_enabled=immobile[i] != 2,
            pinned=immobile[i] == 0,
            devices=_DEVICES[i % len(_DEVICES)] if immobile[i] == 1 else (),
            linked_clone=immobile[i] == 3,
        )
        for i, (name, vcpus, memory, cpu, memory_demand, dirty) in enumerate(
            zip(
                vm_names,
                vms.vcpus.tolist(),
                vms.memory_mib.tolist(),
                vms.cpu_mhz.tolist(),
                vms.memory_demand_mib.tolist(),
                vms.dirty_rate_mibps.tolist(),
                strict=True,
            )
        )
    ]

    stems = {
        (RuleKind.AFFINITY, None): "aff",
        (RuleKind.ANTI_AFFINITY, None): "anti",
        (RuleKind.VM_HOST, HostRuleMode.MUST): "must",
        (RuleKind.VM_HOST, HostRuleMode.MUST_NOT): "mustnot",
        (RuleKind.VM_HOST, HostRuleMode.SHOULD): "should",
        (RuleKind.VM_HOST, HostRuleMode.SHOULD_NOT): "shouldnot",
    }
    counters = dict.fromkeys(stems, 0)
    host_group_names = _names(pre, "hg", len(host_groups), 2)
    vm_groups: dict[str, tuple[str, ...]] = {}
    used_host_groups: dict[str, tuple[str, ...]] = {}
    rule_objs: list[Rule] = []
    for draft in rules:
        if not draft.alive:
            continue
        key = (draft.kind, draft.mode)
        counters[key] += 1
        name = f"{pre}{stems[key]}-{counters[key]:04d}"
        members = tuple(vm_names[v] for v in sorted(draft.vms))
        if draft.kind is RuleKind.VM_HOST:
            vm_group = f"{pre}vmg-{len(vm_groups) + 1:04d}"
            host_group = host_group_names[draft.host_group]
            host_members = tuple(host_names[h] for h in host_groups[draft.host_group].tolist())
            vm_groups[vm_group] = members
            used_host_groups[host_group] = host_members
            rule_objs.append(Rule(name, draft.kind, members, host_members, draft.mode, vm_group, host_group))
        else:
            rule_objs.append(Rule(name, draft.kind, members))

    policy = Policy(
        drs=DrsPolicy(enabled=True, measure=Measure(spec.measure), threshold=spec.drs_threshold),
        dpm=DpmPolicy(enabled=spec.dpm_enabled),
        memory_overcommit=overcommit,
        imc=CpuModel(_VENDORS[0], int(hosts.generation.min())) if spec.imc else None,
        migration=MigrationPolicy(network_gbps=float(spec.network_gbps), hypervisor=spec.hypervisor),
    )
    instance = Instance(
        name=spec.instance_name,
        hosts=tuple(host_objs),
        vms=tuple(vm_objs),
        rules=tuple(rule_objs),
        policy=policy,
        vm_groups=vm_groups,
        host_groups=dict(sorted(used_host_groups.items())),
    )
    return instance, {vm_names[i]: host_names[h] for i, h in enumerate(witness.tolist())}

"""The numbers the generator draws from, each with its provenance: public traces where there is
one, a stated modelling choice where there is not."""

from __future__ import annotations

from typing import Final

from scheduler.model import HostRuleMode, RuleKind

# Rules per VM: "typical" is about 300 rules in a 10,000-VM cluster, "dense" a rule-heavy estate.
RULES_PER_VM: Final = {"none": 0.0, "typical": 0.03, "dense": 0.10}

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
IDLE_W_BASE: Final = 60.0
IDLE_W_PER_CORE: Final = 0.9
IDLE_W_PER_AGE: Final = 15.0
DYNAMIC_W_PER_CORE: Final = 2.6
BOOT_S_BASE: Final = 240.0
BOOT_S_PER_AGE: Final = 60.0

# Memory demand (what the balancer measures) as a fraction of configured memory: Beta(5, 3), mean
# 0.625, 90 % of VMs between 0.33 and 0.87. A modelling choice: traces that record *active* memory
# (Bitbrains GWA-T-12: median 6 % of provisioned) understate what a hypervisor counts as consumed,
# since guests touch and keep pages (page cache) and rarely return them without ballooning.
MEMORY_DEMAND_BETA: Final = (5.0, 3.0)

# Dirty rate, a modelling choice consistent with the writable-working-set measurements of Clark et
# al., "Live Migration of Virtual Machines", NSDI 2005: idle and interactive guests dirty a few
# MiB/s, web and database servers tens to a few hundred. Quiet VMs: 20 MiB/s x Beta(1.2, 3) (mean
# about 6 MiB/s); busy VMs: log-uniform in 20..400 MiB/s. The chance of being busy grows with CPU
# utilization (dirtying memory takes CPU): 5 % + 50 % x utilization, at most 60 %.
QUIET_DIRTY_MAX_MIBPS: Final = 20.0
QUIET_DIRTY_BETA: Final = (1.2, 3.0)
BUSY_DIRTY_RANGE_MIBPS: Final = (20.0, 400.0)
BUSY_BASE: Final = 0.05
BUSY_PER_UTILIZATION: Final = 0.5
BUSY_MAX: Final = 0.6

# Incompatibility islands: a local datastore seen by about 12 % of hosts, a DMZ network by 25 %;
# the VMs using them are fewer than those hosts could carry, so they always fit.
ISLAND_HOST_FRACTION: Final = 0.12
ISLAND_VM_SHARE_OF_HOSTS: Final = 0.4
DMZ_HOST_FRACTION: Final = 0.25
DMZ_VM_FRACTION: Final = 0.04
BACKUP_NET_VM_FRACTION: Final = 0.2
MIN_HOSTS_FOR_ISLANDS: Final = 4

# Rule mix after one rule of each kind: (kind, mode) and weight.
RULE_MIX: Final[tuple[tuple[RuleKind, HostRuleMode | None, float], ...]] = (
    (RuleKind.AFFINITY, None, 0.3),
    (RuleKind.ANTI_AFFINITY, None, 0.3),
    (RuleKind.VM_HOST, HostRuleMode.MUST, 0.1),
    (RuleKind.VM_HOST, HostRuleMode.MUST_NOT, 0.1),
    (RuleKind.VM_HOST, HostRuleMode.SHOULD, 0.1),
    (RuleKind.VM_HOST, HostRuleMode.SHOULD_NOT, 0.1),
)
AFFINITY_SIZES: Final = (2, 4)
ANTI_AFFINITY_SIZES: Final = (2, 6)
VM_GROUP_SIZES: Final = (1, 8)
RULE_VM_BUDGET: Final = 0.4  # at most this share of VMs is in a rule, leaving room for new VMs
MAX_HOST_GROUPS: Final = 8
HOST_GROUP_FRACTION: Final = (0.1, 0.35)

# Skew and initial rule work.
HOT_HOST_FRACTION: Final = 0.1
HOT_EXTRA_UTILIZATION: Final = 0.3
HOT_MAX_UTILIZATION: Final = 0.95
RETURNED_HOSTS_PER_UP_HOST: Final = 1 / 50
ANTI_AFFINITY_BROKEN_FRACTION: Final = 0.15
SOFT_RULE_BROKEN_FRACTION: Final = 0.25

# Memory: without an explicit overcommit, configured VM memory fills at most this share of the up
# hosts' admission, raising the overcommit in steps when the VMs need it (memory reuse).
MEMORY_FILL_TARGET: Final = 0.85
OVERCOMMIT_STEP: Final = 0.05
OVERCOMMIT_RETRIES: Final = 20

VENDORS: Final = ("intel", "amd")
SECOND_VENDOR_FRACTION: Final = 0.3
IMMOBILE_KINDS: Final = 4  # pinned, devices, DRS disabled, linked clone
DEVICES: Final = (("usb",), ("gpu-passthrough",))

"""What to generate: ``SynthSpec``, its checks (``spec_problems``) and ``SpecError``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from scheduler.io.inventory import MAX_MEMORY_OVERCOMMIT, MAX_NETWORK_GBPS, MIN_NETWORK_GBPS
from scheduler.io.validate import cluster_name_problem, name_problem
from scheduler.model import defaults as d

RuleDensity = Literal["none", "typical", "dense"]
Skew = Literal["none", "hotspots", "after_maintenance"]

RULE_DENSITIES: Final = ("none", "typical", "dense")
SKEWS: Final = ("none", "hotspots", "after_maintenance")


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
    # What is generated must read back: the inventory's own bounds apply.
    need(
        MIN_NETWORK_GBPS <= spec.network_gbps <= MAX_NETWORK_GBPS,
        "network_gbps",
        f"must be in {MIN_NETWORK_GBPS:g}..{MAX_NETWORK_GBPS:,g}, got {spec.network_gbps}",
    )
    if spec.memory_overcommit is not None:
        need(
            1.0 <= spec.memory_overcommit <= MAX_MEMORY_OVERCOMMIT,
            "memory_overcommit",
            f"must be in 1..{MAX_MEMORY_OVERCOMMIT:g}, got {spec.memory_overcommit}",
        )
    if spec.name is not None:
        problem = cluster_name_problem(spec.name)
        need(problem is None, "name", problem or "")
    if spec.name_prefix:
        # The prefix starts every name: it must keep them names (a letter stands for the rest).
        need(
            name_problem(spec.name_prefix + "x") is None,
            "name_prefix",
            f"{spec.name_prefix!r} would start names with a space or put ';', control characters or "
            "lone surrogates in them",
        )
    need(not (spec.imc and spec.vendors > 1), "imc", "IMC works within one CPU vendor; use vendors=1")
    return problems

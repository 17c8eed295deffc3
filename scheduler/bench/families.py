"""Seeded instance families and the suites built from them, with a manifest of what was generated.

A family is a size (S, M, L, XL, or DC for a data centre of many clusters) crossed with variants
of rule density, load, skew and CPU heterogeneity. A case is one such combination; with a seed
it gives exactly one instance (``build_instance``), so a results row names its instance by
(case name, seed) and anyone can regenerate it. VM sizes, CPU utilization and group sizes come
from ``scheduler.synth``, which draws them from the Azure public data sets (see data/README.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np

from scheduler.bench.contenders import Contender, contender
from scheduler.io import atomic_write_csv, atomic_write_text
from scheduler.model import HostState, Instance
from scheduler.synth import RuleDensity, Skew, SynthSpec, synthesize

# (hosts, VMs) per size; XL is the optimizer's scale target, a vSphere-maximum-sized cluster.
FAMILY_SIZES: Final[dict[str, tuple[int, int]]] = {
    "S": (8, 80),
    "M": (32, 1_000),
    "L": (64, 4_000),
    "XL": (128, 10_000),
}
# The data-centre family: many independent clusters (DRS domains), planned one by one.
DC_CLUSTERS: Final = 20
DC_HOSTS: Final = 50
DC_VMS: Final = 2_500

LOADS: Final = (0.35, 0.6, 0.85)
DENSITIES: Final[tuple[RuleDensity, ...]] = ("none", "typical", "dense")
SKEWS: Final[tuple[Skew, ...]] = ("none", "hotspots", "after_maintenance")


@dataclass(frozen=True, slots=True)
class FamilyCase:
    """One instance recipe; ``spec_for(seed)`` is the generator spec of its instance for a seed.

    ``dc_index`` / ``dc_clusters`` mark a cluster of the data-centre family: its generator seed is
    spawned from the data-centre seed exactly as ``synthesize_datacenter`` does, so the case with
    seed s is cluster ``dc_index`` of ``synthesize_datacenter(dc_clusters, ..., seed=s)``.
    """

    name: str
    family: str
    spec: SynthSpec
    dc_index: int | None = None
    dc_clusters: int = 0

    def spec_for(self, seed: int) -> SynthSpec:
        """The generator spec of this case's instance for ``seed``."""
        if self.dc_index is None:
            return replace(self.spec, seed=seed, name=f"{self.name}-s{seed}")
        child = np.random.SeedSequence(seed).spawn(self.dc_clusters)[self.dc_index]
        width = max(2, len(str(self.dc_clusters - 1)))
        tag = f"{self.dc_index:0{width}d}"
        return replace(
            self.spec,
            seed=int(child.generate_state(1, dtype=np.uint32)[0]),
            name=f"cluster-{tag}",
            name_prefix=f"c{tag}-",
        )


def family_case(
    family: str,
    *,
    rule_density: RuleDensity = "typical",
    load: float = 0.6,
    skew: Skew = "hotspots",
    cpu_generations: int = 2,
    vendors: int = 1,
    maintenance_hosts: int = 0,
    size: tuple[int, int] | None = None,
) -> FamilyCase:
    """A case of a size family; its name spells every variant, e.g. ``M-typical-l60-hotspots-g2``."""
    hosts, vms = size if size is not None else FAMILY_SIZES[family]
    name = f"{family}-{rule_density}-l{round(load * 100)}-{skew}-g{cpu_generations}"
    if vendors > 1:
        name += f"-v{vendors}"
    if maintenance_hosts:
        name += f"-m{maintenance_hosts}"
    spec = SynthSpec(
        hosts=hosts,
        vms=vms,
        load=load,
        rule_density=rule_density,
        skew=skew,
        cpu_generations=cpu_generations,
        vendors=vendors,
        maintenance_hosts=maintenance_hosts,
    )
    return FamilyCase(name=name, family=family, spec=spec)


def datacenter_cases(
    clusters: int = DC_CLUSTERS, hosts: int = DC_HOSTS, vms: int = DC_VMS, *, family: str = "DC"
) -> list[FamilyCase]:
    """The clusters of one data centre, each a case named ``DC-c00``, ``DC-c01``, ..."""
    width = max(2, len(str(clusters - 1)))
    template = SynthSpec(hosts=hosts, vms=vms)
    return [
        FamilyCase(
            name=f"{family}-c{i:0{width}d}", family=family, spec=template, dc_index=i, dc_clusters=clusters
        )
        for i in range(clusters)
    ]


@lru_cache(maxsize=4)
def build_instance(case: FamilyCase, seed: int) -> Instance:
    """The instance of ``case`` for ``seed`` (cached: contenders of one case share it)."""
    return synthesize(case.spec_for(seed))


# -- suites ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Suite:
    """What one ``scheduler bench --suite NAME`` runs: (case, contender, seed) triples, in order.

    ``time_limit_s`` is the wall-clock budget every time-limited contender gets (ours, the greedy
    baselines' deadline, proxlb-solver), equal for all of them on an instance.
    """

    name: str
    runs: tuple[tuple[FamilyCase, Contender, int], ...]
    time_limit_s: float
    description: str = ""
    families: tuple[str, ...] = field(default=())

    def only(self, families: Iterable[str]) -> Suite:
        """The same suite restricted to some families (``--only``)."""
        keep = {f.upper() for f in families}
        runs = tuple(r for r in self.runs if r[0].family.upper() in keep)
        return replace(self, runs=runs, families=tuple(f for f in self.families if f.upper() in keep))

    def cases(self) -> list[tuple[FamilyCase, int]]:
        """Distinct (case, seed) pairs in run order: the instances of the manifest."""
        seen: dict[tuple[str, int], tuple[FamilyCase, int]] = {}
        for case, _, seed in self.runs:
            seen.setdefault((case.name, seed), (case, seed))
        return list(seen.values())


def _balance_contenders(proxlb: bool = True) -> list[Contender]:
    out = [contender(f"ours-t{t}") for t in (1, 3, 5)]
    out += [contender("greedy-drs"), contender("greedy-drs-costaware")]
    if proxlb:
        out.append(contender("proxlb-t3"))
    return out


def _dpm_contenders() -> list[Contender]:
    return [contender("ours-t3-dpm"), contender("ffd-dpm")]


def _cross(
    cases: Sequence[FamilyCase], contenders: Sequence[Contender], seeds: Sequence[int]
) -> list[tuple[FamilyCase, Contender, int]]:
    return [(case, c, seed) for case in cases for seed in seeds for c in contenders]


def smoke_suite() -> Suite:
    """A seconds-long sanity sweep on a 4-host cluster (tests and CI), every contender once."""
    tiny = family_case("S", size=(4, 24), rule_density="typical", skew="hotspots", maintenance_hosts=1)
    tiny = replace(tiny, name=tiny.name.replace("S-", "tiny-", 1), family="tiny")
    contenders = [
        contender("ours-t3"),
        contender("greedy-drs"),
        contender("greedy-drs-costaware"),
        contender("ffd-dpm"),
    ]
    return Suite("smoke", tuple(_cross([tiny], contenders, [0])), 1.0, "4 hosts x 24 VMs", ("tiny",))


def quick_suite() -> Suite:
    """A few minutes on two cores: the S family in several variants and one M instance.

    S: typical rules with hot spots (3 seeds), dense rules after a maintenance return on three CPU
    generations. M: one instance with every contender, and the three load levels with DPM.
    """
    s_main = family_case("S")
    s_hard = family_case("S", rule_density="dense", skew="after_maintenance", cpu_generations=3)
    # Load levels on M: S's 80 VMs cannot carry more than about 30 % of its hosts' CPU (each VM
    # runs at most at 100 % of its vCPUs), so S has no load sweep.
    m_loads = [family_case("M", rule_density="none", load=load) for load in LOADS]
    m_main = family_case("M")
    runs = _cross([s_main], _balance_contenders(), [0, 1, 2])
    runs += _cross([s_hard], _balance_contenders(), [0])
    runs += _cross([m_main], [*_balance_contenders(), *_dpm_contenders()], [0])
    runs += _cross(m_loads, _dpm_contenders(), [0])
    return Suite("quick", tuple(runs), 5.0, "S variants and one M instance, 5 s limits", ("S", "M"))


def full_suite() -> Suite:
    """Every family: S and M over the variant grid, L, XL (the scale target) and a data centre.

    Long (hours on two cores); resumable, and ``--only`` runs one family at a time.
    """
    s_cases = [
        family_case("S", rule_density=density, load=load, skew=skew)
        for density in DENSITIES
        for load in LOADS
        for skew in SKEWS
    ]
    m_cases = [family_case("M", rule_density=density, load=load) for density in DENSITIES for load in LOADS]
    m_cases += [
        family_case("M", skew="after_maintenance"),
        family_case("M", cpu_generations=3, vendors=2, maintenance_hosts=1),
    ]
    l_cases = [
        family_case("L"),
        family_case("L", rule_density="dense", load=0.85),
        family_case("L", skew="after_maintenance", cpu_generations=3),
    ]
    # The scale target twice: with two CPU generations, whose islands put the threshold's
    # tolerance out of reach of any plan, and with one, where nothing stands between a plan and it.
    xl_cases = [family_case("XL"), family_case("XL", cpu_generations=1)]
    everything = [*_balance_contenders(), *_dpm_contenders()]
    runs = _cross(s_cases, everything, [0, 1, 2])
    runs += _cross(m_cases, everything, [0, 1, 2])
    runs += _cross(l_cases, [*_balance_contenders(proxlb=False), *_dpm_contenders()], [0, 1])
    runs += _cross(
        xl_cases,
        [
            contender("ours-t3"),
            contender("ours-t3-dpm"),
            contender("greedy-drs"),
            contender("greedy-drs-costaware"),
            contender("ffd-dpm"),
        ],
        [0],
    )
    runs += _cross(datacenter_cases(), [contender("ours-t3"), contender("greedy-drs")], [0])
    return Suite(
        "full",
        tuple(runs),
        30.0,
        "S, M over the variant grid; L; XL 128 x 10,000; a data centre of 20 x 50 hosts; 30 s limits",
        ("S", "M", "L", "XL", "DC"),
    )


def peer_suite() -> Suite:
    """The M family (rule density × load, seed 0) for ours, the classic greedy and proxlb-solver.

    30 s each, the limit at which proxlb-solver finds solutions on 32 × 1,000 (at 5–10 s its
    CP-SAT search, with no warm start, returns none).
    """
    cases = [family_case("M", rule_density=density, load=load) for density in DENSITIES for load in LOADS]
    contenders = [contender("ours-t3"), contender("greedy-drs"), contender("proxlb-t3")]
    return Suite("peer", tuple(_cross(cases, contenders, [0])), 30.0, "M family vs proxlb-solver", ("M",))


SUITES: Final = {"smoke": smoke_suite, "quick": quick_suite, "full": full_suite, "peer": peer_suite}


def suite(name: str) -> Suite:
    """The suite called ``name`` (smoke, quick or full)."""
    try:
        return SUITES[name]()
    except KeyError:
        raise ValueError(f"unknown suite {name!r}; choose one of {', '.join(SUITES)}") from None


# -- manifest --------------------------------------------------------------------------------------


def manifest_rows(cases: Iterable[tuple[FamilyCase, int]]) -> list[dict[str, Any]]:
    """One row per generated instance: its name, family, seed, full generator spec and its counts."""
    rows: list[dict[str, Any]] = []
    for case, seed in cases:
        spec = case.spec_for(seed)
        instance = build_instance(case, seed)
        row: dict[str, Any] = {"instance": case.name, "family": case.family, "seed": seed}
        row.update({f"spec_{k}": v for k, v in asdict(spec).items()})
        row.update(
            {
                "num_hosts": instance.num_hosts,
                "num_hosts_up": sum(1 for h in instance.hosts if h.state is HostState.UP),
                "num_vms": instance.num_vms,
                "num_rules": len(instance.rules),
                "memory_overcommit": instance.policy.memory_overcommit,
                "total_cpu_demand_mhz": int(instance.vm_cpu_demand_mhz.sum()),
                "total_memory_mib": int(instance.vm_memory_mib.sum()),
            }
        )
        rows.append(row)
    return rows


def manifest_paths(out_dir: Path, suite_name: str) -> tuple[Path, Path]:
    """Where ``write_manifest`` writes a suite's manifest: JSON, then CSV."""
    return out_dir / f"{suite_name}-manifest.json", out_dir / f"{suite_name}-manifest.csv"


def write_manifest(rows: Sequence[dict[str, Any]], out_dir: Path, suite_name: str) -> tuple[Path, Path]:
    """Write ``<suite>-manifest.json`` and ``.csv`` next to the results; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = manifest_paths(out_dir, suite_name)
    atomic_write_text(json_path, json.dumps(list(rows), indent=1, default=str) + "\n")
    atomic_write_csv(csv_path, list(rows[0]) if rows else [], rows)
    return json_path, csv_path

"""Instance families: seeded and reproducible, named by their variants, suites and manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scheduler.bench.families import (
    FAMILY_SIZES,
    build_instance,
    datacenter_cases,
    family_case,
    manifest_rows,
    suite,
    write_manifest,
)
from scheduler.model import HostState
from scheduler.synth import SynthSpec, synthesize_datacenter


def test_case_name_spells_every_variant() -> None:
    """The instance name is enough to regenerate it: size, rules, load, skew, generations, extras."""
    case = family_case(
        "M",
        rule_density="dense",
        load=0.85,
        skew="after_maintenance",
        cpu_generations=3,
        vendors=2,
        maintenance_hosts=1,
    )
    assert case.name == "M-dense-l85-after_maintenance-g3-v2-m1"
    assert (case.spec.hosts, case.spec.vms) == FAMILY_SIZES["M"]


def test_same_case_and_seed_give_equal_instances_and_other_seeds_differ() -> None:
    """Seeded: (case, seed) → one instance; a different seed gives a different cluster."""
    case = family_case("S")
    a = build_instance(case, 1)
    build_instance.cache_clear()
    b = build_instance(case, 1)
    assert a == b
    assert a.name == "S-typical-l60-hotspots-g2-s1"
    assert build_instance(case, 2) != a


def test_maintenance_variant_has_a_host_to_evacuate() -> None:
    instance = build_instance(family_case("S", maintenance_hosts=1), 0)
    assert sum(h.state is HostState.MAINTENANCE for h in instance.hosts) == 1


def test_datacenter_cases_reproduce_synthesize_datacenter() -> None:
    """Cluster i of the DC family with seed s is cluster i of ``synthesize_datacenter(..., seed=s)``."""
    cases = datacenter_cases(clusters=3, hosts=4, vms=20)
    reference = synthesize_datacenter(3, 4, 20, seed=7, template=SynthSpec(hosts=4, vms=20))
    built = [build_instance(c, 7) for c in cases]
    assert [c.name for c in cases] == ["DC-c00", "DC-c01", "DC-c02"]
    assert built == reference


@pytest.mark.parametrize("name", ["smoke", "quick", "full", "peer"])
def test_suites_have_unique_run_keys(name: str) -> None:
    """Resuming relies on (instance, contender, seed) being unique within a suite."""
    runs = suite(name).runs
    keys = [(case.name, who.name, seed) for case, who, seed in runs]
    assert runs
    assert len(keys) == len(set(keys))


def test_full_suite_covers_every_family_and_the_scale_target() -> None:
    full = suite("full")
    assert {case.family for case, _, _ in full.runs} == {"S", "M", "L", "XL", "DC"}
    xl = [(case, who) for case, who, _ in full.runs if case.family == "XL"]
    assert any(who.name == "ours-t3" and case.spec.vms == 10_000 for case, who in xl)
    assert full.only(["xl"]).runs
    assert all(c.family == "XL" for c, _, _ in full.only(["xl"]).runs)


def test_unknown_suite_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown suite"):
        suite("huge")


def test_manifest_lists_each_instance_with_its_spec(tmp_path: Path) -> None:
    """JSON and CSV manifests name every generated instance, its seed and its generator spec."""
    smoke = suite("smoke")
    rows = manifest_rows(smoke.cases())
    json_path, csv_path = write_manifest(rows, tmp_path, "smoke")
    loaded = json.loads(json_path.read_text())
    assert len(loaded) == len(smoke.cases()) == 1
    assert loaded[0]["spec_hosts"] == 4
    assert loaded[0]["num_vms"] == 24
    assert loaded[0]["seed"] == 0
    assert loaded[0]["instance"].startswith("tiny-")
    assert csv_path.read_text().splitlines()[0].startswith("instance,family,seed,spec_hosts")

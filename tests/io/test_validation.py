"""Every class of inventory input error: the message names file, entry and field, all at once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from scheduler.errors import InputError, Problem
from scheduler.io import inventory as b
from scheduler.io import parse_inventory, read_inventory, write_inventory

SOURCE = "inv.yaml"


def base() -> dict[str, Any]:
    """Two hosts, three VMs, no rules: valid, and small enough to break one field at a time."""
    return {
        "name": "t",
        "vm_groups": {"ab": ["a", "b"]},
        "host_groups": {"left": ["h1"]},
        "hosts": [
            {"name": "h1", "cpu_mhz": 10000, "memory_mib": 65536},
            {"name": "h2", "cpu_mhz": 10000, "memory_mib": 65536},
        ],
        "vms": [
            {
                "name": n,
                "host": "h1",
                "vcpus": 2,
                "memory_mib": 4096,
                "cpu_demand_mhz": 1000,
                "memory_demand_mib": 2048,
            }
            for n in ("a", "b", "c")
        ],
        "rules": [],
    }


def problems_of(data: Any) -> list[Problem]:
    with pytest.raises(InputError) as info:
        parse_inventory(data, SOURCE)
    return info.value.problems


def assert_problem(data: Any, entry: str, field: str, text: str) -> Problem:
    """Exactly the located problem expected, with ``text`` in its message, is among those raised."""
    found = problems_of(data)
    for p in found:
        if p.file == SOURCE and p.entry == entry and p.field == field and text in p.message:
            prefix = ": ".join(part for part in (SOURCE, entry, field) if part)
            assert str(p).startswith(prefix + ": ")
            return p
    raise AssertionError(f"no problem {entry!r} {field!r} {text!r} in {[str(p) for p in found]}")


def test_base_inventory_is_valid() -> None:
    """The fixture every other test breaks is itself valid (else the tests below prove nothing)."""
    assert parse_inventory(base(), SOURCE).num_vms == 3


# -- unknown names --------------------------------------------------------------------------


def test_vm_on_unknown_host() -> None:
    data = base()
    data["vms"][0]["host"] = "h9"
    assert_problem(data, "vm a", "host", "unknown host 'h9'")


def test_rule_naming_unknown_vm_and_host() -> None:
    data = base()
    data["rules"] = [{"name": "r", "kind": "vm_host", "mode": "must", "vms": ["a", "zz"], "hosts": ["h7"]}]
    assert_problem(data, "rule r", "vms", "unknown VM 'zz'")
    assert_problem(data, "rule r", "hosts", "unknown host 'h7'")


def test_rule_naming_unknown_groups() -> None:
    data = base()
    data["rules"] = [
        {"name": "r", "kind": "vm_host", "mode": "must", "vm_group": "nope", "host_group": "lft"}
    ]
    assert_problem(data, "rule r", "vm_group", "unknown vm group 'nope'")
    assert_problem(data, "rule r", "host_group", "unknown host group 'lft' (did you mean 'left'?)")


def test_group_naming_unknown_members() -> None:
    data = base()
    data["vm_groups"]["ab"].append("ghost")
    data["host_groups"]["left"].append("h3")
    assert_problem(data, "vm_groups", "ab", "unknown VM 'ghost'")
    assert_problem(data, "host_groups", "left", "unknown host 'h3'")


# -- duplicates -----------------------------------------------------------------------------


def test_duplicate_host_vm_and_rule_names() -> None:
    data = base()
    data["hosts"].append(copy.deepcopy(data["hosts"][0]))
    data["vms"].append(copy.deepcopy(data["vms"][1]))
    data["rules"] = [{"name": "r", "kind": "affinity", "vms": ["a", "b"]}] * 2
    assert_problem(data, "host h1", "name", "duplicate host name 'h1'")
    assert_problem(data, "vm b", "name", "duplicate VM name 'b'")
    assert_problem(data, "rule r", "name", "duplicate rule name 'r'")


def test_duplicate_group_names_in_yaml(tmp_path: Path) -> None:
    """YAML keeps the last of two equal keys silently; the reader reports the line instead."""
    path = tmp_path / "g.yaml"
    path.write_text("name: t\nvm_groups:\n  db: [a]\n  db: [b]\nhosts: []\nvms: []\n")
    with pytest.raises(InputError) as info:
        read_inventory(path)
    (p,) = info.value.problems
    assert (p.file, p.entry, p.field) == (str(path), "line 4", "db")
    assert "duplicate key" in p.message


def test_duplicate_key_in_json(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text('{"name": "t", "name": "u", "hosts": [], "vms": []}')
    with pytest.raises(InputError, match="top level: name: duplicate key"):
        read_inventory(path)


def test_duplicate_key_in_json_names_the_entry(tmp_path: Path) -> None:
    """The decoder's hook sees the keys, not their place: the entry is found after parsing."""
    path = tmp_path / "g.json"
    path.write_text(
        '{"name": "t", "hosts": [], "vms": [{"name": "a"}, {"name": "b", "vcpus": 2, "vcpus": 4}]}'
    )
    with pytest.raises(InputError) as info:
        read_inventory(path)
    assert [(p.entry, p.field) for p in info.value.problems] == [("vms[1]", "vcpus")]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name: t\nhosts:\n  - {name: h1, cpu_mhz: !!bool maybe}\nvms: []\n", "line 3"),
        ("name: t\nhosts:\n  - {name: h1, cpu_mhz: !!timestamp soon}\nvms: []\n", "line 3"),
        ('name: t\nhosts: []\nvms: []\nx: "a\x01b"\n', "line 4, column 6"),
    ],
    ids=["bool-tag", "timestamp-tag", "control-character"],
)
def test_yaml_a_tag_or_character_cannot_read_is_located(tmp_path: Path, text: str, where: str) -> None:
    """Not a traceback (PyYAML raises KeyError and AttributeError on these tags) nor an offset."""
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_inventory(path)
    [problem] = info.value.problems
    assert problem.entry.startswith(where)
    assert problem.message.startswith("malformed YAML")


def test_yaml_duplicate_keys_beside_a_merge_key_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    base = "base: &h {cpu_mhz: 1000, memory_mib: 1024}"
    path.write_text(f"name: t\n{base}\nhosts:\n  - {{<<: *h, name: h2, name: h3}}\nvms: []\n")
    with pytest.raises(InputError, match="line 4: name: duplicate key"):
        read_inventory(path)


def test_vm_listed_twice_in_a_rule() -> None:
    data = base()
    data["rules"] = [{"name": "r", "kind": "anti_affinity", "vms": ["a", "a", "b"]}]
    assert_problem(data, "rule r", "vms", "'a' listed twice")


# -- rule structure -------------------------------------------------------------------------


def test_vm_in_two_affinity_rules() -> None:
    data = base()
    data["rules"] = [
        {"name": "r1", "kind": "affinity", "vms": ["a", "b"]},
        {"name": "r2", "kind": "affinity", "vms": ["b", "c"]},
    ]
    assert_problem(data, "rule r2", "vms", "VM 'b' is already in affinity rule 'r1'")


def test_vm_in_two_anti_affinity_rules_via_group() -> None:
    data = base()
    data["rules"] = [
        {"name": "r1", "kind": "anti_affinity", "vm_group": "ab"},
        {"name": "r2", "kind": "anti_affinity", "vms": ["c", "a"]},
    ]
    assert_problem(data, "rule r2", "vms", "VM 'a' is already in anti_affinity rule 'r1'")


def test_one_affinity_and_one_anti_affinity_rule_per_vm_is_fine() -> None:
    data = base()
    data["rules"] = [
        {"name": "r1", "kind": "affinity", "vms": ["a", "b"]},
        {"name": "r2", "kind": "anti_affinity", "vms": ["a", "c"]},
    ]
    assert len(parse_inventory(data, SOURCE).rules) == 2


def test_affinity_rule_with_one_vm() -> None:
    data = base()
    data["rules"] = [{"name": "solo", "kind": "affinity", "vms": ["a"]}]
    assert_problem(data, "rule solo", "vms", "at least two VMs, got 1")


def test_unknown_rule_kind_and_mode() -> None:
    data = base()
    data["rules"] = [
        {"name": "r1", "kind": "afinity", "vms": ["a", "b"]},
        {"name": "r2", "kind": "vm_host", "mode": "may", "vms": ["a"], "hosts": ["h1"]},
    ]
    assert_problem(data, "rule r1", "kind", "unknown rule kind 'afinity' (did you mean 'affinity'?)")
    assert_problem(data, "rule r2", "mode", "unknown mode 'may'")


def test_vm_host_rule_without_mode_or_hosts() -> None:
    data = base()
    data["rules"] = [
        {"name": "r1", "kind": "vm_host", "vms": ["a"], "hosts": ["h1"]},
        {"name": "r2", "kind": "vm_host", "mode": "should", "vms": ["a"]},
    ]
    assert_problem(data, "rule r1", "mode", "missing")
    assert_problem(data, "rule r2", "hosts", "missing: give hosts or host_group")


def test_vm_vm_rule_with_a_mode() -> None:
    data = base()
    data["rules"] = [{"name": "r", "kind": "anti_affinity", "mode": "must", "vms": ["a", "b"]}]
    assert_problem(data, "rule r", "mode", "only vm_host rules take mode")


def test_rule_with_both_list_and_group() -> None:
    data = base()
    data["rules"] = [{"name": "r", "kind": "affinity", "vms": ["a", "b"], "vm_group": "ab"}]
    assert_problem(data, "rule r", "vm_group", "give vms or vm_group, not both")


# -- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [("cpu_mhz", 0, "must be positive, got 0"), ("memory_mib", -1, "must be positive, got -1")],
)
def test_non_positive_host_capacity(field: str, value: int, text: str) -> None:
    data = base()
    data["hosts"][1][field] = value
    assert_problem(data, "host h2", field, text)


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("network_gbps", 0, "must be positive, got 0"),
        ("max_concurrent_per_host", 0, "must be positive, got 0"),
        ("downtime_limit_ms", -5, "must be positive, got -5"),
        ("timeout_s", 0, "must be positive, got 0"),
    ],
)
def test_non_positive_migration_setting(field: str, value: int, text: str) -> None:
    data = base()
    data["policy"] = {"migration": {field: value}}
    assert_problem(data, "policy", f"migration.{field}", text)


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("cpu_demand_mhz", -1, "must not be negative, got -1"),
        ("memory_demand_mib", -2, "must not be negative, got -2"),
        ("memory_mib", -4096, "must be positive, got -4096"),
        ("vcpus", 0, "must be positive, got 0"),
        ("dirty_rate_mibps", -0.5, "must not be negative, got -0.5"),
        ("nonzero_mib", -1, "must not be negative, got -1"),
    ],
)
def test_negative_vm_demand_size_or_rate(field: str, value: float, text: str) -> None:
    data = base()
    data["vms"][2][field] = value
    assert_problem(data, "vm c", field, text)


def test_negative_power_figures() -> None:
    data = base()
    data["hosts"][0]["power"] = {"idle_w": -1, "max_w": 100, "boot_s": -3}
    assert_problem(data, "host h1", "power.idle_w", "must not be negative")
    assert_problem(data, "host h1", "power.boot_s", "must not be negative")


def test_memory_demand_above_configured_memory() -> None:
    data = base()
    data["vms"][0].update(memory_mib=32768, memory_demand_mib=40000)
    p = assert_problem(data, "vm a", "memory_demand_mib", "40000 exceeds memory_mib 32768")
    assert str(p) == "inv.yaml: vm a: memory_demand_mib: 40000 exceeds memory_mib 32768"


def test_nonzero_memory_above_configured_memory() -> None:
    data = base()
    data["vms"][0]["nonzero_mib"] = 5000
    assert_problem(data, "vm a", "nonzero_mib", "5000 exceeds memory_mib 4096")


def test_cpu_demand_above_vcpus_times_clock_is_accepted() -> None:
    """CPU demand is not bounded per VM (no per-core clock in the inventory): see docs/inventory.md."""
    data = base()
    data["vms"][0]["cpu_demand_mhz"] = 9000
    assert parse_inventory(data, SOURCE).vm("a").cpu_demand_mhz == 9000


@pytest.mark.parametrize(("section", "value"), [("drs", 7), ("drs", 0), ("dpm", 6)])
def test_threshold_outside_one_to_five(section: str, value: int) -> None:
    data = base()
    data["policy"] = {section: {"threshold": value}}
    assert_problem(data, "policy", f"{section}.threshold", f"{value} is outside 1..5")


@pytest.mark.parametrize("band", [[0.9, 0.5], [0.0, 0.5], [0.5, 1.2], [0.5, 0.5]])
def test_dpm_target_band_out_of_order(band: list[float]) -> None:
    data = base()
    data["policy"] = {"dpm": {"target_utilization": band}}
    assert_problem(data, "policy", "dpm.target_utilization", "does not satisfy 0 < low < high <= 1")


def test_dpm_target_band_not_a_pair() -> None:
    data = base()
    data["policy"] = {"dpm": {"target_utilization": [0.5]}}
    assert_problem(data, "policy", "dpm.target_utilization", "expected [low, high]")


def test_memory_overcommit_below_one() -> None:
    data = base()
    data["policy"] = {"memory_overcommit": 0.8}
    assert_problem(data, "policy", "memory_overcommit", "must be at least 1.0, got 0.8")


# -- bounds ---------------------------------------------------------------------------------

HUGE = 10**40  # more than 64 bits
LONG = int("9" * 400)  # an integer no float holds


BEYOND = [
    ("host", "cpu_mhz", HUGE, "must be at most 10,000,000, got a 41-digit integer"),
    ("host", "memory_mib", 2**30 + 1, "must be at most 1,073,741,824, got 1073741825"),
    ("host", "cpu.generation", 10**20, "must be at most 1,000,000, got 100000000000000000000"),
    ("host", "power.idle_w", 1e6, "must be at most 100,000, got 1000000.0"),
    ("host", "power.max_w", LONG, "must be at most 100,000, got a 400-digit integer"),
    ("host", "power.boot_s", 86_401, "must be at most 86,400, got 86401"),
    ("vm", "vcpus", 16_385, "must be at most 16,384, got 16385"),
    ("vm", "memory_mib", 10**30, "must be at most 1,073,741,824, got a 31-digit integer"),
    ("vm", "cpu_demand_mhz", 2**62, "must be at most 10,000,000, got 4611686018427387904"),
    ("vm", "memory_demand_mib", HUGE, "must be at most 1,073,741,824, got a 41-digit integer"),
    ("vm", "nonzero_mib", 2**63, "must be at most 1,073,741,824, got 9223372036854775808"),
    ("vm", "dirty_rate_mibps", LONG, "must be at most 10,000,000, got a 400-digit integer"),
    ("vm", "dirty_rate_mibps", 1e308, "must be at most 10,000,000, got 1e+308"),
    ("policy", "memory_overcommit", 1e15, "must be at most 100, got 1000000000000000.0"),
    ("policy", "memory_overcommit", 1e308, "must be at most 100, got 1e+308"),
    ("policy", "memory_overcommit", LONG, "must be at most 100, got a 400-digit integer"),
    ("policy", "imc.generation", HUGE, "must be at most 1,000,000, got a 41-digit integer"),
    ("policy", "dpm.min_hosts_on", 100_001, "must be at most 100,000, got 100001"),
    ("policy", "migration.network_gbps", 10_001, "must be at most 10,000, got 10001"),
    ("policy", "migration.network_gbps", 0.001, "must be at least 0.01, got 0.001"),
    ("policy", "migration.max_concurrent_per_host", HUGE, "must be at most 1,000, got a 41-digit"),
    ("policy", "migration.downtime_limit_ms", LONG, "must be at most 2,000,000, got a 400-digit"),
    ("policy", "migration.timeout_s", 604_801, "must be at most 604,800, got 604801"),
]


@pytest.mark.parametrize(
    ("where", "field", "value", "text"), BEYOND, ids=[f"{c[1]}-{i}" for i, c in enumerate(BEYOND)]
)
def test_numbers_beyond_their_bounds(where: str, field: str, value: float, text: str) -> None:
    """Every number is bounded: unbounded, 64-bit arrays and CP-SAT overflowed on them later."""
    data = base()
    top, _, sub = field.partition(".")
    if where == "host":
        target, entry = data["hosts"][1], "host h2"
    elif where == "vm":
        target, entry = data["vms"][2], "vm c"
    else:
        target, entry = data.setdefault("policy", {}), "policy"
        if top == "imc":
            target["imc"] = {"vendor": "intel", "generation": 1}
    if sub:
        target = target.setdefault(top, {})
    target[sub or top] = value
    assert_problem(data, entry, field, text)


def test_numbers_at_their_bounds_are_accepted() -> None:
    """The bounds are limits, not exclusions: the largest allowed value of each field reads."""
    data = base()
    data["hosts"][0].update(
        cpu_mhz=10_000_000,
        memory_mib=2**30,
        cpu={"vendor": "intel", "generation": 1_000_000},
        power={"idle_w": 100_000, "max_w": 100_000, "boot_s": 86_400},
    )
    data["vms"][0].update(
        vcpus=16_384,
        memory_mib=2**30,
        cpu_demand_mhz=10_000_000,
        memory_demand_mib=2**30,
        nonzero_mib=2**30,
        dirty_rate_mibps=10_000_000,
    )
    data["policy"] = {
        "memory_overcommit": 100,
        "imc": {"vendor": "intel", "generation": 1_000_000},
        "dpm": {"min_hosts_on": 100_000},
        "migration": {
            "network_gbps": 0.01,
            "max_concurrent_per_host": 1_000,
            "downtime_limit_ms": 2_000_000,
            "timeout_s": 604_800,
        },
    }
    inst = parse_inventory(data, SOURCE)
    assert inst.host("h1").cpu_mhz == 10_000_000
    assert inst.vm("a").memory_mib == 2**30
    assert inst.policy.memory_overcommit == 100.0
    assert inst.policy.migration.network_gbps == 0.01


def test_bounded_sums_fit_the_solver() -> None:
    """The bounds keep the solver's sums over a 100,000-VM cluster far inside int64 (docs)."""
    int64_max = 2**63 - 1
    margin = 10_000  # "tens of thousands of times inside", as docs/inventory.md says
    assert 100_000 * b.MAX_MEMORY_MIB * margin < int64_max
    assert 100_000 * b.MAX_CPU_MHZ * margin < int64_max
    # A host's admitted memory, summed over as many hosts as min_hosts_on allows.
    admitted = b.MAX_MEMORY_MIB * b.MAX_MEMORY_OVERCOMMIT
    assert admitted * b.MAX_MIN_HOSTS_ON * 100 < int64_max


def test_imc_vendor_that_no_host_has() -> None:
    """The IMC baseline names the hosts' CPU vendor; one no host has left new VMs nowhere to go."""
    data = base()
    data["policy"] = {"imc": {"vendor": "Intel", "generation": 1}}
    p = assert_problem(data, "policy", "imc.vendor", "no host has CPU vendor 'Intel'")
    assert p.message.endswith("(did you mean 'intel'?); the hosts have: intel")


def test_imc_vendor_of_some_host_is_accepted() -> None:
    data = base()
    data["hosts"][1]["cpu"] = {"vendor": "amd", "generation": 2}
    data["policy"] = {"imc": {"vendor": "amd", "generation": 2}}
    imc = parse_inventory(data, SOURCE).policy.imc
    assert imc is not None
    assert imc.vendor == "amd"


def test_imc_generation_above_every_host_is_refused() -> None:
    """VMs run at the baseline's features: a baseline newer than every host leaves none to run them."""
    data = base()
    data["hosts"][1]["cpu"] = {"vendor": "amd", "generation": 2}
    data["policy"] = {"imc": {"vendor": "amd", "generation": 3}}
    assert_problem(data, "policy", "imc.generation", "3 is above every amd host's CPU generation (newest 2)")


def test_min_hosts_on_above_the_host_count_is_accepted() -> None:
    """More than the cluster has keeps every host on (the solver caps it), as documented."""
    data = base()
    data["policy"] = {"dpm": {"enabled": True, "min_hosts_on": 50}}
    assert parse_inventory(data, SOURCE).policy.dpm.min_hosts_on == 50


# -- enumerations ---------------------------------------------------------------------------


def test_unknown_measure_hypervisor_and_host_state() -> None:
    data = base()
    data["policy"] = {"drs": {"measure": "disk"}, "migration": {"hypervisor": "hyperv"}}
    data["hosts"][1]["state"] = "sleeping"
    assert_problem(data, "policy", "drs.measure", "unknown measure 'disk'")
    assert_problem(data, "policy", "migration.hypervisor", "unknown hypervisor 'hyperv'")
    assert_problem(data, "host h2", "state", "unknown host state 'sleeping'")


@pytest.mark.parametrize("state", ["down", "standby"])
def test_vm_on_a_host_that_cannot_run_it(state: str) -> None:
    data = base()
    data["hosts"][0]["state"] = state
    assert_problem(data, "vm a", "host", f"host 'h1' is {state}")


def test_vm_on_maintenance_host_is_valid() -> None:
    """A maintenance host may still hold VMs: the plan evacuates them."""
    data = base()
    data["hosts"][0]["state"] = "maintenance"
    assert parse_inventory(data, SOURCE).host("h1").state == "maintenance"


# -- types and keys -------------------------------------------------------------------------


def test_wrong_types() -> None:
    data = base()
    data["hosts"][0]["cpu_mhz"] = "64000"
    data["vms"][0]["pinned"] = "yes"
    data["vms"][1]["vcpus"] = 1.5
    data["vms"][2]["datastores"] = "ds-1"
    data["policy"] = {"drs": {"enabled": 1}}
    assert_problem(data, "host h1", "cpu_mhz", "expected an integer, got string '64000'")
    assert_problem(data, "vm a", "pinned", "expected true or false, got string 'yes'")
    assert_problem(data, "vm b", "vcpus", "expected an integer, got 1.5")
    assert_problem(data, "vm c", "datastores", "expected a list of names")
    assert_problem(data, "policy", "drs.enabled", "expected true or false, got 1")


def test_unnamed_entry_is_named_by_position() -> None:
    data = base()
    del data["vms"][1]["name"]
    assert_problem(data, "vms[1]", "name", "missing (required)")


def test_unknown_keys_are_reported_with_a_suggestion() -> None:
    data = base()
    data["hostz"] = []
    data["vms"][0]["memory_mb"] = 4096
    data["hosts"][0]["cpu"] = {"vendor": "intel", "gen": 3}
    data["policy"] = {"drs": {"treshold": 2}}
    assert_problem(data, "", "hostz", "unknown key (did you mean 'hosts'?)")
    assert_problem(data, "vm a", "memory_mb", "unknown key (did you mean 'memory_mib'?)")
    assert_problem(data, "host h1", "cpu.gen", "unknown key")
    assert_problem(data, "policy", "drs.treshold", "unknown key (did you mean 'threshold'?)")


def test_names_with_list_separator_are_rejected() -> None:
    """A ';' in a name would split into two names in the CSV form."""
    data = base()
    data["vms"][0]["networks"] = ["prod;dmz"]
    assert_problem(data, "vm a", "networks", "must not contain ';'")


def test_names_with_a_lone_surrogate_are_rejected_and_shown_escaped() -> None:
    """JSON's "\\udc80" decodes to no character: no file, terminal or report could write it."""
    data = base()
    data["vms"][0]["name"] = "a\udc80"
    (problem,) = [p for p in problems_of(data) if p.field == "name"]
    assert problem.entry == "vm a\udc80"
    assert "lone surrogates" in problem.message
    assert str(problem).startswith(f"{SOURCE}: vm a\\udc80: name: name 'a\\udc80' must not contain")
    str(problem).encode("utf-8")  # printable as it is


def test_problem_text_shows_control_characters_escaped() -> None:
    """An entry is labelled by the name the input gives, which may hold a NUL or a line break."""
    problem = Problem("inv.json", "vm a\x00b", "name", "name 'a\\x00b' is bad\n")
    assert str(problem) == "inv.json: vm a\\x00b: name: name 'a\\x00b' is bad\\n"


def test_top_level_not_a_mapping() -> None:
    assert_problem([1, 2], "", "", "expected a mapping")


# -- malformed files ------------------------------------------------------------------------


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: t\nhosts:\n  - {name: h1, cpu_mhz: 1\nvms: []\n")
    with pytest.raises(InputError) as info:
        read_inventory(path)
    (p,) = info.value.problems
    assert p.file == str(path)
    assert p.entry.startswith("line 4")
    assert "malformed YAML" in p.message


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "name": "t",\n  "hosts": [,]\n}\n')
    with pytest.raises(InputError) as info:
        read_inventory(path)
    (p,) = info.value.problems
    assert (p.file, p.entry) == (str(path), "line 3, column 13")
    assert "malformed JSON" in p.message


def _csv_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "inv"
    write_inventory(parse_inventory(base(), SOURCE), folder, "csv")
    return folder


def test_malformed_csv_names_the_line(tmp_path: Path) -> None:
    folder = _csv_folder(tmp_path)
    lines = (folder / "vms.csv").read_text().splitlines()
    lines[2] = 'b,h1,2,"4096"x,1000,2048,0.0,,,true,false,,false,'
    (folder / "vms.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        read_inventory(folder)
    p = info.value.problems[0]
    assert (p.file, p.entry) == (str(folder), "vms.csv line 3")
    assert "malformed CSV" in p.message


def test_csv_cell_problems_name_file_line_and_column(tmp_path: Path) -> None:
    folder = _csv_folder(tmp_path)
    text = (folder / "vms.csv").read_text().replace("c,h1,2,4096", "c,h1,two,-4096")
    (folder / "vms.csv").write_text(text)
    with pytest.raises(InputError) as info:
        read_inventory(folder)
    shown = [str(p) for p in info.value.problems]
    assert f"{folder}: vms.csv line 4 (vm c): vcpus: expected an integer, got string 'two'" in shown
    assert f"{folder}: vms.csv line 4 (vm c): memory_mib: must be positive, got -4096" in shown


def test_csv_unknown_column_and_ragged_row(tmp_path: Path) -> None:
    folder = _csv_folder(tmp_path)
    lines = (folder / "hosts.csv").read_text().splitlines()
    lines[0] = lines[0].replace("cpu_mhz", "cpu_ghz")
    lines[2] += ",extra"
    (folder / "hosts.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        read_inventory(folder)
    shown = [str(p) for p in info.value.problems]
    assert any(s.startswith(f"{folder}: hosts.csv line 1: cpu_ghz: unknown column") for s in shown)
    assert f"{folder}: hosts.csv line 3: 12 cells, the header has 11" in shown


def test_csv_byte_that_is_not_utf8_names_file_and_line(tmp_path: Path) -> None:
    folder = _csv_folder(tmp_path)
    with (folder / "vms.csv").open("ab") as f:
        f.write("é".encode() + b"x\xff,h1,2,4096,1000,2048,0.0,,,true,false,,false,\n")
    with pytest.raises(InputError) as info:
        read_inventory(folder)
    assert [str(p) for p in info.value.problems] == [
        f"{folder}: vms.csv line 5: not UTF-8: byte 0xff at column 3 (save the file as UTF-8)"
    ]


def test_csv_byte_that_is_not_utf8_after_a_bom_and_a_long_file(tmp_path: Path) -> None:
    """The line is exact even far into a file (a stream decoder fails a whole buffer early)."""
    folder = _csv_folder(tmp_path)
    header, *rows = (folder / "vms.csv").read_text().splitlines()
    filler = [f"f{i},h2,1,8,1,1,0.0,,,true,false,,false," for i in range(2000)]
    text = "\n".join([header, *rows, *filler, "bad\udcff,h1,1,8,1,1,,,,,,,,"]) + "\n"
    (folder / "vms.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8", "surrogateescape"))
    with pytest.raises(InputError) as info:
        read_inventory(folder)
    (p,) = info.value.problems
    assert (p.entry, p.message) == (
        "vms.csv line 2005",
        "not UTF-8: byte 0xff at column 4 (save the file as UTF-8)",
    )


@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_document_byte_that_is_not_utf8_names_line_and_column(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"inv.{suffix}"
    filler = "".join(f'  "k{i}": "{"v" * 60}",\n' for i in range(500))  # past the decoder's buffer
    path.write_bytes(("{\n" + filler + '  "name": "caf').encode() + b'\xe9"\n}\n')
    with pytest.raises(InputError) as info:
        read_inventory(path)
    (p,) = info.value.problems
    assert (p.entry, p.message) == ("line 502, column 15", "not UTF-8: byte 0xe9 (save the file as UTF-8)")


def test_csv_repeated_column_is_reported_alone(tmp_path: Path) -> None:
    """With a column twice, which cell holds the value is a guess: one message, no row noise."""
    folder = _csv_folder(tmp_path)
    lines = (folder / "hosts.csv").read_text().splitlines()
    lines[0] += ",name"
    lines[1:] = [line + ",zz" for line in lines[1:]]
    (folder / "hosts.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        read_inventory(folder)
    assert [str(p) for p in info.value.problems] == [
        f"{folder}: hosts.csv line 1: name: duplicate column (columns 1 and 12)"
    ]


def test_csv_unclosed_quote_names_the_row_it_opens_and_stops_there(tmp_path: Path) -> None:
    """The quote swallows every later row: one message at the row it opens, none about the VMs
    lost with it (the rules naming them would otherwise report each as unknown)."""
    folder = _csv_folder(tmp_path)
    lines = (folder / "vms.csv").read_text().splitlines()
    lines[1] += ',"unclosed'
    (folder / "vms.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        read_inventory(folder)
    (p,) = info.value.problems
    assert p.entry == "vms.csv line 2"
    assert p.message.startswith("malformed CSV: unexpected end of data (read on to line ")


def test_csv_ragged_row_is_reported_without_follow_on_errors(tmp_path: Path) -> None:
    folder = _csv_folder(tmp_path)
    lines = (folder / "vms.csv").read_text().splitlines()
    lines[1] += ",extra"
    (folder / "vms.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        read_inventory(folder)
    assert [p.entry for p in info.value.problems] == ["vms.csv line 2"]


def test_deeply_nested_json(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"hosts": ' + "[" * 100_000 + "]" * 100_000 + ', "vms": []}')
    with pytest.raises(InputError) as info:
        read_inventory(path)
    (p,) = info.value.problems
    assert (p.file, p.entry) == (str(path), "line 1, column 100010")
    assert p.message == "malformed JSON: nested 100,001 levels deep, too deep to read"


def test_brackets_inside_json_strings_do_not_count_as_nesting(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"name": "[[[\\"[[", "hosts": [' + "[" * 5_000 + "]" * 5_000 + "]}")
    with pytest.raises(InputError, match="nested 5,002 levels deep"):
        read_inventory(path)


@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_integer_too_long_to_convert(tmp_path: Path, suffix: str) -> None:
    """Python refuses to convert integers of over 4,300 digits: a located message, not a crash."""
    path = tmp_path / f"long.{suffix}"
    path.write_text('{"hosts": [{"name": "h", "cpu_mhz": ' + "9" * 5_000 + ', "memory_mib": 1}], "vms": []}')
    with pytest.raises(InputError) as info:
        read_inventory(path)
    (p,) = info.value.problems
    assert p.entry == "line 1, column 37"
    assert p.message.endswith("an integer of 5,000 digits is too long to read")


@pytest.mark.parametrize("merge", ["", "<<: {q: 1}, "])
def test_impossible_yaml_date(tmp_path: Path, merge: str) -> None:
    """YAML reads 2024-13-45 as a date that does not exist; both loaders locate it."""
    path = tmp_path / "date.yaml"
    path.write_text(f"hosts:\n  - {{{merge}name: 2024-13-45, cpu_mhz: 1, memory_mib: 1}}\nvms: []\n")
    with pytest.raises(InputError) as info:
        read_inventory(path)
    (p,) = info.value.problems
    assert p.entry == f"line 2, column {12 + len(merge)}"
    assert p.message == "malformed YAML: cannot read '2024-13-45': month must be in 1..12"


# -- all at once ----------------------------------------------------------------------------


def test_all_problems_of_a_file_are_reported_together() -> None:
    """Fixing one problem per run is slow; one run lists them all, across sections."""
    data = base()
    data["policy"] = {"drs": {"threshold": 9}, "memory_overcommit": 0.5}
    data["hosts"][0]["cpu_mhz"] = -1
    data["vms"][0]["host"] = "nowhere"
    data["vms"][1]["memory_demand_mib"] = 99999
    data["rules"] = [{"name": "r", "kind": "affinity", "vms": ["c"]}]
    fields = {(p.entry, p.field) for p in problems_of(data)}
    assert {
        ("policy", "drs.threshold"),
        ("policy", "memory_overcommit"),
        ("host h1", "cpu_mhz"),
        ("vm a", "host"),
        ("vm b", "memory_demand_mib"),
        ("rule r", "vms"),
    } <= fields


def test_names_with_a_c1_control_character_are_rejected_and_shown_escaped() -> None:
    """U+009B is a terminal's CSI: printed raw, "db\\x9b2J" would clear the operator's screen."""
    data = base()
    data["vms"][0]["name"] = "a\x9b2J"
    (problem,) = [p for p in problems_of(data) if p.field == "name"]
    assert "control characters" in problem.message
    assert "\x9b" not in str(problem)
    assert "a\\x9b2J" in str(problem)

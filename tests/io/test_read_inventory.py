"""Reading inventories: defaults, groups, the three forms, and what the reader accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.errors import InputError
from scheduler.io import parse_inventory, read_inventory
from scheduler.model import HostRuleMode, HostState, RuleKind, defaults

MINIMAL_YAML = """\
name: tiny
hosts:
  - {name: h1, cpu_mhz: 20000, memory_mib: 65536}
  - {name: h2, cpu_mhz: 20000, memory_mib: 65536, state: standby}
vms:
  - {name: a, host: h1, vcpus: 2, memory_mib: 4096, cpu_demand_mhz: 1000, memory_demand_mib: 2048}
  - {name: new, vcpus: 1, memory_mib: 2048, cpu_demand_mhz: 500, memory_demand_mib: 1024}
"""


def test_minimal_inventory_gets_every_default(tmp_path: Path) -> None:
    """Omitted optional fields take the values of scheduler/model/defaults.py."""
    path = tmp_path / "tiny.yaml"
    path.write_text(MINIMAL_YAML)
    inst = read_inventory(path)
    h1 = inst.host("h1")
    assert h1.cpu.vendor == defaults.DEFAULT_CPU_VENDOR
    assert h1.cpu.generation == defaults.DEFAULT_CPU_GENERATION
    assert h1.state is HostState.UP
    assert (h1.power.idle_w, h1.power.max_w, h1.power.boot_s) == (
        defaults.DEFAULT_IDLE_W,
        defaults.DEFAULT_MAX_W,
        defaults.DEFAULT_BOOT_S,
    )
    a = inst.vm("a")
    assert a.dirty_rate_mibps == defaults.DEFAULT_DIRTY_RATE_MIBPS
    assert a.drs_enabled is defaults.DEFAULT_DRS_ENABLED_FOR_VM
    assert (a.pinned, a.devices, a.linked_clone, a.nonzero_mib) == (False, (), False, None)
    pol = inst.policy
    assert (pol.drs.enabled, pol.drs.measure, pol.drs.threshold) == (
        defaults.DEFAULT_DRS_ENABLED,
        defaults.DEFAULT_DRS_MEASURE,
        defaults.DEFAULT_DRS_THRESHOLD,
    )
    assert pol.dpm.target_utilization == defaults.DEFAULT_DPM_TARGET_UTILIZATION
    assert pol.dpm.min_hosts_on == defaults.DEFAULT_DPM_MIN_HOSTS_ON
    assert pol.memory_overcommit == defaults.DEFAULT_MEMORY_OVERCOMMIT
    assert pol.imc is None
    assert pol.migration.network_gbps == defaults.DEFAULT_NETWORK_GBPS
    assert pol.migration.max_concurrent_per_host == defaults.DEFAULT_MAX_CONCURRENT_PER_HOST
    assert pol.migration.downtime_limit_ms == defaults.DEFAULT_DOWNTIME_LIMIT_MS
    assert pol.migration.hypervisor == defaults.DEFAULT_HYPERVISOR
    assert pol.migration.timeout_s == defaults.DEFAULT_MIGRATION_TIMEOUT_S


def test_vm_without_host_is_new(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(MINIMAL_YAML)
    assert read_inventory(path).vm("new").is_new


def test_groups_resolve_into_rules_and_keep_their_names() -> None:
    data = {
        "name": "g",
        "vm_groups": {"db": ["a", "b"]},
        "host_groups": {"lic": ["h1"]},
        "hosts": [
            {"name": "h1", "cpu_mhz": 1000, "memory_mib": 1000},
            {"name": "h2", "cpu_mhz": 1, "memory_mib": 1},
        ],
        "vms": [
            {
                "name": n,
                "host": "h1",
                "vcpus": 1,
                "memory_mib": 10,
                "cpu_demand_mhz": 1,
                "memory_demand_mib": 1,
            }
            for n in ("a", "b")
        ],
        "rules": [
            {"name": "apart", "kind": "anti_affinity", "vm_group": "db"},
            {"name": "lic", "kind": "vm_host", "mode": "must_not", "vms": ["a"], "host_group": "lic"},
        ],
    }
    inst = parse_inventory(data, "g.yaml")
    apart, lic = inst.rules
    assert (apart.kind, apart.vms, apart.vm_group) == (RuleKind.ANTI_AFFINITY, ("a", "b"), "db")
    assert (lic.mode, lic.vms, lic.vm_group, lic.hosts, lic.host_group) == (
        HostRuleMode.MUST_NOT,
        ("a",),
        None,
        ("h1",),
        "lic",
    )
    assert dict(inst.vm_groups) == {"db": ("a", "b")}


def test_integral_float_is_accepted_for_integers() -> None:
    """Some tools write every number as a float; 64000.0 means 64000."""
    data = {"hosts": [{"name": "h", "cpu_mhz": 64000.0, "memory_mib": 1024}], "vms": []}
    host = parse_inventory(data, "f.json").host("h")
    assert host.cpu_mhz == 64000
    assert isinstance(host.cpu_mhz, int)


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "lab.yml"
    path.write_text(MINIMAL_YAML.replace("name: tiny\n", ""))
    assert read_inventory(path).name == "lab"


def test_csv_folder_lists_and_nested_columns(tmp_path: Path) -> None:
    folder = tmp_path / "inv"
    folder.mkdir()
    (folder / "hosts.csv").write_text(
        "name,cpu_mhz,memory_mib,cpu.vendor,cpu.generation,datastores,networks,power.boot_s\n"
        "h1,20000,65536,amd,2, ds-1 ; ds-2 ,net,120\n"
    )
    (folder / "vms.csv").write_text(
        "name,host,vcpus,memory_mib,cpu_demand_mhz,memory_demand_mib,devices,pinned\n"
        "a,h1,2,4096,1000,2048,usb;gpu,yes\n"
        "\n"
        "b,,1,1024,10,10,,\n"
    )
    (folder / "rules.csv").write_text(
        "name,kind,mode,vms,vm_group,host_group,hosts\nr,vm_host,must,a;b,,,h1\n"
    )
    (folder / "policy.yaml").write_text("name: lab\ndrs: {threshold: 4}\nvm_groups: {g: [a]}\n")
    inst = read_inventory(folder)
    h1 = inst.host("h1")
    assert (h1.cpu.vendor, h1.cpu.generation, h1.datastores, h1.power.boot_s) == (
        "amd",
        2,
        frozenset({"ds-1", "ds-2"}),
        120.0,
    )
    assert h1.power.idle_w == defaults.DEFAULT_IDLE_W
    assert inst.vm("a").devices == ("usb", "gpu")
    assert inst.vm("a").pinned
    assert inst.vm("b").is_new
    assert inst.rules[0].vms == ("a", "b")
    assert (inst.name, inst.policy.drs.threshold, dict(inst.vm_groups)) == ("lab", 4, {"g": ("a",)})


def test_csv_folder_without_policy_or_rules(tmp_path: Path) -> None:
    """policy.yaml and rules.csv are optional; the folder name becomes the cluster name."""
    folder = tmp_path / "bare"
    folder.mkdir()
    (folder / "hosts.csv").write_text("name,cpu_mhz,memory_mib\nh1,1000,1000\n")
    (folder / "vms.csv").write_text("name,host,vcpus,memory_mib,cpu_demand_mhz,memory_demand_mib\n")
    inst = read_inventory(folder)
    assert (inst.name, inst.num_hosts, inst.num_vms, inst.rules) == ("bare", 1, 0, ())


def test_csv_integer_of_more_digits_than_python_converts_is_named_by_its_length(tmp_path: Path) -> None:
    """int() refuses strings of more than 4,300 digits; the cell is no infinity either."""
    folder = tmp_path / "huge"
    folder.mkdir()
    (folder / "hosts.csv").write_text(f"name,cpu_mhz,memory_mib\nh1,{'9' * 5_000},1000\n")
    (folder / "vms.csv").write_text("name,host,vcpus,memory_mib,cpu_demand_mhz,memory_demand_mib\n")
    with pytest.raises(InputError, match=r"cpu_mhz: must be at most 10,000,000, got a 5,000-digit integer"):
        read_inventory(folder)


def test_csv_folder_missing_a_required_file(tmp_path: Path) -> None:
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "hosts.csv").write_text("name,cpu_mhz,memory_mib\nh1,1000,1000\n")
    with pytest.raises(InputError, match=r"vms\.csv: missing file"):
        read_inventory(folder)


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_inventory(tmp_path / "absent.yaml")
    odd = tmp_path / "inv.txt"
    odd.write_text("x")
    with pytest.raises(InputError, match="unknown inventory format"):
        read_inventory(odd)


def test_yaml_anchors_and_merge_keys_are_understood(tmp_path: Path) -> None:
    """Operators factor repeated host specs with anchors; the fast loader must agree with PyYAML."""
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "hosts:\n"
        "  - &h1 {name: h1, cpu_mhz: 64000, memory_mib: 262144, datastores: &ds [ds-1]}\n"
        "  - {<<: *h1, name: h2}\n"
        "vms:\n"
        "  - {name: a, host: h2, vcpus: 1, memory_mib: 1024, cpu_demand_mhz: 1, memory_demand_mib: 1,\n"
        "     datastores: *ds}\n"
    )
    inst = read_inventory(path)
    assert inst.host("h2").memory_mib == 262144
    assert inst.vm("a").datastores == frozenset({"ds-1"})


def test_quoted_numbers_and_yaml_booleans_keep_their_yaml_meaning(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(
        "hosts: [{name: '10', cpu_mhz: 1000, memory_mib: 1000}]\n"
        "vms: [{name: 'yes', host: '10', vcpus: 1, memory_mib: 8, cpu_demand_mhz: 1, memory_demand_mib: 1,"
        " pinned: yes}]\n"
    )
    inst = read_inventory(path)
    assert inst.vm("yes").host == "10"
    assert inst.vm("yes").pinned is True


def test_csv_policy_yaml_top_level_problems_name_policy_yaml(tmp_path: Path) -> None:
    """In the CSV form the file is the folder and the entry the file: policy.yaml's own name and
    groups are no exception (they were reported as if at the folder's top level)."""
    folder = tmp_path / "inv"
    folder.mkdir()
    (folder / "hosts.csv").write_text("name,cpu_mhz,memory_mib\nh1,20000,65536\n")
    (folder / "vms.csv").write_text(
        "name,host,vcpus,memory_mib,cpu_demand_mhz,memory_demand_mib\na,h1,2,4096,1000,2048\n"
    )
    (folder / "policy.yaml").write_text("name: 123\nhost_groups: [h1]\nvm_groups: {g: null}\n")
    with pytest.raises(InputError) as info:
        read_inventory(folder)
    assert [(p.entry, p.field) for p in info.value.problems] == [
        ("policy.yaml", "name"),
        ("policy.yaml: vm_groups", "g"),
        ("policy.yaml", "host_groups"),
    ]

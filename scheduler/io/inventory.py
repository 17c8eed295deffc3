"""Reading and validating a cluster inventory (docs/inventory.md) into an ``Instance``.

Validation happens here, once, at the boundary: every problem names the file, the entry (host,
VM, rule or group; for CSV the file and line) and the field, and all problems of an input are
reported together in one ``InputError``. Code past this point trusts the ``Instance``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scheduler.errors import InputError, Problem
from scheduler.io.csv_folder import POLICY_YAML, read_csv_folder
from scheduler.io.validate import (
    Problems,
    check_keys,
    check_name,
    cluster_name_problem,
    describe,
    get_bool,
    get_int,
    get_mapping,
    get_names,
    get_number,
    get_str,
    suggest,
)
from scheduler.io.yaml_json import load_document
from scheduler.model import defaults as d
from scheduler.model.host import CpuModel, Host, HostState, PowerModel
from scheduler.model.instance import Instance
from scheduler.model.policy import DpmPolicy, DrsPolicy, Measure, MigrationPolicy, Policy
from scheduler.model.rules import HostRuleMode, Rule, RuleKind
from scheduler.model.vm import VM

TOP_KEYS = frozenset({"name", "policy", "vm_groups", "host_groups", "hosts", "vms", "rules"})
HOST_KEYS = frozenset({"name", "cpu_mhz", "memory_mib", "cpu", "datastores", "networks", "state", "power"})
CPU_KEYS = frozenset({"vendor", "generation"})
POWER_KEYS = frozenset({"idle_w", "max_w", "boot_s"})
VM_KEYS = frozenset(
    {
        "name",
        "host",
        "vcpus",
        "memory_mib",
        "cpu_demand_mhz",
        "memory_demand_mib",
        "dirty_rate_mibps",
        "datastores",
        "networks",
        "drs_enabled",
        "pinned",
        "devices",
        "linked_clone",
        "nonzero_mib",
    }
)
RULE_KEYS = frozenset({"name", "kind", "mode", "vms", "vm_group", "hosts", "host_group"})
POLICY_KEYS = frozenset({"drs", "dpm", "memory_overcommit", "imc", "migration"})
DRS_KEYS = frozenset({"enabled", "measure", "threshold"})
DPM_KEYS = frozenset({"enabled", "threshold", "target_utilization", "min_hosts_on"})
MIGRATION_KEYS = frozenset(
    {"network_gbps", "max_concurrent_per_host", "downtime_limit_ms", "hypervisor", "timeout_s"}
)

INVENTORY_SUFFIXES = (".yaml", ".yml", ".json")
THRESHOLD_MIN, THRESHOLD_MAX = 1, 5

# Bounds of the numeric fields (docs/inventory.md, "Bounds"). Each lies far beyond any real
# machine, so it never rejects a real inventory; together they keep every sum the solver forms
# over a 100,000-VM cluster far inside int64 and CP-SAT's integer range (Σ memory_mib over
# 100,000 VMs is about 1.1e14; a host's admitted memory is at most 1.1e11 MiB), which a single
# unbounded value (a demand of 2**62 MHz, an overcommit of 1e15) overflows.
MAX_CPU_MHZ = 10_000_000  # 10 THz: over twice an 8-socket server of 128 cores at 4 GHz
MAX_MEMORY_MIB = 2**30  # 1 PiB: over 20 times the largest single-system memory (48 TiB)
MAX_VCPUS = 16_384  # four times the most vCPUs any hypervisor gives one VM (KVM: 4,096)
MAX_GENERATION = 1_000_000  # an ordinal: room for years or model numbers used as generations
MAX_DIRTY_RATE_MIBPS = 10_000_000  # about 10 TiB/s, above any server's memory bandwidth
MAX_POWER_W = 100_000  # 100 kW: ten times the most power-hungry server, a whole rack's feed
MAX_BOOT_S = 86_400  # a day: the slowest large servers boot in well under an hour
MAX_MEMORY_OVERCOMMIT = 100.0  # page sharing, ballooning and compression reach 2 to 10 times
MAX_MIN_HOSTS_ON = 100_000  # more hosts than any cluster holds
MIN_NETWORK_GBPS = 0.01  # 10 Mbit/s: a 64 GiB VM takes 16 hours; keeps move times finite
MAX_NETWORK_GBPS = 10_000.0  # 10 Tbit/s: a dozen bonded 800 Gbit/s links
MAX_CONCURRENT_PER_HOST = 1_000  # hypervisors allow 4 to 16; a thousand would starve every move
MAX_DOWNTIME_LIMIT_MS = 2_000_000.0  # QEMU's own maximum downtime-limit (2,000 s)
MAX_MIGRATION_TIMEOUT_S = 604_800.0  # a week: no live migration runs that long

_HOST_STATES = tuple(s.value for s in HostState)
_RULE_KINDS = tuple(k.value for k in RuleKind)
_RULE_MODES = tuple(m.value for m in HostRuleMode)
_RUNNABLE_STATES = (HostState.UP, HostState.MAINTENANCE)  # a VM may currently run on these


@dataclass(frozen=True, slots=True)
class _Locator:
    """Names entries in messages: ``vm db-01`` for YAML/JSON, ``vms.csv line 7 (vm db-01)`` for CSV."""

    csv_lines: Mapping[str, Sequence[int]] | None = None

    def entry(self, section: str, index: int, name: str | None) -> str:
        label = f"{_SINGULAR[section]} {name}" if name else f"{section}[{index}]"
        if self.csv_lines is None:
            return label
        line = self.csv_lines[section][index]
        return f"{section}.csv line {line} ({label})" if name else f"{section}.csv line {line}"

    def position(self, section: str, index: int) -> str:
        """Where an entry is, independent of its name: ``vms[3]`` or ``vms.csv line 7``."""
        if self.csv_lines is None:
            return f"{section}[{index}]"
        return f"{section}.csv line {self.csv_lines[section][index]}"

    def part(self, name: str) -> str:
        """The entry naming a top-level part (``policy``, ``vm_groups``) of the inventory."""
        return f"{POLICY_YAML}: {name}" if self.csv_lines is not None else name

    @property
    def top(self) -> str:
        """The entry of a top-level field (``name``): the file holds it in YAML and JSON,
        ``policy.yaml`` does in the CSV form."""
        return POLICY_YAML if self.csv_lines is not None else ""


_SINGULAR = {"hosts": "host", "vms": "vm", "rules": "rule"}


# -- public entry points ------------------------------------------------------------------------


def read_inventory(path: str | Path) -> Instance:
    """Read and validate an inventory: a ``.yaml`` / ``.yml`` / ``.json`` file or a CSV folder."""
    source = Path(path)
    shown = str(path)
    if source.is_dir():
        p = Problems(shown)
        data, lines = read_csv_folder(source, p)
        return _parse(data, p, _Locator(lines))
    if source.suffix.lower() not in INVENTORY_SUFFIXES:
        if not source.exists():
            raise InputError([Problem(shown, "", "", "no such file or folder")])
        raise InputError(
            [Problem(shown, "", "", "unknown inventory format: expected .yaml, .yml, .json or a CSV folder")]
        )
    data = load_document(source, shown)
    return _parse(data, Problems(shown), _Locator())


def parse_inventory(data: Mapping[str, Any], source: str) -> Instance:
    """Validate an inventory already loaded as a mapping (``source`` names it in messages)."""
    return _parse(data, Problems(source), _Locator())


# -- the validator --------------------------------------------------------------------------------


def _parse(data: Any, p: Problems, loc: _Locator) -> Instance:
    if not isinstance(data, Mapping):
        p.add("", "", f"expected a mapping with hosts and vms at the top level, got {describe(data)}")
        p.raise_if_any()
    check_keys(p, "", data, TOP_KEYS)
    name = data.get("name")
    if name is None:
        name = Path(p.file).stem or "cluster"
    elif not isinstance(name, str) or not name:
        p.add(loc.top, "name", f"expected a non-empty string, got {describe(name)}")
        name = "cluster"
    elif (problem := cluster_name_problem(name)) is not None:
        p.add(loc.top, "name", problem)
        name = "cluster"

    policy = _policy(p, loc.part("policy"), data)
    hosts = _hosts(p, loc, data)
    vms = _vms(p, loc, data)
    host_index = {h.name: h for h in hosts}
    vm_names = {v.name for v, _ in vms}
    _check_imc_vendor(p, loc.part("policy"), policy, hosts)
    _check_placements(p, vms, host_index)
    vm_groups = _groups(p, loc, data, "vm_groups", vm_names, "VM")
    host_groups = _groups(p, loc, data, "host_groups", host_index.keys(), "host")
    rules = _rules(p, loc, data, vm_names, host_index.keys(), vm_groups, host_groups)
    p.raise_if_any()
    return Instance(
        name=name,
        hosts=tuple(hosts),
        vms=tuple(v for v, _ in vms),
        rules=tuple(rules),
        policy=policy,
        vm_groups=vm_groups,
        host_groups=host_groups,
    )


def _entries(p: Problems, data: Mapping[str, Any], section: str, required: bool) -> list[Any]:
    raw = data.get(section)
    if raw is None:
        if required:
            p.add("", section, "missing (required)")
        return []
    if not isinstance(raw, list | tuple):
        p.add("", section, f"expected a list, got {describe(raw)}")
        return []
    return list(raw)


def _entry_name(p: Problems, loc: _Locator, section: str, index: int, raw: Any) -> tuple[str, str | None]:
    """The entry label and the checked name of one list entry (``None`` when the name is bad)."""
    if not isinstance(raw, Mapping):
        entry = loc.entry(section, index, None)
        p.add(entry, "", f"expected a mapping, got {describe(raw)}")
        return entry, None
    value = raw.get("name")
    if type(value) is str and value:
        entry = loc.entry(section, index, value)
        return entry, check_name(p, entry, "name", value)
    entry = loc.entry(section, index, None)
    if value is None:
        p.add(entry, "name", "missing (required)")
        return entry, None
    return entry, check_name(p, entry, "name", value)


def _check_unique(p: Problems, seen: dict[str, str], name: str, entry: str, where: str, what: str) -> bool:
    first = seen.get(name)
    if first is not None:
        p.add(entry, "name", f"duplicate {what} name {name!r} (first defined at {first})")
        return False
    seen[name] = where
    return True


def _policy(p: Problems, entry: str, data: Mapping[str, Any]) -> Policy:
    m = get_mapping(p, entry, data, "policy", "policy")
    if m is None:
        return Policy()
    check_keys(p, entry, m, POLICY_KEYS)

    drs_m = get_mapping(p, entry, m, "drs", "drs") or {}
    check_keys(p, entry, drs_m, DRS_KEYS, "drs.")
    drs = DrsPolicy(
        enabled=get_bool(p, entry, drs_m, "enabled", d.DEFAULT_DRS_ENABLED, "drs.enabled"),
        measure=Measure(
            get_str(
                p,
                entry,
                drs_m,
                "measure",
                d.DEFAULT_DRS_MEASURE,
                choices=d.DRS_MEASURES,
                what="measure",
                field="drs.measure",
            )
            or d.DEFAULT_DRS_MEASURE
        ),
        threshold=_threshold(p, entry, drs_m, d.DEFAULT_DRS_THRESHOLD, "drs.threshold"),
    )

    dpm_m = get_mapping(p, entry, m, "dpm", "dpm") or {}
    check_keys(p, entry, dpm_m, DPM_KEYS, "dpm.")
    dpm = DpmPolicy(
        enabled=get_bool(p, entry, dpm_m, "enabled", d.DEFAULT_DPM_ENABLED, "dpm.enabled"),
        threshold=_threshold(p, entry, dpm_m, d.DEFAULT_DPM_THRESHOLD, "dpm.threshold"),
        target_utilization=_target_band(p, entry, dpm_m),
        min_hosts_on=get_int(
            p,
            entry,
            dpm_m,
            "min_hosts_on",
            d.DEFAULT_DPM_MIN_HOSTS_ON,
            minimum=0,
            maximum=MAX_MIN_HOSTS_ON,
            field="dpm.min_hosts_on",
        ),
    )

    # Below 1.0 would reserve host memory that no VM may use: not what the setting is for.
    overcommit = get_number(
        p,
        entry,
        m,
        "memory_overcommit",
        d.DEFAULT_MEMORY_OVERCOMMIT,
        minimum=1.0,
        maximum=MAX_MEMORY_OVERCOMMIT,
    )

    imc: CpuModel | None = None
    imc_m = get_mapping(p, entry, m, "imc", "imc")
    if imc_m is not None:
        check_keys(p, entry, imc_m, CPU_KEYS, "imc.")
        imc = CpuModel(
            vendor=get_str(p, entry, imc_m, "vendor", field="imc.vendor"),
            generation=get_int(
                p, entry, imc_m, "generation", minimum=0, maximum=MAX_GENERATION, field="imc.generation"
            ),
        )

    mig_m = get_mapping(p, entry, m, "migration", "migration") or {}
    check_keys(p, entry, mig_m, MIGRATION_KEYS, "migration.")
    timeout_s: float | None = None
    if mig_m.get("timeout_s") is not None:
        timeout_s = get_number(
            p,
            entry,
            mig_m,
            "timeout_s",
            positive=True,
            maximum=MAX_MIGRATION_TIMEOUT_S,
            field="migration.timeout_s",
        )
    migration = MigrationPolicy(
        network_gbps=get_number(
            p,
            entry,
            mig_m,
            "network_gbps",
            d.DEFAULT_NETWORK_GBPS,
            positive=True,
            minimum=MIN_NETWORK_GBPS,
            maximum=MAX_NETWORK_GBPS,
            field="migration.network_gbps",
        ),
        max_concurrent_per_host=get_int(
            p,
            entry,
            mig_m,
            "max_concurrent_per_host",
            d.DEFAULT_MAX_CONCURRENT_PER_HOST,
            minimum=1,
            maximum=MAX_CONCURRENT_PER_HOST,
            field="migration.max_concurrent_per_host",
        ),
        downtime_limit_ms=get_number(
            p,
            entry,
            mig_m,
            "downtime_limit_ms",
            d.DEFAULT_DOWNTIME_LIMIT_MS,
            positive=True,
            maximum=MAX_DOWNTIME_LIMIT_MS,
            field="migration.downtime_limit_ms",
        ),
        hypervisor=get_str(
            p,
            entry,
            mig_m,
            "hypervisor",
            d.DEFAULT_HYPERVISOR,
            choices=d.HYPERVISORS,
            what="hypervisor",
            field="migration.hypervisor",
        )
        or d.DEFAULT_HYPERVISOR,
        timeout_s=timeout_s,
    )
    return Policy(drs=drs, dpm=dpm, memory_overcommit=overcommit, imc=imc, migration=migration)


def _threshold(p: Problems, entry: str, m: Mapping[str, Any], default: int, field: str) -> int:
    return get_int(
        p, entry, m, "threshold", default, minimum=THRESHOLD_MIN, maximum=THRESHOLD_MAX, field=field
    )


def _target_band(p: Problems, entry: str, m: Mapping[str, Any]) -> tuple[float, float]:
    """DPM's target utilization band ``[low, high]`` with ``0 < low < high <= 1``."""
    field = "dpm.target_utilization"
    raw = m.get("target_utilization")
    if raw is None:
        return d.DEFAULT_DPM_TARGET_UTILIZATION
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        p.add(entry, field, f"expected [low, high], got {describe(raw)}")
        return d.DEFAULT_DPM_TARGET_UTILIZATION
    before = len(p.items)
    pair = {"low": raw[0], "high": raw[1]}
    low = get_number(p, entry, pair, "low", field=field)
    high = get_number(p, entry, pair, "high", field=field)
    if len(p.items) > before:
        return d.DEFAULT_DPM_TARGET_UTILIZATION
    if not 0.0 < low < high <= 1.0:
        p.add(entry, field, f"[{raw[0]!r}, {raw[1]!r}] does not satisfy 0 < low < high <= 1")
        return d.DEFAULT_DPM_TARGET_UTILIZATION
    return (low, high)


def _hosts(p: Problems, loc: _Locator, data: Mapping[str, Any]) -> list[Host]:
    raw_hosts = _entries(p, data, "hosts", required=True)
    if "hosts" in data and not raw_hosts and isinstance(data.get("hosts"), list | tuple):
        p.add("", "hosts", "no hosts: an inventory needs at least one")
    hosts: list[Host] = []
    seen: dict[str, str] = {}
    default_cpu = CpuModel(d.DEFAULT_CPU_VENDOR, d.DEFAULT_CPU_GENERATION)
    default_power = PowerModel()
    for i, m in enumerate(raw_hosts):
        entry, name = _entry_name(p, loc, "hosts", i, m)
        if not isinstance(m, Mapping):
            continue
        check_keys(p, entry, m, HOST_KEYS)
        cpu = default_cpu
        cpu_m = get_mapping(p, entry, m, "cpu", "cpu")
        if cpu_m is not None:
            check_keys(p, entry, cpu_m, CPU_KEYS, "cpu.")
            cpu = CpuModel(
                vendor=get_str(p, entry, cpu_m, "vendor", d.DEFAULT_CPU_VENDOR, field="cpu.vendor"),
                generation=get_int(
                    p,
                    entry,
                    cpu_m,
                    "generation",
                    d.DEFAULT_CPU_GENERATION,
                    minimum=0,
                    maximum=MAX_GENERATION,
                    field="cpu.generation",
                ),
            )
        power = default_power
        power_m = get_mapping(p, entry, m, "power", "power")
        if power_m is not None:
            check_keys(p, entry, power_m, POWER_KEYS, "power.")
            power = PowerModel(
                idle_w=get_number(
                    p,
                    entry,
                    power_m,
                    "idle_w",
                    d.DEFAULT_IDLE_W,
                    minimum=0,
                    maximum=MAX_POWER_W,
                    field="power.idle_w",
                ),
                max_w=get_number(
                    p,
                    entry,
                    power_m,
                    "max_w",
                    d.DEFAULT_MAX_W,
                    minimum=0,
                    maximum=MAX_POWER_W,
                    field="power.max_w",
                ),
                boot_s=get_number(
                    p,
                    entry,
                    power_m,
                    "boot_s",
                    d.DEFAULT_BOOT_S,
                    minimum=0,
                    maximum=MAX_BOOT_S,
                    field="power.boot_s",
                ),
            )
            if power.max_w < power.idle_w:
                p.add(entry, "power.max_w", f"{power.max_w:g} is below power.idle_w {power.idle_w:g}")
        state = get_str(p, entry, m, "state", HostState.UP.value, choices=_HOST_STATES, what="host state")
        host = Host(
            name=name or "",
            cpu_mhz=get_int(p, entry, m, "cpu_mhz", minimum=1, maximum=MAX_CPU_MHZ),
            memory_mib=get_int(p, entry, m, "memory_mib", minimum=1, maximum=MAX_MEMORY_MIB),
            cpu=cpu,
            datastores=frozenset(get_names(p, entry, m, "datastores")),
            networks=frozenset(get_names(p, entry, m, "networks")),
            state=HostState(state) if state else HostState.UP,
            power=power,
        )
        if name is not None and _check_unique(p, seen, name, entry, loc.position("hosts", i), "host"):
            hosts.append(host)
    return hosts


def _vms(p: Problems, loc: _Locator, data: Mapping[str, Any]) -> list[tuple[VM, str]]:
    """The VMs, each with its entry label (cross-reference checks report against it)."""
    vms: list[tuple[VM, str]] = []
    seen: dict[str, str] = {}
    dirty_default = d.DEFAULT_DIRTY_RATE_MIBPS
    drs_default = d.DEFAULT_DRS_ENABLED_FOR_VM
    for i, m in enumerate(_entries(p, data, "vms", required=True)):
        entry, name = _entry_name(p, loc, "vms", i, m)
        if not isinstance(m, Mapping):
            continue
        check_keys(p, entry, m, VM_KEYS)
        host = m.get("host")
        if host is not None:
            host = check_name(p, entry, "host", host)
        memory_mib = get_int(p, entry, m, "memory_mib", minimum=1, maximum=MAX_MEMORY_MIB)
        memory_demand_mib = get_int(p, entry, m, "memory_demand_mib", minimum=0, maximum=MAX_MEMORY_MIB)
        nonzero_mib: int | None = None
        if m.get("nonzero_mib") is not None:
            nonzero_mib = get_int(p, entry, m, "nonzero_mib", minimum=0, maximum=MAX_MEMORY_MIB)
        if memory_mib > 0:
            if memory_demand_mib > memory_mib:
                p.add(entry, "memory_demand_mib", f"{memory_demand_mib} exceeds memory_mib {memory_mib}")
            if nonzero_mib is not None and nonzero_mib > memory_mib:
                p.add(entry, "nonzero_mib", f"{nonzero_mib} exceeds memory_mib {memory_mib}")
        vm = VM(
            name=name or "",
            host=host,
            vcpus=get_int(p, entry, m, "vcpus", minimum=1, maximum=MAX_VCPUS),
            memory_mib=memory_mib,
            cpu_demand_mhz=get_int(p, entry, m, "cpu_demand_mhz", minimum=0, maximum=MAX_CPU_MHZ),
            memory_demand_mib=memory_demand_mib,
            dirty_rate_mibps=get_number(
                p, entry, m, "dirty_rate_mibps", dirty_default, minimum=0, maximum=MAX_DIRTY_RATE_MIBPS
            ),
            datastores=frozenset(get_names(p, entry, m, "datastores")),
            networks=frozenset(get_names(p, entry, m, "networks")),
            drs_enabled=get_bool(p, entry, m, "drs_enabled", drs_default),
            pinned=get_bool(p, entry, m, "pinned", False),
            devices=get_names(p, entry, m, "devices"),
            linked_clone=get_bool(p, entry, m, "linked_clone", False),
            nonzero_mib=nonzero_mib,
        )
        if name is not None and _check_unique(p, seen, name, entry, loc.position("vms", i), "VM"):
            vms.append((vm, entry))
    return vms


def _check_imc_vendor(p: Problems, entry: str, policy: Policy, hosts: Sequence[Host]) -> None:
    """An IMC baseline names the CPU vendor and generation of the cluster's hosts. A vendor no host
    has is a mistake (a typo, a case slip), not a setting: it would leave no host for any new VM;
    so is a generation above every host's."""
    imc = policy.imc
    if imc is None or not imc.vendor or not hosts:
        return
    vendors = sorted({h.cpu.vendor for h in hosts})
    if imc.vendor not in vendors:
        p.add(
            entry,
            "imc.vendor",
            f"no host has CPU vendor {imc.vendor!r}{suggest(imc.vendor, vendors)}; "
            f"the hosts have: {', '.join(vendors)}",
        )
        return
    # VMs run at the baseline's features, so only hosts at or above it may run them; a baseline
    # above every host would leave no host for any VM.
    newest = max(h.cpu.generation for h in hosts if h.cpu.vendor == imc.vendor)
    if imc.generation > newest:
        p.add(
            entry,
            "imc.generation",
            f"{imc.generation} is above every {imc.vendor} host's CPU generation (newest {newest}): "
            "no host could run the cluster's baseline",
        )


def _check_placements(p: Problems, vms: list[tuple[VM, str]], hosts: Mapping[str, Host]) -> None:
    for vm, entry in vms:
        if vm.host is None:
            continue
        host = hosts.get(vm.host)
        if host is None:
            p.add(entry, "host", f"unknown host {vm.host!r}{_suggest_name(vm.host, hosts)}")
        elif host.state not in _RUNNABLE_STATES:
            p.add(
                entry,
                "host",
                f"host {vm.host!r} is {host.state.value}: a VM can only be on an up or maintenance host",
            )


def _suggest_name(name: str, names: Collection[str]) -> str:
    # Only for small name sets: difflib over 100,000 VM names would be slow.
    return suggest(name, names) if len(names) <= 1000 else ""


def _groups(
    p: Problems,
    loc: _Locator,
    data: Mapping[str, Any],
    key: str,
    known: Collection[str],
    what: str,
) -> dict[str, tuple[str, ...]]:
    raw = get_mapping(p, loc.top, data, key, key)
    if raw is None:
        return {}
    entry = loc.part(key)
    groups: dict[str, tuple[str, ...]] = {}
    for group, members in raw.items():
        gname = check_name(p, entry, str(group), group)
        if gname is None:
            continue
        if members is None:  # get_names reads null as absent, but a group named with no list is a slip
            p.add(entry, gname, "expected a list of names, got null")
            continue
        names = get_names(p, entry, raw, group)
        if not isinstance(members, list | tuple):
            continue
        for member in names:
            if member not in known:
                p.add(entry, gname, f"unknown {what} {member!r}{_suggest_name(member, known)}")
        groups[gname] = names
    return groups


def _rules(
    p: Problems,
    loc: _Locator,
    data: Mapping[str, Any],
    vm_names: set[str],
    host_names: Collection[str],
    vm_groups: Mapping[str, tuple[str, ...]],
    host_groups: Mapping[str, tuple[str, ...]],
) -> list[Rule]:
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    # A VM may be in at most one affinity and one anti-affinity rule (docs/inventory.md).
    member_of: dict[RuleKind, dict[str, str]] = {RuleKind.AFFINITY: {}, RuleKind.ANTI_AFFINITY: {}}
    for i, m in enumerate(_entries(p, data, "rules", required=False)):
        entry, name = _entry_name(p, loc, "rules", i, m)
        if not isinstance(m, Mapping):
            continue
        check_keys(p, entry, m, RULE_KEYS)
        kind_text = get_str(p, entry, m, "kind", choices=_RULE_KINDS, what="rule kind")
        kind = RuleKind(kind_text) if kind_text else None
        vms, vm_group = _rule_side(p, entry, m, "vms", "vm_group", vm_groups, vm_names, "VM")

        mode: HostRuleMode | None = None
        hosts: tuple[str, ...] = ()
        host_group: str | None = None
        if kind is RuleKind.VM_HOST:
            mode_text = get_str(p, entry, m, "mode", choices=_RULE_MODES, what="mode")
            mode = HostRuleMode(mode_text) if mode_text else None
            hosts, host_group = _rule_side(
                p, entry, m, "hosts", "host_group", host_groups, host_names, "host"
            )
        elif kind is not None:
            for key in ("mode", "hosts", "host_group"):
                if key in m:
                    p.add(entry, key, f"only vm_host rules take {key}, not {kind.value} rules")

        field = "vm_group" if vm_group is not None else "vms"
        if kind is RuleKind.AFFINITY and 0 < len(vms) < 2:
            p.add(entry, field, f"an affinity rule needs at least two VMs, got {len(vms)}")
        owners = member_of.get(kind) if kind is not None else None
        if owners is not None and kind is not None and name is not None:
            for vm in vms:
                other = owners.get(vm)
                if other is not None and other != name:
                    p.add(entry, field, f"VM {vm!r} is already in {kind.value} rule {other!r}")
                else:
                    owners[vm] = name
        if (
            name is None
            or kind is None
            or not _check_unique(p, seen, name, entry, loc.position("rules", i), "rule")
        ):
            continue
        rules.append(
            Rule(
                name=name,
                kind=kind,
                vms=vms,
                hosts=hosts,
                mode=mode,
                vm_group=vm_group,
                host_group=host_group,
            )
        )
    return rules


def _rule_side(
    p: Problems,
    entry: str,
    m: Mapping[str, Any],
    list_key: str,
    group_key: str,
    groups: Mapping[str, tuple[str, ...]],
    known: Collection[str],
    what: str,
) -> tuple[tuple[str, ...], str | None]:
    """The names one side of a rule covers, given as a list or as a group (exactly one of them)."""
    has_list = m.get(list_key) is not None
    has_group = m.get(group_key) is not None
    if has_list and has_group:
        p.add(entry, group_key, f"give {list_key} or {group_key}, not both")
        return (), None
    if has_group:
        group = check_name(p, entry, group_key, m[group_key])
        if group is None:
            return (), None
        if group not in groups:
            p.add(
                entry,
                group_key,
                f"unknown {group_key.replace('_', ' ')} {group!r}{_suggest_name(group, groups)}",
            )
            return (), group
        members = groups[group]
        if not members:
            p.add(entry, group_key, f"{group_key.replace('_', ' ')} {group!r} is empty")
        return members, group
    if not has_list:
        p.add(entry, list_key, f"missing: give {list_key} or {group_key}")
        return (), None
    names = get_names(p, entry, m, list_key)
    if isinstance(m[list_key], list | tuple) and not m[list_key]:
        p.add(entry, list_key, "must not be empty")
    for item in names:
        if item not in known:
            p.add(entry, list_key, f"unknown {what} {item!r}{_suggest_name(item, known)}")
    return names, None

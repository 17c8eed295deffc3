"""Writing an ``Instance`` back as an inventory: the exact inverse of ``read_inventory``.

Every field is written explicitly, defaults included, so that a written inventory keeps its
meaning even if a default in ``scheduler/model/defaults.py`` changes later. Sets (datastores,
networks) are written sorted, so that equal instances give identical files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from scheduler.io.atomic import atomic_write_text
from scheduler.io.csv_folder import write_csv_folder
from scheduler.io.yaml_json import dump_json, dump_yaml
from scheduler.model.host import Host
from scheduler.model.instance import Instance
from scheduler.model.policy import Policy
from scheduler.model.rules import Rule
from scheduler.model.vm import VM

InventoryFormat = Literal["yaml", "json", "csv"]

_ENTRY_LISTS = frozenset({"hosts", "vms", "rules"})


def _policy_to_dict(policy: Policy) -> dict[str, Any]:
    drs, dpm, mig = policy.drs, policy.dpm, policy.migration
    return {
        "drs": {"enabled": bool(drs.enabled), "measure": str(drs.measure), "threshold": int(drs.threshold)},
        "dpm": {
            "enabled": bool(dpm.enabled),
            "threshold": int(dpm.threshold),
            "target_utilization": [float(dpm.target_utilization[0]), float(dpm.target_utilization[1])],
            "min_hosts_on": int(dpm.min_hosts_on),
        },
        "memory_overcommit": float(policy.memory_overcommit),
        "imc": None
        if policy.imc is None
        else {"vendor": policy.imc.vendor, "generation": int(policy.imc.generation)},
        "migration": {
            "network_gbps": float(mig.network_gbps),
            "max_concurrent_per_host": int(mig.max_concurrent_per_host),
            "downtime_limit_ms": float(mig.downtime_limit_ms),
            "hypervisor": mig.hypervisor,
            "timeout_s": None if mig.timeout_s is None else float(mig.timeout_s),
        },
    }


def _host_to_dict(h: Host) -> dict[str, Any]:
    # int()/float() casts: instances built in code may carry numpy scalars, which no writer takes.
    return {
        "name": h.name,
        "cpu_mhz": int(h.cpu_mhz),
        "memory_mib": int(h.memory_mib),
        "cpu": {"vendor": h.cpu.vendor, "generation": int(h.cpu.generation)},
        "datastores": sorted(h.datastores),
        "networks": sorted(h.networks),
        "state": str(h.state),
        "power": {
            "idle_w": float(h.power.idle_w),
            "max_w": float(h.power.max_w),
            "boot_s": float(h.power.boot_s),
        },
    }


def _vm_to_dict(v: VM) -> dict[str, Any]:
    out: dict[str, Any] = {"name": v.name}
    if v.host is not None:  # no host: a new VM awaiting initial placement
        out["host"] = v.host
    out.update(
        vcpus=int(v.vcpus),
        memory_mib=int(v.memory_mib),
        cpu_demand_mhz=int(v.cpu_demand_mhz),
        memory_demand_mib=int(v.memory_demand_mib),
        dirty_rate_mibps=float(v.dirty_rate_mibps),
        datastores=sorted(v.datastores),
        networks=sorted(v.networks),
        drs_enabled=bool(v.drs_enabled),
        pinned=bool(v.pinned),
        devices=list(v.devices),
        linked_clone=bool(v.linked_clone),
    )
    if v.nonzero_mib is not None:
        out["nonzero_mib"] = int(v.nonzero_mib)
    return out


def _rule_to_dict(r: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {"name": r.name, "kind": str(r.kind)}
    if r.mode is not None:
        out["mode"] = str(r.mode)
    # A rule read from a group keeps the group's name; writing the group (not its members) keeps
    # the operator's wording on the way back.
    if r.vm_group is not None:
        out["vm_group"] = r.vm_group
    else:
        out["vms"] = list(r.vms)
    if r.host_group is not None:
        out["host_group"] = r.host_group
    elif r.hosts or r.mode is not None:
        out["hosts"] = list(r.hosts)
    return out


def inventory_to_dict(instance: Instance) -> dict[str, Any]:
    """The inventory mapping of an instance (docs/inventory.md shape); ``parse_inventory`` inverts it."""
    return {
        "name": instance.name,
        "policy": _policy_to_dict(instance.policy),
        "vm_groups": {name: list(members) for name, members in instance.vm_groups.items()},
        "host_groups": {name: list(members) for name, members in instance.host_groups.items()},
        "hosts": [_host_to_dict(h) for h in instance.hosts],
        "vms": [_vm_to_dict(v) for v in instance.vms],
        "rules": [_rule_to_dict(r) for r in instance.rules],
    }


def write_inventory(instance: Instance, path: str | Path, fmt: InventoryFormat = "yaml") -> None:
    """Write an instance as a YAML or JSON file or a CSV folder, atomically; ``read_inventory`` inverts it."""
    doc = inventory_to_dict(instance)
    if fmt == "yaml":
        atomic_write_text(path, dump_yaml(doc, _ENTRY_LISTS))
    elif fmt == "json":
        atomic_write_text(path, dump_json(doc, _ENTRY_LISTS))
    elif fmt == "csv":
        write_csv_folder(doc, Path(path))
    else:
        raise ValueError(f"unknown inventory format {fmt!r}: expected yaml, json or csv")

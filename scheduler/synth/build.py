"""Building the instance: turn the drawn columns, the rules and the placements into the model's
dataclasses (hosts, VMs, rules, groups, policy) and the witness into a name-to-name mapping."""

from __future__ import annotations

import numpy as np

from scheduler.model import (
    VM,
    CpuModel,
    DpmPolicy,
    DrsPolicy,
    Host,
    HostRuleMode,
    Instance,
    Measure,
    MigrationPolicy,
    Policy,
    PowerModel,
    Rule,
    RuleKind,
)
from scheduler.synth.columns import NEED_DMZ, NEED_ISLAND, STATE_OF_CODE, IntArray
from scheduler.synth.distributions import (
    BOOT_S_BASE,
    BOOT_S_PER_AGE,
    DEVICES,
    DYNAMIC_W_PER_CORE,
    IDLE_W_BASE,
    IDLE_W_PER_AGE,
    IDLE_W_PER_CORE,
    VENDORS,
)
from scheduler.synth.hosts import Hosts
from scheduler.synth.rules import RuleDraft
from scheduler.synth.spec import SynthSpec
from scheduler.synth.vms import Vms


def _names(prefix: str, stem: str, count: int, width: int = 0) -> list[str]:
    digits = max(width, len(str(count)))
    return [f"{prefix}{stem}-{i:0{digits}d}" for i in range(1, count + 1)]


def build(
    spec: SynthSpec,
    hosts: Hosts,
    vms: Vms,
    rules: list[RuleDraft],
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
        idle_w = IDLE_W_BASE + IDLE_W_PER_CORE * cores + IDLE_W_PER_AGE * age
        host_objs.append(
            Host(
                name=host_names[i],
                cpu_mhz=int(hosts.cpu_mhz[i]),
                memory_mib=int(hosts.memory_mib[i]),
                cpu=CpuModel(VENDORS[int(hosts.vendor[i])], int(hosts.generation[i])),
                datastores=frozenset(shared + ([island_ds] if has & NEED_ISLAND else [])),
                networks=frozenset(common_nets + ((dmz_net,) if has & NEED_DMZ else ())),
                state=STATE_OF_CODE[int(hosts.state[i])],
                power=PowerModel(
                    idle_w=idle_w,
                    max_w=idle_w + DYNAMIC_W_PER_CORE * cores,
                    boot_s=BOOT_S_BASE + BOOT_S_PER_AGE * age,
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
    island = (vms.need & NEED_ISLAND) > 0
    datastore_key = np.where(island, -1, vms.datastore).tolist()
    dmz = ((vms.need & NEED_DMZ) > 0).tolist()
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
            devices=DEVICES[i % len(DEVICES)] if immobile[i] == 1 else (),
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
        imc=CpuModel(VENDORS[0], int(hosts.generation.min())) if spec.imc else None,
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

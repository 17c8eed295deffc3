"""Migration compatibility: one test per reason a host is excluded, and the matrix's semantics."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import numpy as np
import pytest

from scheduler.compat import allowed_before_rules, compatibility, unmovable
from scheduler.model import VM, CpuModel, Host, HostRuleMode, HostState, Instance, Policy, Rule, RuleKind


def _host(
    name: str,
    *,
    vendor: str = "intel",
    generation: int = 3,
    datastores: Iterable[str] = ("ds-1",),
    networks: Iterable[str] = ("dvs-1",),
    state: str = "up",
) -> Host:
    return Host(
        name,
        10_000,
        16_384,
        CpuModel(vendor, generation),
        frozenset(datastores),
        frozenset(networks),
        HostState(state),
    )


def _vm(
    name: str,
    on: str | None,
    *,
    datastores: Iterable[str] = ("ds-1",),
    networks: Iterable[str] = ("dvs-1",),
    **flags: object,
) -> VM:
    return VM(
        name, on, 2, 1_024, 500, 512, datastores=frozenset(datastores), networks=frozenset(networks), **flags
    )  # type: ignore[arg-type]


def _instance(
    hosts: Sequence[Host], vms: Sequence[VM], rules: Sequence[Rule] = (), imc: CpuModel | None = None
) -> Instance:
    return Instance("compat", tuple(hosts), tuple(vms), tuple(rules), Policy(imc=imc))


def _row(inst: Instance, vm: str) -> list[str]:
    return compatibility(inst).allowed_hosts(vm)


def test_all_hosts_allowed_in_a_uniform_cluster() -> None:
    inst = _instance([_host("h1"), _host("h2")], [_vm("x", "h1")])
    compat = compatibility(inst)
    assert compat.allowed.tolist() == [[True, True]]
    assert compat.excluded_reasons("x") == {}
    assert not compat.allowed.flags.writeable


def test_storage_not_shared() -> None:
    inst = _instance(
        [_host("h1", datastores=["ds-1", "ds-2"]), _host("h2")], [_vm("x", "h1", datastores=["ds-1", "ds-2"])]
    )
    compat = compatibility(inst)
    assert compat.allowed_hosts("x") == ["h1"]
    assert compat.reasons("x", "h2") == ["storage not shared: h2 lacks datastore(s) ds-2"]
    assert [e.code for e in compat.explain("x", "h2")] == ["storage"]


def test_network_missing() -> None:
    inst = _instance(
        [_host("h1", networks=["dvs-1", "dvs-db"]), _host("h2")], [_vm("x", "h1", networks=["dvs-db"])]
    )
    assert compatibility(inst).reasons("x", "h2") == ["network missing: h2 lacks DVS/network(s) dvs-db"]


def test_cpu_vendor_must_match_the_current_host() -> None:
    inst = _instance([_host("h1"), _host("h2", vendor="amd", generation=9)], [_vm("x", "h1")])
    compat = compatibility(inst)
    assert compat.allowed_hosts("x") == ["h1"]
    assert compat.reasons("x", "h2") == ["CPU vendor amd differs from the current host's intel"]


def test_cpu_generation_without_imc_is_the_current_hosts() -> None:
    """From generation 3: up to 4 is fine, down to 2 is not."""
    inst = _instance([_host("h1"), _host("old", generation=2), _host("new", generation=4)], [_vm("x", "h1")])
    compat = compatibility(inst)
    assert compat.allowed_hosts("x") == ["h1", "new"]
    assert compat.reasons("x", "old") == ["CPU generation 2 below the current host's 3 (without IMC)"]


def test_cpu_generation_with_imc_is_the_imc_baseline() -> None:
    """IMC at generation 2 lets a VM from generation 3 go down to 2, but not to 1."""
    hosts = [_host("h1"), _host("g2", generation=2), _host("g1", generation=1)]
    inst = _instance(hosts, [_vm("x", "h1")], imc=CpuModel("intel", 2))
    compat = compatibility(inst)
    assert compat.allowed_hosts("x") == ["h1", "g2"]
    assert compat.reasons("x", "g1") == ["CPU generation 1 below the IMC baseline 2 (with IMC)"]


def test_maintenance_and_down_exclude_even_the_current_host_but_standby_does_not() -> None:
    hosts = [
        _host("m", state="maintenance"),
        _host("d", state="down"),
        _host("s", state="standby"),
        _host("u"),
    ]
    inst = _instance(hosts, [_vm("x", "m"), _vm("y", "u")])
    compat = compatibility(inst)
    assert compat.allowed_hosts("x") == ["s", "u"]
    assert compat.reasons("x", "m") == ["host m is in maintenance"]
    assert compat.reasons("y", "d") == ["host d is down"]
    assert compat.is_allowed("y", "s")


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ({"pinned": True}, "pinned to its host"),
        ({"devices": ("usb",)}, "has devices: usb"),
        ({"drs_enabled": False}, "DRS disabled for this VM"),
        ({"linked_clone": True}, "linked clone"),
    ],
)
def test_immobile_vm_may_only_stay(flags: dict[str, object], reason: str) -> None:
    inst = _instance([_host("h1"), _host("h2")], [_vm("x", "h1", **flags)])
    compat = compatibility(inst)
    assert compat.allowed_hosts("x") == ["h1"]
    assert compat.reasons("x", "h2")[0].startswith(reason)
    [stuck] = unmovable(inst, compat)
    assert stuck.vm == "x"
    assert stuck.reasons[0].startswith(reason)


def test_priority_one_rules_bind_every_host_including_the_current_one() -> None:
    """must {h2}: x may only be on h2 (not even stay on h1); must_not {h2}: y anywhere but h2."""
    rules = [
        Rule("lic", RuleKind.VM_HOST, ("x",), ("h2",), HostRuleMode.MUST),
        Rule("off", RuleKind.VM_HOST, ("y",), ("h2",), HostRuleMode.MUST_NOT),
        Rule("soft", RuleKind.VM_HOST, ("y",), ("h3",), HostRuleMode.SHOULD_NOT),  # P3: no effect here
    ]
    inst = _instance([_host("h1"), _host("h2"), _host("h3")], [_vm("x", "h1"), _vm("y", "h1")], rules)
    compat = compatibility(inst)
    assert compat.allowed_hosts("x") == ["h2"]
    assert compat.allowed_hosts("y") == ["h1", "h3"]
    assert compat.reasons("x", "h1") == ["priority-1 rule lic: x must run on h2"]
    assert compat.explain("y", "h2")[0].rule == "off"
    assert compat.reasons("y", "h2") == ["priority-1 rule off: y must not run on h2"]


def test_before_the_rules_only_compatibility_and_host_states_restrict() -> None:
    """Lifting the priority-1 rules frees x and y again, but not z (its datastore is only on
    h1) nor any VM from h3 (maintenance); with no priority-1 rule the matrix is the same."""
    rules = [
        Rule("lic", RuleKind.VM_HOST, ("x",), ("h2",), HostRuleMode.MUST),
        Rule("off", RuleKind.VM_HOST, ("y",), ("h2",), HostRuleMode.MUST_NOT),
    ]
    hosts = [_host("h1", datastores=("ds-1", "ds-2")), _host("h2"), _host("h3", state="maintenance")]
    vms = [_vm("x", "h1"), _vm("y", "h1"), _vm("z", "h1", datastores=("ds-2",))]
    inst = _instance(hosts, vms, rules)
    before = allowed_before_rules(inst, compatibility(inst))
    assert before.tolist() == [[True, True, False], [True, True, False], [True, False, False]]
    assert compatibility(inst).allowed[:2].tolist() == [[False, True, False], [True, False, False]]
    soft = _instance(hosts, vms, [Rule("s", RuleKind.VM_HOST, ("x",), ("h2",), HostRuleMode.SHOULD)])
    assert allowed_before_rules(soft).tolist() == before.tolist()
    assert allowed_before_rules(soft, compatibility(soft)).tolist() == before.tolist()


def test_current_host_stays_allowed_when_a_migration_there_would_be_refused() -> None:
    """x uses ds-2, which its own host h1 lacks: staying is allowed, moving to h2 (same) is not."""
    inst = _instance(
        [_host("h1"), _host("h2"), _host("h3", datastores=["ds-1", "ds-2"])],
        [_vm("x", "h1", datastores=["ds-2"])],
    )
    compat = compatibility(inst)
    assert compat.allowed_hosts("x") == ["h1", "h3"]
    assert compat.reasons("x", "h1") == []


def test_new_vm_without_imc_may_go_to_any_cpu() -> None:
    hosts = [_host("h1"), _host("a", vendor="amd", generation=1), _host("h3", datastores=["ds-9"])]
    inst = _instance(hosts, [_vm("n", None)])
    compat = compatibility(inst)
    assert compat.allowed_hosts("n") == ["h1", "a"]
    assert compat.reasons("n", "h3") == ["storage not shared: h3 lacks datastore(s) ds-1"]
    assert unmovable(inst, compat) == []  # new VMs are placed, never "unmovable"


def test_new_vm_with_imc_needs_its_vendor_and_generation() -> None:
    hosts = [_host("g3"), _host("g1", generation=1), _host("amd", vendor="amd", generation=5)]
    inst = _instance(hosts, [_vm("n", None, pinned=True)], imc=CpuModel("intel", 2))
    compat = compatibility(inst)
    assert compat.allowed_hosts("n") == ["g3"]  # pinned does not restrict initial placement
    assert compat.reasons("n", "g1") == ["CPU generation 1 below the IMC baseline 2 (with IMC)"]
    assert compat.reasons("n", "amd") == ["CPU vendor amd differs from the IMC vendor intel"]


def test_vm_with_no_other_compatible_host_is_unmovable_with_a_summary() -> None:
    hosts = [_host("h1", datastores=["ds-1", "ds-x"]), _host("h2"), _host("h3", state="maintenance")]
    inst = _instance(hosts, [_vm("x", "h1", datastores=["ds-x"]), _vm("y", "h1")])
    [stuck] = unmovable(inst)
    assert stuck.vm == "x"
    assert stuck.reasons[0].startswith("no compatible host other than its own")
    assert "storage not shared" in stuck.reasons[0]
    assert "maintenance" in stuck.reasons[0]


def test_explain_is_empty_exactly_where_allowed() -> None:
    """On a random mixed cluster the lazy reasons agree with the vectorized matrix, pair by pair."""
    rng = np.random.default_rng(3)
    states = ["up", "up", "up", "standby", "maintenance", "down"]
    hosts = [
        _host(
            f"h{i}",
            vendor=str(rng.choice(["intel", "amd"])),
            generation=int(rng.integers(1, 5)),
            datastores=[d for d in ("ds-1", "ds-2", "ds-3") if rng.random() < 0.7],
            networks=[n for n in ("dvs-1", "dvs-2") if rng.random() < 0.8],
            state=str(rng.choice(states)),
        )
        for i in range(12)
    ]
    vms = []
    for k in range(80):
        on = None if rng.random() < 0.1 else f"h{rng.integers(0, 12)}"
        vms.append(
            _vm(
                f"v{k}",
                on,
                datastores=[d for d in ("ds-1", "ds-2", "ds-3") if rng.random() < 0.3],
                networks=[n for n in ("dvs-1", "dvs-2") if rng.random() < 0.3],
                pinned=bool(rng.random() < 0.1),
            )
        )
    rules = [
        Rule("m", RuleKind.VM_HOST, ("v1", "v2", "v3"), ("h1", "h2"), HostRuleMode.MUST),
        Rule("n", RuleKind.VM_HOST, ("v3", "v4"), ("h2", "h5"), HostRuleMode.MUST_NOT),
    ]
    for imc in (None, CpuModel("intel", 2)):
        inst = _instance(hosts, vms, rules, imc)
        compat = compatibility(inst)
        for v in inst.vms:
            for h in inst.hosts:
                assert compat.is_allowed(v.name, h.name) == (compat.reasons(v.name, h.name) == []), (v, h)


def test_large_cluster_is_fast() -> None:
    """10,000 VMs × 128 hosts with mixed storage, networks and CPUs: well under a second."""
    rng = np.random.default_rng(5)
    hosts = [
        _host(
            f"h{i}",
            generation=int(rng.integers(2, 5)),
            datastores=[f"ds-{i % 8}", "ds-shared"],
            networks=["dvs-1", f"dvs-{i % 4}"],
        )
        for i in range(128)
    ]
    vms = [
        _vm(
            f"v{k}",
            f"h{rng.integers(0, 128)}",
            datastores=[f"ds-{rng.integers(0, 8)}"],
            networks=["dvs-1"],
            pinned=bool(rng.random() < 0.01),
        )
        for k in range(10_000)
    ]
    inst = _instance(hosts, vms)
    inst.current_host  # noqa: B018 (index columns are built by the reader, not by compatibility)
    start = time.perf_counter()
    compat = compatibility(inst)
    assert time.perf_counter() - start < 1.0
    assert compat.allowed.shape == (10_000, 128)

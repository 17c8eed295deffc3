"""The fewest hosts on with compatibility respected: a hand case and brute force."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

from scheduler.check.bounds import l1_hosts_bound, lower_bounds
from scheduler.check.host_bound import _native_stdout_silenced, least_hosts_on
from scheduler.compat import compatibility
from scheduler.model import Instance

from .factories import host, make_instance, vm


def two_storage_islands() -> Instance:
    """h1, h2 see ds-a only, h3, h4 ds-b only; one small VM on each datastore. Together they fit
    one host (L1 says 1), but no host sees both datastores: 2."""
    hosts = [host(f"h{i}", datastores=("ds-a",) if i <= 2 else ("ds-b",)) for i in range(1, 5)]
    vms = [vm("a", "h1", datastores=("ds-a",)), vm("b", "h3", datastores=("ds-b",))]
    return make_instance(hosts, vms)


def test_storage_islands_need_a_host_each() -> None:
    inst = two_storage_islands()
    assert l1_hosts_bound(inst) == 1
    assert least_hosts_on(inst, compatibility(inst).allowed) == 2
    assert lower_bounds(inst)["hosts"]["best"] == 2


def test_a_host_under_an_immobile_vm_stays_on() -> None:
    """A pinned VM on h1 and on h2: both stay on though the load would fit one."""
    inst = make_instance([host("h1"), host("h2")], [vm("p", "h1", pinned=True), vm("q", "h2", pinned=True)])
    assert least_hosts_on(inst, compatibility(inst).allowed) == 2


def test_no_claim_when_demand_exceeds_the_target_on_every_host() -> None:
    """Two hosts at 90 % CPU: no placement keeps every host within an 81 % target, so the
    program has no point; the bound says nothing rather than more hosts than there are."""
    inst = make_instance([host("h1"), host("h2")], [vm(f"v{i}", f"h{i % 2 + 1}", 3_000) for i in range(6)])
    allowed = compatibility(inst).allowed
    assert least_hosts_on(inst, allowed, 0.81) == 0
    assert least_hosts_on(inst, allowed) == 2


def test_bound_never_exceeds_the_fewest_hosts_of_any_placement() -> None:
    """Random clusters of three hosts (two CPU generations, no IMC) and five VMs, some pinned:
    the bound (plain and at a DPM high target) is at most the fewest hosts any placement that
    respects compatibility and capacity uses, found by enumeration."""
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(60):
        hosts = [
            host(f"h{i}", int(rng.integers(4, 9)) * 1_000, int(rng.integers(4, 9)) * 1_024, generation=g)
            for i, g in enumerate((1, 3, 3))
        ]
        vms = [
            vm(
                f"v{j}",
                f"h{int(rng.integers(0, 3))}",
                int(rng.integers(1, 4)) * 600,
                int(rng.integers(1, 4)) * 1_024,
                pinned=bool(rng.random() < 0.15),
            )
            for j in range(5)
        ]
        inst = make_instance(hosts, vms)
        allowed = compatibility(inst).allowed
        for high in (None, 0.8):
            fewest = _fewest_hosts(inst, allowed, high)
            if fewest is None:
                continue
            checked += 1
            assert least_hosts_on(inst, allowed, high) <= fewest
    assert checked > 40


def _fewest_hosts(inst: Instance, allowed: np.ndarray, high: float | None) -> int | None:
    """The fewest distinct hosts of any placement within compatibility and capacity (None if
    there is none); pinned VMs stay where they are."""
    pinned = np.array([bool(v.immobility_reasons()) for v in inst.vms])
    cpu_cap = inst.host_cpu_mhz * (1.0 if high is None else high)
    best = None
    for plan in itertools.product(range(inst.num_hosts), repeat=inst.num_vms):
        p = np.array(plan)
        if np.any(p[pinned] != inst.current_host[pinned]) or not all(allowed[v, h] for v, h in enumerate(p)):
            continue
        if np.any(np.bincount(p, inst.vm_memory_mib, inst.num_hosts) > inst.host_memory_admission_mib):
            continue
        if np.any(np.bincount(p, inst.vm_cpu_demand_mhz, inst.num_hosts) > cpu_cap):
            continue
        if high is not None and np.any(
            np.bincount(p, inst.vm_memory_demand_mib, inst.num_hosts) > high * inst.host_memory_mib
        ):
            continue
        used = len(set(plan))
        best = used if best is None else min(best, used)
    return best


def test_what_native_code_prints_during_the_program_is_not_shown(capfd: pytest.CaptureFixture[str]) -> None:
    """The HiGHS inside SciPy now and then prints a debug line straight to file descriptor 1
    during a MIP; it must not reach ``scheduler plan``'s output. Output before and after the
    program goes through as usual."""
    print("before", flush=True)
    with _native_stdout_silenced():
        os.write(1, b"HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();\n")
    print("after", flush=True)
    assert capfd.readouterr().out == "before\nafter\n"

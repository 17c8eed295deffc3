"""Landing moving VMs where they balance best: greedy fill, exchanges, limits and failure."""

from __future__ import annotations

import numpy as np
from check.factories import host, make_instance, vm

from scheduler.compat import compatibility
from scheduler.heuristics.landing import LandingLimits, land_vms
from scheduler.model import NO_HOST, Instance


def land(
    inst: Instance,
    moving: list[str],
    resources: tuple[str, ...] = ("cpu",),
    cpu_peak: float | None = None,
    allowed: np.ndarray | None = None,
) -> np.ndarray | None:
    """Unplace ``moving`` from today's placement and land them over every host."""
    vms = np.array([inst.vm_index[name] for name in moving], dtype=np.int64)
    start = inst.current_host.copy()
    start[vms] = NO_HOST
    limits = LandingLimits(inst.host_cpu_mhz.astype(np.float64), np.full(inst.num_hosts, np.inf), cpu_peak)
    return land_vms(
        inst,
        start,
        vms,
        compatibility(inst).allowed if allowed is None else allowed,
        np.ones(inst.num_hosts, dtype=np.bool_),
        resources,
        np.full(len(resources), 0.05),
        limits,
    )


def cpu_loads(inst: Instance, assignment: np.ndarray) -> list[int]:
    return [int(x) for x in np.bincount(assignment, inst.vm_cpu_demand_mhz, inst.num_hosts)]


def test_an_exchange_finishes_what_largest_first_leaves() -> None:
    """3,000, 3,000, 2,000, 2,000 and 2,000 MHz onto two empty hosts: largest first ends at
    7,000 / 5,000, where no single VM's move helps; exchanging a 3,000 for a 2,000 gives
    6,000 / 6,000."""
    sizes = [3_000, 3_000, 2_000, 2_000, 2_000]
    inst = make_instance(
        [host("h1"), host("h2"), host("home", cpu_mhz=20_000)],
        [vm(f"v{i}", "home", size) for i, size in enumerate(sizes)],
    )
    allowed = compatibility(inst).allowed.copy()
    allowed[:, inst.host_index["home"]] = False  # they all leave home
    home_off = np.array([True, True, False])
    vms = np.arange(len(sizes), dtype=np.int64)
    start = np.full(inst.num_vms, NO_HOST, dtype=np.int64)
    limits = LandingLimits(inst.host_cpu_mhz.astype(np.float64), np.full(3, np.inf))
    result = land_vms(inst, start, vms, allowed, home_off, ("cpu",), np.array([0.05]), limits)
    assert result is not None
    assert cpu_loads(inst, result)[:2] == [6_000, 6_000]


def test_the_cpu_peak_cap_overrules_memory_balance() -> None:
    """h1: CPU 0.5, memory 2 GiB; h2: CPU 0.3, memory 10 GiB. The VM (1,000 MHz, 4 GiB, leaving
    src) balances memory on h1, but there its CPU would be 0.6, above a 0.55 cap: it lands on
    h2."""
    hosts = [host("h1"), host("h2"), host("src")]
    vms = [
        vm("h1-load", "h1", 5_000, 2_048),
        vm("h2-load", "h2", 3_000, 10_240),
        vm("src-load", "src", 4_000, 6_000),
        vm("mover", "src", 1_000, 4_096),
    ]
    inst = make_instance(hosts, vms)
    mover = inst.vm_index["mover"]
    allowed = compatibility(inst).allowed.copy()
    allowed[mover, inst.host_index["src"]] = False
    free = land(inst, ["mover"], ("cpu", "memory"), allowed=allowed)
    capped = land(inst, ["mover"], ("cpu", "memory"), cpu_peak=0.55, allowed=allowed)
    assert free is not None
    assert capped is not None
    assert free[mover] == inst.host_index["h1"]
    assert capped[mover] == inst.host_index["h2"]


def test_compatibility_decides_where_a_vm_may_land() -> None:
    inst = make_instance(
        [host("h1"), host("h2"), host("h3")],
        [vm("busy", "h1", 8_000), vm("mover", "h1", 1_000)],
    )
    allowed = compatibility(inst).allowed.copy()
    allowed[inst.vm_index["mover"], inst.host_index["h3"]] = False
    result = land(inst, ["mover"], allowed=allowed)
    assert result is not None
    assert result[inst.vm_index["mover"]] == inst.host_index["h2"]


def test_a_vm_that_fits_nowhere_fails_the_landing() -> None:
    """8 GiB configured on hosts of 16 GiB that already hold 12 GiB each."""
    inst = make_instance(
        [host("h1"), host("h2")],
        [vm("full1", "h1", 1_000, 12_288), vm("full2", "h2", 1_000, 12_288), vm("big", "h1", 1_000, 8_192)],
    )
    allowed = compatibility(inst).allowed
    vms = np.array([inst.vm_index["big"]], dtype=np.int64)
    start = inst.current_host.copy()
    start[vms] = NO_HOST
    limits = LandingLimits(inst.host_cpu_mhz.astype(np.float64), np.full(2, np.inf))
    on = np.ones(2, dtype=np.bool_)
    assert land_vms(inst, start, vms, allowed, on, ("cpu",), np.array([0.05]), limits) is None

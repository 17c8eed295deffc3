"""Per-host loads and the capacity rule (CPU demand; configured memory × overcommit)."""

from __future__ import annotations

import numpy as np

from scheduler.check import capacity_findings, host_loads, over_capacity, placement_indices
from scheduler.model import NO_HOST, Instance

from .factories import host, make_instance, vm


def test_loads_sum_the_vms_of_each_host(trio: Instance) -> None:
    """h1 = a + b, h2 = c, h3 = nothing."""
    loads = host_loads(trio, trio.current_host)
    assert loads.cpu_demand_mhz.tolist() == [8_000, 7_000, 0]
    assert loads.memory_configured_mib.tolist() == [8_192, 6_144, 0]
    assert loads.num_vms.tolist() == [2, 1, 0]
    assert capacity_findings(trio, loads) == []


def test_unplaced_and_unknown_hosts_count_nowhere(trio: Instance) -> None:
    """A placement naming a host that does not exist, or leaving a VM out, loads no host."""
    idx = placement_indices(trio, {"a": "h3", "b": "nowhere"})
    assert idx.tolist() == [2, NO_HOST, NO_HOST]
    assert host_loads(trio, idx).cpu_demand_mhz.tolist() == [0, 0, 4_000]


def test_cpu_over_capacity_is_reported_per_host(trio: Instance) -> None:
    """a, b and c on h1 make 15,000 MHz on a 10,000 MHz host (memory 14,336 MiB still fits)."""
    loads = host_loads(trio, placement_indices(trio, {"a": "h1", "b": "h1", "c": "h1"}))
    findings = capacity_findings(trio, loads)
    assert [(f.code, f.host) for f in findings] == [("capacity.cpu", "h1")]
    assert "15000 MHz exceeds 10000 MHz" in findings[0].message
    assert over_capacity(trio, loads).tolist() == [True, False, False]


def test_memory_counts_configured_size_and_overcommit() -> None:
    """Two 10 GiB VMs (demand 1 GiB) on a 16 GiB host: over at overcommit 1.0, fine at 1.5."""
    hosts = [host("h1", 100_000, 16_384)]
    vms = [
        vm("x", "h1", 100, 10_240, memory_demand_mib=1_024),
        vm("y", "h1", 100, 10_240, memory_demand_mib=1_024),
    ]
    strict = make_instance(hosts, vms)
    loads = host_loads(strict, strict.current_host)
    assert [f.code for f in capacity_findings(strict, loads)] == ["capacity.memory"]
    relaxed = make_instance(hosts, vms, memory_overcommit=1.5)
    assert capacity_findings(relaxed, host_loads(relaxed, relaxed.current_host)) == []


def test_exactly_full_host_is_within_capacity() -> None:
    """Load equal to capacity is allowed (≤, not <), also with a fractional overcommit limit."""
    inst = make_instance([host("h1", 2_000, 3_000)], [vm("x", "h1", 2_000, 3_300)], memory_overcommit=1.1)
    assert capacity_findings(inst, host_loads(inst, np.array([0]))) == []

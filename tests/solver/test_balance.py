"""The DRS level's numbers: allowance, peak caps and the penalty's value."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from check.factories import host, make_instance, vm

from scheduler.check.metrics import drs_tolerance
from scheduler.compat import compatibility
from scheduler.model import Instance
from scheduler.solver.balance import BalancePenalty, DrsBand


def four_hosts() -> Instance:
    """Four 10,000 MHz hosts and 22 VMs of 1,000 MHz (1,024 MiB), all on h1 to start with."""
    return make_instance([host(f"h{i}") for i in range(1, 5)], [vm(f"v{j}", "h1", 1_000) for j in range(22)])


def spread_as(inst: Instance, counts: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(counts)), counts).astype(np.int64)


def band_of(inst: Instance) -> DrsBand:
    movable = np.ones(inst.num_vms, dtype=np.bool_)
    return DrsBand(
        inst, ("cpu", "memory"), functools.partial(drs_tolerance, 3), compatibility(inst).allowed, movable
    )


def test_only_cpu_gets_a_peak_cap() -> None:
    """Least CPU peak 22 / 40 = 0.55, plus threshold 3's 0.1 on four hosts."""
    inst = four_hosts()
    caps = band_of(inst).peak_caps(np.ones(4, dtype=np.bool_))
    assert caps[0] == pytest.approx(0.65)
    assert np.isinf(caps[1])


def test_the_level_counts_a_host_above_its_peak_cap() -> None:
    """(7, 5, 5, 5) is within the allowance by its standard deviation (0.087 ≤ 0.1) but h1 is at
    0.7, above the cap 0.65; (6, 6, 5, 5) is within both."""
    inst = four_hosts()
    on = np.ones(4, dtype=np.bool_)
    band = band_of(inst)
    penalty = BalancePenalty.build(inst, ("cpu", "memory"), on, band)
    peaked = penalty.loads(spread_as(inst, [7, 5, 5, 5]))
    even = penalty.loads(spread_as(inst, [6, 6, 5, 5]))
    assert penalty.overshoot_of_loads(peaked)[0].tolist()[0] > 0
    assert penalty.overshoot_of_loads(peaked)[:, 1:].sum() == 0
    assert penalty.value_of_loads(peaked) > 0
    assert penalty.value_of_loads(even) == 0
    assert penalty.excess(spread_as(inst, [6, 6, 5, 5])) == 0

"""The DRS level's numbers: allowance, peak caps and the penalty's value."""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest
from check.factories import host, make_instance, vm
from ortools.sat.python import cp_model

from scheduler.check.metrics import drs_tolerance
from scheduler.compat import compatibility
from scheduler.model import Instance
from scheduler.solver.balance import NO_PEAK, PEAK_SLOPE, BalancePenalty, DrsBand, PenaltyVars


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
    peaked, even = spread_as(inst, [7, 5, 5, 5]), spread_as(inst, [6, 6, 5, 5])
    assert penalty.overshoot_of_raw(penalty.raw_loads(peaked))[0].tolist()[0] > 0
    assert penalty.overshoot_of_raw(penalty.raw_loads(peaked))[:, 1:].sum() == 0
    assert penalty.value_of_loads(penalty.loads(peaked), penalty.raw_loads(peaked)) > 0
    assert penalty.value_of_loads(penalty.loads(even), penalty.raw_loads(even)) == 0
    assert penalty.excess(even) == 0


def test_the_peak_cap_holds_on_megahertz_not_on_rounded_units() -> None:
    """Ten 1,000 MHz VMs on a 30,000 MHz host: 0.33333 in MHz, but the level's scaled loads round
    each VM to 333 units of 10,000 (the average host), so 0.3330 there. Under a cap of 0.3332 the
    host is within it in scaled units and 4 MHz above it in MHz: the level counts the overshoot."""
    inst = make_instance(
        [host("h1", 30_000), host("h2", 30_000)], [vm(f"v{i}", "h1", 1_000) for i in range(10)]
    )
    on = np.ones(2, dtype=np.bool_)
    band = DrsBand(
        inst, ("cpu",), lambda _hosts: 0.1, compatibility(inst).allowed, np.ones(10, dtype=np.bool_)
    )
    built = BalancePenalty.build(inst, ("cpu",), on, band)
    penalty = replace(built, peak=np.full((1, 2), int(0.3332 * 30_000)), budget=np.array([NO_PEAK]))
    assignment = inst.current_host.copy()
    assert penalty.loads(assignment)[0, 0] < 0.3332 * 10_000
    over = penalty.overshoot_of_raw(penalty.raw_loads(assignment))
    assert over[0].tolist() == [4 * int(penalty.peak_price[0, 0]), 0]
    assert penalty.excess(assignment) == over.sum()


def test_the_peak_term_prices_a_megahertz_as_the_scaled_units_it_stands_for() -> None:
    """On 10,000 MHz hosts one MHz is one scaled unit: the price is the steepest slope times the
    host's weight (16 for hosts of the average size)."""
    inst = four_hosts()
    penalty = BalancePenalty.build(inst, ("cpu", "memory"), np.ones(4, dtype=np.bool_), band_of(inst))
    assert penalty.peak_price[0].tolist() == [PEAK_SLOPE * 16] * 4
    assert not penalty.capped(1)
    assert penalty.capped(0)


def test_the_excess_domain_holds_any_placement_even_under_memory_overcommit() -> None:
    """Memory overcommit 10: ten 9,000 MiB guests on one 10,000 MiB host are at 9× its memory.
    That placement's penalty must fit the excess variable's domain, or the DRS level's model
    would forbid it outright (its bound assumed the load stays within 4× the capacity)."""
    guests = [vm(f"v{j}", "a", 100, 9_000) for j in range(10)]
    inst = make_instance(
        [host("a", memory_mib=10_000), host("b", memory_mib=10_000)], guests, memory_overcommit=10
    )
    on = np.ones(2, dtype=np.bool_)
    band = DrsBand(
        inst,
        ("memory",),
        functools.partial(drs_tolerance, 5),
        compatibility(inst).allowed,
        np.ones(10, np.bool_),
    )
    penalty = BalancePenalty.build(inst, ("memory",), on, band)
    today = inst.current_host
    loads, raw = penalty.loads(today), penalty.raw_loads(today)
    model = cp_model.CpModel()
    variables = PenaltyVars()
    per_host = [
        penalty.add_host_terms(model, 0, h, [], [], (int(loads[0, h]), int(raw[0, h])), str(h), variables)[0]
        for h in range(2)
    ]
    excess = penalty.add_excess(model, 0, sum(per_host), "memory")
    model.minimize(excess)
    solver = cp_model.CpSolver()
    assert solver.solve(model) == cp_model.OPTIMAL
    assert solver.value(excess) == penalty.excess(today) > 0

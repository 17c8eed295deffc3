"""The least migration seconds any plan needs to reach a balance: hand cases and brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from scheduler.check.migration_bound import fractional_departures, migration_bounds
from scheduler.compat import compatibility
from scheduler.model import Instance

from .factories import host, make_instance, vm


def bound(
    inst: Instance,
    cost: list[float],
    targets: list[tuple[str, float]],
    cpu_cap: float | None = None,
    whole_vms_s: float | None = None,
    must_leave: list[tuple[int, ...]] | None = None,
    movable: np.ndarray | None = None,
) -> float:
    movable = np.ones(inst.num_vms, dtype=np.bool_) if movable is None else movable
    on = np.ones(inst.num_hosts, dtype=np.bool_)
    allowed = compatibility(inst).allowed
    return migration_bounds(
        inst,
        np.array(cost),
        allowed,
        movable,
        on,
        targets,
        cpu_cap,
        whole_vms_s=whole_vms_s,
        must_leave=must_leave or (),
    ).whole


def four_on_one() -> Instance:
    """h1 runs four 1,000 MHz VMs (0.4), h2 none: std 0.2."""
    return make_instance([host("h1"), host("h2")], [vm(f"v{i}", "h1") for i in range(4)])


def test_the_cheapest_load_moves_first() -> None:
    """std ≤ 0.05 needs h2 ≥ 0.15: 1,500 MHz, the 1 s VM and half the 2 s one: 2 s."""
    assert bound(four_on_one(), [1, 2, 3, 4], [("cpu", 0.05)]) == pytest.approx(2.0, rel=1e-4)


def test_perfect_balance_needs_the_two_cheapest_whole() -> None:
    assert bound(four_on_one(), [1, 2, 3, 4], [("cpu", 0.0)]) == pytest.approx(3.0, rel=1e-4)


def test_nothing_to_move_when_already_within() -> None:
    assert bound(four_on_one(), [1, 2, 3, 4], [("cpu", 0.25)]) == 0.0


def test_a_vm_that_has_to_leave_is_paid_for_even_where_balance_asks_nothing() -> None:
    """Within 0.25 nothing moves for balance; one of v1 (2 s) and v3 (4 s) has to leave: 2 s, with
    whole departures too; v0 alone: its 1 s."""
    assert bound(four_on_one(), [1, 2, 3, 4], [("cpu", 0.25)], must_leave=[(1, 3)]) == pytest.approx(
        2.0, rel=1e-4
    )
    whole = bound(four_on_one(), [1, 2, 3, 4], [("cpu", 0.25)], whole_vms_s=5, must_leave=[(1, 3)])
    assert whole == pytest.approx(2.0, rel=1e-4)
    assert bound(four_on_one(), [1, 2, 3, 4], [("cpu", 0.25)], must_leave=[(0,)]) == pytest.approx(
        1.0, rel=1e-4
    )


def test_departures_add_to_what_balance_moves() -> None:
    """std ≤ 0.05 moves v0 and half of v1 (2 s); v3 has to leave too, and its 1,000 MHz on h2 is
    then most of what the balance asks: v3 whole and half of v0 (4.5 s)."""
    assert bound(four_on_one(), [1, 2, 3, 4], [("cpu", 0.05)], must_leave=[(3,)]) == pytest.approx(
        4.5, rel=1e-4
    )


def test_no_plan_moves_a_vm_that_cannot_move() -> None:
    """A set whose only VM cannot move: no plan keeps the rule that asks for it."""
    held = np.array([True, False, True, True])
    assert bound(four_on_one(), [1, 2, 3, 4], [("cpu", 0.25)], must_leave=[(1,)], movable=held) == math.inf


def test_cpu_cap_can_cost_more_than_the_balance() -> None:
    """std ≤ 0.2 holds today, but a cap of 0.25 takes 1,500 MHz off h1 again: 2 s."""
    assert bound(four_on_one(), [1, 2, 3, 4], [("cpu", 0.2)], cpu_cap=0.25) == pytest.approx(2.0, rel=1e-4)


def test_whole_vms_pay_for_the_second_vm() -> None:
    """h2 needs 1,500 MHz: the relaxation moves the 1 s VM and half the 2 s one (2 s); whole VMs
    move both (3 s), and the half cannot land back on h1 to make up the difference."""
    assert bound(four_on_one(), [1, 2, 3, 4], [("cpu", 0.05)], whole_vms_s=10) == pytest.approx(3.0, rel=1e-4)
    assert bound(four_on_one(), [1, 2, 3, 4], [("cpu", 0.2)], cpu_cap=0.25, whole_vms_s=10) == pytest.approx(
        3.0, rel=1e-4
    )


def test_no_whole_plan_splits_three_vms_evenly() -> None:
    """Three alike VMs on two alike hosts: the relaxation moves one and a half (a perfect
    balance for 1.5 s); no plan of whole VMs reaches it at all."""
    three = make_instance([host("h1"), host("h2")], [vm(f"v{i}", "h1") for i in range(3)])
    assert bound(three, [1, 1, 1], [("cpu", 0.0)]) == pytest.approx(1.5, rel=1e-4)
    assert bound(three, [1, 1, 1], [("cpu", 0.0)], whole_vms_s=10) == float("inf")
    both = migration_bounds(
        three,
        np.ones(3),
        compatibility(three).allowed,
        np.ones(3, dtype=np.bool_),
        np.ones(2, dtype=np.bool_),
        [("cpu", 0.0)],
        whole_vms_s=10,
    )
    assert (both.relaxed, both.whole) == (pytest.approx(1.5, rel=1e-4), float("inf"))


def test_what_lands_carries_its_memory_with_its_cpu() -> None:
    """Moving a quarter of a (CPU-heavy) to h2 brings 1 GiB with it; memory stays balanced only
    if about as much memory comes back from b (memory only). Without the coupling of what
    arrives, a's memory could "land" back home and the bound would be a's quarter alone."""
    inst = make_instance(
        [host("h1"), host("h2")],
        [vm("a", "h1", 4_000, 4_096), vm("b", "h2", 1, 4_096)],
    )
    cpu_only = bound(inst, [4, 4], [("cpu", 0.1)])
    both = bound(inst, [4, 4], [("cpu", 0.1), ("memory", 0.01)])
    assert cpu_only == pytest.approx(1.0, rel=1e-3)
    # y_a ≥ 0.25 (CPU), and 4 GiB·(y_a − y_b) ≤ 0.16 GiB (memory std ≤ 0.01 of 16 GiB): y_b ≥ 0.21.
    assert both == pytest.approx(4 * 0.25 + 4 * 0.21, rel=1e-2)


def test_bound_never_exceeds_the_cheapest_plan() -> None:
    """Random clusters of three hosts (two CPU generations, no IMC) and five VMs: the bound is at
    most the cheapest of all placements that reach the target, found by enumeration, and so is
    the bound with whole departures, which is never below the relaxation's."""
    rng = np.random.default_rng(7)
    tighter = 0
    for _ in range(40):
        hosts = [
            host(f"h{i}", int(rng.integers(6, 12)) * 1_000, int(rng.integers(8, 17)) * 1_024, generation=g)
            for i, g in enumerate((1, 3, 3))
        ]
        vms = [
            vm(
                f"v{j}",
                f"h{int(rng.integers(0, 3))}",
                int(rng.integers(1, 5)) * 500,
                int(rng.integers(1, 5)) * 1_024,
            )
            for j in range(5)
        ]
        inst = make_instance(hosts, vms)
        allowed = compatibility(inst).allowed
        if not all(allowed[v, inst.current_host[v]] for v in range(inst.num_vms)):
            continue
        cost = rng.uniform(1, 10, inst.num_vms)
        plans = [
            np.array(p)
            for p in itertools.product(range(3), repeat=inst.num_vms)
            if all(allowed[v, h] for v, h in enumerate(p))
        ]

        # Aim at what a random allowed placement reaches, so that some plan meets it.
        aim = plans[int(rng.integers(0, len(plans)))]
        targets = [(r, std(inst, aim, r) + 1e-9) for r in ("cpu", "memory")]
        best = min(
            float(cost[p != inst.current_host].sum())
            for p in plans
            if all(std(inst, p, r) <= t for r, t in targets)
        )
        relaxed = bound(inst, list(cost), targets)
        whole = bound(inst, list(cost), targets, whole_vms_s=10)
        both = migration_bounds(
            inst,
            cost,
            allowed,
            np.ones(5, dtype=np.bool_),
            np.ones(3, dtype=np.bool_),
            targets,
            whole_vms_s=10,
        )
        assert (both.relaxed, both.whole) == pytest.approx((relaxed, whole), rel=1e-9)  # one solve, same two
        assert relaxed <= whole + 1e-6
        assert whole <= best + 1e-6
        tighter += whole > relaxed + 1e-6
    assert tighter >= 10  # whole departures do bite on such small clusters


def std(inst: Instance, plan: np.ndarray, resource: str) -> float:
    demand, capacity = inst.balance_columns(resource)
    return float((np.bincount(plan, demand, inst.num_hosts) / capacity).std())


def test_no_plan_switches_off_a_host_under_a_vm_that_cannot_move() -> None:
    """h1 ends off, but its VM is pinned: no plan reaches that state."""
    inst = make_instance([host("h1"), host("h2")], [vm("p", "h1", pinned=True), vm("q", "h2")])
    movable = np.array([False, True])
    on = np.array([False, True])
    allowed = compatibility(inst).allowed
    assert migration_bounds(inst, np.ones(2), allowed, movable, on, [("cpu", 0.1)]).whole == float("inf")


def test_vms_on_a_host_that_ends_off_must_leave_it() -> None:
    """h1 ends off: its two VMs pay their seconds whatever the balance asks."""
    inst = make_instance([host("h1"), host("h2"), host("h3")], [vm("a", "h1"), vm("b", "h1"), vm("c", "h2")])
    on = np.array([False, True, True])
    allowed = compatibility(inst).allowed
    seconds = migration_bounds(
        inst, np.array([2.0, 3.0, 7.0]), allowed, np.ones(3, bool), on, [("cpu", 1.0)]
    ).whole
    assert seconds == pytest.approx(5.0, rel=1e-4)


def departures(
    inst: Instance, start: np.ndarray, cost: list[float], target: float, **kw: float
) -> np.ndarray | None:
    movable = np.ones(inst.num_vms, dtype=np.bool_)
    on = np.ones(inst.num_hosts, dtype=np.bool_)
    allowed = compatibility(inst).allowed
    return fractional_departures(inst, start, np.array(cost), allowed, movable, on, [("cpu", target)], **kw)


def test_departures_are_the_bound_s_choice_of_load() -> None:
    """The bound of 2 s moves the 1 s VM and half the 2 s one."""
    inst = four_on_one()
    share = departures(inst, inst.current_host, [1, 2, 3, 4], 0.05)
    assert share is not None
    assert share == pytest.approx([1.0, 0.5, 0.0, 0.0], abs=1e-6)


def test_departures_start_where_they_are_told() -> None:
    """From a start with two VMs on each host the balance holds: nothing leaves."""
    inst = four_on_one()
    start = np.array([0, 0, 1, 1])
    share = departures(inst, start, [1, 2, 3, 4], 0.05)
    assert share is not None
    assert not share.any()


def test_no_departures_without_time_for_one_lp_round() -> None:
    inst = four_on_one()
    assert departures(inst, inst.current_host, [1, 2, 3, 4], 0.05, time_limit_s=0.0) is None

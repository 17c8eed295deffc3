"""Tiny named instances for the optimizer's behavioural tests, and a quick way to plan them.

Unless a docstring says otherwise, hosts are 10,000 MHz / 16,384 MiB (Intel generation 3, on ds-1
and dvs-1), VMs use 1,024 MiB (memory demand = configured), DRS balances ``cpu_memory`` at
threshold 3 and DPM is off. DRS tolerance at threshold 3 is 0.1 × (5 − 3) / √N: 0.1414 on two up
hosts, 0.1155 on three. With 1,024 MiB VMs the memory imbalance stays small (one VM is 6.25 % of a
host's memory), so CPU decides what DRS does. Each docstring gives the numbers to check by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from check.factories import host, make_instance, vm

from scheduler.model import DpmPolicy, HostState, Instance
from scheduler.pipeline import PlanOutcome, make_plan
from scheduler.solver.options import SolveOptions

TIME_LIMIT_S = 3.0
WORKERS = 2

Planner = Callable[..., PlanOutcome]


def quick_options(**overrides: object) -> SolveOptions:
    """Options for tiny instances: a few seconds, two workers, fixed seed."""
    return replace(SolveOptions(time_limit_s=TIME_LIMIT_S, num_workers=WORKERS, seed=0), **overrides)


@pytest.fixture
def plan_of() -> Planner:
    """``plan_of(instance, **options)``: the verified plan outcome under quick options."""

    def run(instance: Instance, **overrides: object) -> PlanOutcome:
        return make_plan(instance, quick_options(**overrides))

    return run


@pytest.fixture
def hot_pair() -> Instance:
    """h1 runs a and b (4,000 MHz each: 80 % CPU), h2 is empty.

    CPU imbalance = std(0.8, 0) = 0.4 > 0.1414: DRS moves one of them to h2 (40 % / 40 %, std 0).
    """
    return make_instance([host("h1"), host("h2")], [vm("a", "h1", 4_000), vm("b", "h1", 4_000)])


@pytest.fixture
def cool_pair() -> Instance:
    """h1 runs a and b (1,000 MHz each: 20 % CPU), h2 is empty.

    CPU imbalance = std(0.2, 0) = 0.1, memory std(0.125, 0) = 0.0625, both ≤ 0.1414: balanced,
    so without rules nothing moves; only a rule can make a VM go to h2.
    """
    return make_instance([host("h1"), host("h2")], [vm("a", "h1", 1_000), vm("b", "h1", 1_000)])


@pytest.fixture
def balanced() -> Instance:
    """h1 runs a, h2 runs b, 3,000 MHz each: imbalance 0, nothing to do."""
    return make_instance([host("h1"), host("h2")], [vm("a", "h1", 3_000), vm("b", "h2", 3_000)])


@pytest.fixture
def half_empty() -> Instance:
    """h1 runs a, h2 runs b, 2,000 MHz each (20 % CPU): DPM can empty one host.

    Both fit on one host at 40 % CPU, 12.5 % memory, within the DPM high target 81 %. DRS is
    balanced as it is (std 0), so with DPM off nothing moves; with DPM on one host goes to standby
    after its VM has left (one migration, then one ``power_off``).
    """
    return make_instance([host("h1"), host("h2")], [vm("a", "h1", 2_000), vm("b", "h2", 2_000)])


@pytest.fixture
def overloaded_with_standby() -> Instance:
    """h1 runs a, b, c (3,000 MHz each: 90 % CPU, above the DPM high target 81 %); h2 is in standby.

    With DPM on the band must hold, so h2 is powered on and at least one VM moves there after h2 has
    booted (300 s). With DPM off h2 stays off and h1, the only up host, is balanced with itself.
    """
    hosts = [host("h1"), host("h2", state=HostState.STANDBY)]
    return make_instance(hosts, [vm("a", "h1", 3_000), vm("b", "h1", 3_000), vm("c", "h1", 3_000)])


@pytest.fixture
def crowded() -> Instance:
    """h1 runs v1..v4 (2,000 MHz each: 80 % CPU), h2 and h3 are empty.

    Tolerance on three hosts: 0.1155. One move leaves (0.6, 0.2, 0) with std 0.249; two moves
    (0.4, 0.2, 0.2) std 0.094 — so an unconstrained plan makes at least two moves.
    """
    vms = [vm(f"v{i}", "h1", 2_000) for i in range(1, 5)]
    return make_instance([host("h1"), host("h2"), host("h3")], vms)


@pytest.fixture
def quiet_and_busy() -> Instance:
    """h1 runs quiet and busy (4,000 MHz, 2,048 MiB each), h2 is empty.

    Moving either one balances the cluster equally (40 % / 40 %); quiet dirties 1 MiB/s, busy
    400 MiB/s (still converging on a 10 Gbit/s link), so pre-copy moves quiet faster and the
    migration-cost level picks it.
    """
    vms = [
        replace(vm("quiet", "h1", 4_000, 2_048), dirty_rate_mibps=1.0),
        replace(vm("busy", "h1", 4_000, 2_048), dirty_rate_mibps=400.0),
    ]
    return make_instance([host("h1"), host("h2")], vms)


@pytest.fixture
def stubborn_pair() -> Instance:
    """Like ``hot_pair`` (80 % / 0 %), but a and b dirty 5,000 MiB/s each.

    A 10 Gbit/s link carries about 1,190 MiB/s, so neither live migration would converge: no
    balancing move is made although the cluster stays outside the DRS tolerance.
    """
    vms = [
        replace(vm("a", "h1", 4_000), dirty_rate_mibps=5_000.0),
        replace(vm("b", "h1", 4_000), dirty_rate_mibps=5_000.0),
    ]
    return make_instance([host("h1"), host("h2")], vms)


@pytest.fixture
def exact_packing() -> Callable[[int], Instance]:
    """``exact_packing(e_memory_mib)``: h1 and h2 with DPM's high target at 50 % (5,000 MHz).

    h1 runs a, b (2,000 MHz each) and e (1,100 MHz, ``e_memory_mib`` of memory: costly to move):
    5,100 MHz; h2 runs c (1,900) and d (3,000): 4,900 MHz. Both hosts must stay on (10,000 MHz of
    demand). Greedy repair sheds h1's cheapest VM first and finds room for none of them on h2
    (4,900 + 1,100 > 5,000); only an exact packing holds the target: {a, d} or {a, c, e} on one
    host, the rest on the other. With 8 GiB, e alone is over the memory half of the target.
    """

    def build(e_memory_mib: int) -> Instance:
        vms = [
            vm("a", "h1", 2_000),
            vm("b", "h1", 2_000),
            vm("e", "h1", 1_100, e_memory_mib),
            vm("c", "h2", 1_900),
            vm("d", "h2", 3_000),
        ]
        return make_instance(
            [host("h1"), host("h2")], vms, dpm=DpmPolicy(enabled=True, target_utilization=(0.2, 0.5))
        )

    return build

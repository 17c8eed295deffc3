"""DRS-style greedy balancing: the classic loop and its island-aware variant (the warm start)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from check.factories import host, make_instance, vm, vms_on

from scheduler.check.metrics import drs_tolerance
from scheduler.compat import compatibility
from scheduler.heuristics.drs_greedy import GreedyResult, _target_pool, greedy_balance
from scheduler.model import Instance


def islands() -> Instance:
    """n1..n4 (generation 3) run four 2,000 MHz VMs each: 0.8, equal, nothing to gain among them,
    and their VMs may not go to the older hosts. o1 (generation 1) runs five 1,000 MHz VMs (0.5),
    o2 one (0.1). The three hottest hosts are newer ones; only o1 can help o2."""
    hosts = [host(f"n{i}") for i in range(1, 5)] + [host("o1", generation=1), host("o2", generation=1)]
    vms = [vm(f"new{h}-{j}", f"n{h}", 2_000) for h in range(1, 5) for j in range(4)]
    vms += [vm(f"o1-{j}", "o1", 1_000) for j in range(5)] + [vm("o2-0", "o2", 1_000)]
    return make_instance(hosts, vms)


def balance(inst: Instance, tolerance: float | None = None, **options: Any) -> GreedyResult:
    """Greedy CPU balancing of every host from today's placement, at threshold 3's tolerance
    unless told otherwise."""
    return greedy_balance(
        inst,
        inst.current_host.copy(),
        compatibility(inst).allowed,
        np.ones(inst.num_hosts, dtype=np.bool_),
        ("cpu",),
        drs_tolerance(3, inst.num_hosts) if tolerance is None else tolerance,
        **options,
    )


def test_classic_loop_stops_when_the_hottest_hosts_cannot_help() -> None:
    result = balance(islands(), island_aware=False)
    assert result.moves == 0
    assert np.array_equal(result.assignment, islands().current_host)


def test_island_aware_loop_balances_the_older_island() -> None:
    """o1 → o2 twice: (0.5, 0.1) → (0.3, 0.3); the newer VMs stay on the newer hosts."""
    inst = islands()
    result = balance(inst, island_aware=True)
    assert result.moves == 2
    assignment = result.assignment
    o1, o2 = inst.host_index["o1"], inst.host_index["o2"]
    assert int((assignment == o1).sum()) == int((assignment == o2).sum()) == 3
    newer = np.array([v.name.startswith("new") for v in inst.vms])
    assert np.array_equal(assignment[newer], inst.current_host[newer])


def memory_full_pair() -> Instance:
    """h1 runs a1, a2 (3,000 MHz, 8 GiB each): CPU 0.6; h2 runs b1, b2 (500 MHz, 8 GiB each): 0.1.

    Both hosts' configured memory is full (16 GiB of 16), so no single move fits anywhere; trading
    a1 for b1 moves 2,500 MHz and leaves both hosts at 0.35."""
    vms = [vm(f"a{i}", "h1", 3_000, 8_192) for i in (1, 2)] + [vm(f"b{i}", "h2", 500, 8_192) for i in (1, 2)]
    return make_instance([host("h1"), host("h2")], vms)


def test_classic_loop_cannot_balance_full_hosts() -> None:
    assert balance(memory_full_pair(), island_aware=False).moves == 0


def test_a_pairwise_exchange_balances_full_hosts() -> None:
    inst = memory_full_pair()
    result = balance(inst, island_aware=True)
    assert result.moves == 2
    cpu = np.bincount(result.assignment, inst.vm_cpu_demand_mhz, inst.num_hosts)
    assert cpu.tolist() == [3_500, 3_500]


def test_an_exchange_brings_a_full_host_under_the_peak_cap() -> None:
    """The pair's std (0.25) is within a tolerance of 0.3, so only the cap of 0.5 asks for
    anything, and only an exchange can answer it: a1 for b1 leaves both hosts at 0.35."""
    inst = memory_full_pair()
    options: dict[str, Any] = {"island_aware": True, "beyond_tolerance": True}
    assert balance(inst, 0.3, **options).moves == 0
    result = balance(inst, 0.3, peak_cap=np.array([0.5]), **options)
    assert result.moves == 2
    cpu = np.bincount(result.assignment, inst.vm_cpu_demand_mhz, inst.num_hosts)
    assert cpu.tolist() == [3_500, 3_500]


def one_hot_host() -> Instance:
    """Four hosts run 9, 4, 5 and 4 VMs of 1,000 MHz: CPU (0.9, 0.4, 0.5, 0.4), mean 0.55.
    Threshold 3's tolerance on four hosts is 0.1: two moves off h1 reach std 0.087 with h1 at
    0.7; a peak cap of 0.65 takes a third."""
    hosts = [host(f"h{i}") for i in range(1, 5)]
    return make_instance(hosts, vms_on({"h1": 9, "h2": 4, "h3": 5, "h4": 4}))


def test_peak_cap_keeps_the_loop_going_until_no_host_is_above_it() -> None:
    inst = one_hot_host()
    plain = balance(inst)
    capped = balance(inst, peak_cap=np.array([0.65]))
    assert plain.moves == 2
    assert capped.moves == 3
    cpu = np.bincount(capped.assignment, inst.vm_cpu_demand_mhz, inst.num_hosts) / 10_000
    assert cpu.max() <= 0.65


def twin_islands() -> Instance:
    """Two islands of two hosts (generations 1 and 3, no IMC), each a hot host with six 1,000 MHz
    VMs and a cold one with two: one evaluation of the sources finds a helpful move in each."""
    hosts = [host("o1", generation=1), host("o2", generation=1), host("n1"), host("n2")]
    return make_instance(hosts, vms_on({"o1": 6, "o2": 2, "n1": 6, "n2": 2}))


def test_several_moves_per_step_reach_the_same_balance() -> None:
    """(0.6, 0.2, 0.6, 0.2) → (0.4, 0.4, 0.4, 0.4) either way: two moves in each island."""
    inst = twin_islands()
    for batch in (False, True):
        result = balance(inst, 0.0, island_aware=True, several_per_step=batch)
        assert result.moves == 4
        cpu = np.bincount(result.assignment, inst.vm_cpu_demand_mhz, inst.num_hosts)
        assert cpu.tolist() == [4_000] * 4


def hot_host_beside_a_cold_island() -> Instance:
    """n0 (generation 3) runs four 2,000 MHz VMs (0.8); n1..n3 one each (0.2); six older hosts
    o1..o6 one 1,000 MHz VM each (0.1), the coldest of all, where n0's VMs may not go."""
    hosts = [host(f"n{i}") for i in range(4)] + [host(f"o{i}", generation=1) for i in range(1, 7)]
    vms = [vm(f"n0-{j}", "n0", 2_000) for j in range(4)] + [vm(f"n{i}-0", f"n{i}", 2_000) for i in (1, 2, 3)]
    vms += [vm(f"o{i}-0", f"o{i}", 1_000) for i in range(1, 7)]
    return make_instance(hosts, vms)


def test_a_target_pool_is_drawn_from_the_hosts_the_vms_may_reach() -> None:
    """With one target per source, the pool for n0's VMs is the least loaded newer host, not an
    older one (colder, but out of reach): n0 sheds two VMs to newer hosts as without a pool (a
    third would only move the 0.2 above the mean to another host)."""
    inst = hot_host_beside_a_cold_island()
    whole = balance(inst, 0.05, island_aware=True)
    pooled = balance(inst, 0.05, island_aware=True, target_pool=1)
    assert whole.moves == pooled.moves == 2
    cpu = np.bincount(pooled.assignment, inst.vm_cpu_demand_mhz, inst.num_hosts)
    assert cpu[0] == 4_000
    assert sorted(cpu[1:4].tolist()) == [2_000, 4_000, 4_000]
    assert pooled.imbalance == pytest.approx(whole.imbalance)


def test_the_pool_holds_the_least_loaded_hosts_of_each_resource() -> None:
    """Per resource its share of the pool, the least loaded reachable hosts, their union in host
    order; every reachable host where there are no more than the pool holds."""
    u = np.array([[0.5, 0.1, 0.4, 0.3, 0.2, 0.9], [0.6, 0.7, 0.1, 0.8, 0.2, 0.05]])
    up = np.arange(6)
    every = np.ones(6, dtype=np.bool_)
    assert _target_pool(u, up, every, 2).tolist() == [1, 5]
    assert _target_pool(u, up, every, 4).tolist() == [1, 2, 4, 5]
    assert _target_pool(u, up, every, 6).tolist() == [0, 1, 2, 3, 4, 5]
    reachable = np.array([True, False, True, True, True, False])
    assert _target_pool(u, up, reachable, 2).tolist() == [2, 4]
    assert _target_pool(u, up, reachable, 3).tolist() == [2, 4]  # one each; the union is two
    assert _target_pool(u, up, reachable, 4).tolist() == [0, 2, 3, 4]

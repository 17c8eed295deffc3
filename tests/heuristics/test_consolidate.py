"""Greedy host emptying (the DPM warm start): whole affinity groups move, split groups and immobile
VMs pin their host, anti-affinity partners stay apart, and the tightest dimension decides best fit."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from check.factories import affinity, anti_affinity, host, make_instance, vm, vm_host

from scheduler.compat import compatibility
from scheduler.heuristics.consolidate import empty_hosts
from scheduler.model import VM, Instance, Rule

HIGH = 0.81  # the DPM high target of the defaults


def run(
    inst: Instance, min_hosts_on: int = 1, decidable: set[str] | None = None
) -> tuple[dict[str, str], set[str]]:
    """Empty what can be emptied (only the hosts of ``decidable`` when given); returns (VM → host,
    names of hosts left on)."""
    n = inst.num_hosts
    everything: npt.NDArray[np.bool_] = np.ones(n, dtype=np.bool_)
    may_go_off = everything if decidable is None else np.array([h.name in decidable for h in inst.hosts])
    movable = np.array([not v.immobility_reasons() for v in inst.vms], dtype=np.bool_)
    assignment, on = empty_hosts(
        inst,
        inst.current_host.copy(),
        everything,
        compatibility(inst).allowed,
        movable,
        HIGH,
        min_hosts_on,
        may_go_off,
    )
    placement = {v.name: inst.hosts[int(h)].name for v, h in zip(inst.vms, assignment, strict=True)}
    return placement, {inst.hosts[i].name for i in np.flatnonzero(on)}


def test_an_affinity_group_moves_as_one_and_its_host_goes_off() -> None:
    """h1, the less loaded host, holds the group {a, b} (1,000 MHz each); h2 has room for both: h1
    goes to standby and the group lands together on h2."""
    hosts = [host("h1"), host("h2")]
    vms = [vm("a", "h1", 1_000), vm("b", "h1", 1_000), vm("c", "h2", 3_000)]
    placement, on = run(make_instance(hosts, vms, [affinity("keep", "a", "b")]))
    assert on == {"h2"}
    assert placement["a"] == placement["b"] == "h2"


def test_a_split_affinity_group_keeps_its_hosts_on() -> None:
    """{a, b} is split over h1 and h2 (a broken priority-2 rule): emptying does not decide where
    the group goes, so h1 and h2 stay on; the lone VM on h3 moves and h3 goes off."""
    hosts = [host("h1"), host("h2"), host("h3")]
    vms = [vm("a", "h1", 1_000), vm("b", "h2", 1_000), vm("c", "h3", 500)]
    placement, on = run(make_instance(hosts, vms, [affinity("keep", "a", "b")]))
    assert on == {"h1", "h2"}
    assert (placement["a"], placement["b"]) == ("h1", "h2")


def test_a_group_too_big_for_any_other_host_stays() -> None:
    """{a, b} needs 6,000 MHz together; h2 already carries 4,000 of its 8,100 MHz high-target
    limit, so the group cannot follow, and c does not fit beside the group either: both stay on."""
    hosts = [host("h1"), host("h2")]
    vms = [vm("a", "h1", 3_000), vm("b", "h1", 3_000), vm("c", "h2", 4_000)]
    placement, on = run(make_instance(hosts, vms, [affinity("keep", "a", "b")]), min_hosts_on=1)
    assert on == {"h1", "h2"}
    assert placement == {"a": "h1", "b": "h1", "c": "h2"}


def test_anti_affinity_partners_are_not_put_together() -> None:
    """x on h1 and y on h2 must stay apart: neither host can be emptied into the other; the empty-able
    h3 (z) goes off onto either."""
    hosts = [host("h1"), host("h2"), host("h3")]
    vms = [vm("x", "h1", 1_000), vm("y", "h2", 1_000), vm("z", "h3", 500)]
    placement, on = run(make_instance(hosts, vms, [anti_affinity("apart", "x", "y")]))
    assert placement["x"] != placement["y"]
    assert len(on) == 2
    assert "h3" not in on


def test_best_fit_follows_the_tightest_dimension() -> None:
    """z leaves h3 and fits both others. By CPU h1 is the fuller (6,000 of 8,100 MHz allowed:
    0.74); by configured memory h2 is (14 of 16 GiB: 0.875). Best fit on the tightest dimension
    picks h2 and keeps h1's CPU room; h2 itself cannot be emptied (its VM's 14 GiB fit nowhere)."""
    hosts = [host("h1"), host("h2"), host("h3")]
    vms = [
        vm("cpu-heavy", "h1", 6_000, 4_096, memory_demand_mib=1_024),
        vm("memory-heavy", "h2", 1_000, 14_336, memory_demand_mib=1_024),
        vm("z", "h3", 500, 1_024, memory_demand_mib=512),
    ]
    placement, on = run(make_instance(hosts, vms))
    assert placement["z"] == "h2"
    assert on == {"h1", "h2"}


def test_immobile_residents_pin_their_host() -> None:
    hosts = [host("h1"), host("h2")]
    vms = [vm("p", "h1", 500, pinned=True), vm("q", "h2", 500)]
    placement, on = run(make_instance(hosts, vms))
    assert placement["p"] == "h1"
    assert on == {"h1"}  # h2 (q) was emptied onto h1 instead


def test_smallest_first_keeps_the_large_hosts_on() -> None:
    """big (20 GHz, 32 GiB) runs x (4 GiB); small1 and small2 (10 GHz, 16 GiB) run y and z (8 GiB
    each). Least loaded first empties big (x goes to a small host), and then neither small host
    can take the other's 8 GiB beside x: two hosts stay on. Smallest first empties small1 into
    small2 and small2 into big: one host on, the large one."""
    hosts = [
        host("big", 20_000, 32_768),
        host("small1", 10_000, 16_384),
        host("small2", 10_000, 16_384),
    ]
    vms = [
        vm("x", "big", 400, 4_096, memory_demand_mib=1_024),
        vm("y", "small1", 500, 8_192, memory_demand_mib=1_024),
        vm("z", "small2", 500, 8_192, memory_demand_mib=1_024),
    ]
    placement, on = run(make_instance(hosts, vms))
    assert on == {"big"}
    assert set(placement.values()) == {"big"}


def within_capacity(inst: Instance, placement: dict[str, str]) -> bool:
    """Configured memory within admission and CPU demand within DPM's high target, every host."""
    for h in inst.hosts:
        here = [v for v in inst.vms if placement[v.name] == h.name]
        if sum(v.memory_mib for v in here) > h.memory_mib:
            return False
        if sum(v.cpu_demand_mhz for v in here) > HIGH * h.cpu_mhz:
            return False
    return True


def empty_only_c(vms: list[VM], rules: list[Rule] | None = None) -> tuple[Instance, dict[str, str], set[str]]:
    """Hosts a, b, c (10,000 MHz, 16 GiB), only c allowed to go off: (instance, VM → host, on)."""
    inst = make_instance([host("a"), host("b"), host("c")], vms, rules or [])
    placement, on = run(inst, decidable={"c"})
    return inst, placement, on


def test_a_small_vm_moves_aside_to_make_room_for_a_large_one() -> None:
    """Only c may go off. Its 8 GiB VM fits neither a (6 GiB free) nor b (4 GiB free), though
    together they have the room: moving a's 2 GiB VM to b leaves a gap of 8 GiB on a."""
    vms = [
        vm("a-big", "a", 500, 8_192, memory_demand_mib=1_024),
        vm("a-small", "a", 500, 2_048, memory_demand_mib=512),
        vm("b-big", "b", 500, 12_288, memory_demand_mib=1_024),
        vm("c-big", "c", 500, 8_192, memory_demand_mib=1_024),
        vm("c-small", "c", 500, 2_048, memory_demand_mib=512),
    ]
    inst, placement, on = empty_only_c(vms)
    assert on == {"a", "b"}
    assert placement["c-big"] == "a"
    assert placement["a-small"] == "b"
    assert within_capacity(inst, placement)


def test_vms_trade_places_when_free_cpu_and_free_memory_sit_on_different_hosts() -> None:
    """Only c may go off; its VM needs 1,000 MHz and 6 GiB. a has the memory (6 GiB free) but not
    the CPU (600 MHz below the 8,100 MHz high target); b has the CPU but not the memory (2 GiB
    free), and b's other VM is pinned. Nothing of a fits elsewhere as things are, so a's CPU-heavy
    VM trades places with b's CPU-light 8 GiB one, and a takes c's VM."""
    vms = [
        vm("a-cpu-heavy", "a", 7_500, 10_240, memory_demand_mib=1_024),
        vm("b-light", "b", 600, 8_192, memory_demand_mib=1_024),
        vm("b-pinned", "b", 600, 6_144, memory_demand_mib=1_024, pinned=True),
        vm("c-vm", "c", 1_000, 6_144, memory_demand_mib=1_024),
    ]
    inst, placement, on = empty_only_c(vms)
    assert on == {"a", "b"}
    assert placement == {"a-cpu-heavy": "b", "b-light": "a", "b-pinned": "b", "c-vm": "a"}
    assert within_capacity(inst, placement)


def test_a_host_that_cannot_be_emptied_keeps_every_vm_where_it_was() -> None:
    """c's 8 GiB VM fits nowhere even with the others' small VMs moved aside (4 GiB free in
    all): no VM moves, not even those moved aside while trying."""
    vms = [
        vm("a-big", "a", 500, 12_288, memory_demand_mib=1_024),
        vm("a-small", "a", 500, 2_048, memory_demand_mib=512),
        vm("b-big", "b", 500, 14_336, memory_demand_mib=1_024),
        vm("c-big", "c", 500, 8_192, memory_demand_mib=1_024),
    ]
    inst, placement, on = empty_only_c(vms)
    assert on == {"a", "b", "c"}
    assert placement == {v.name: v.host for v in inst.vms}


def test_room_is_made_where_a_should_rule_holds_before_a_host_that_breaks_it() -> None:
    """Only c may go off. Its VM should run on a or c; it fits b as things are (10 GiB free) but
    not a (6 GiB free). Moving a VM of a aside to b makes room on a, which keeps the rule."""
    vms = [
        vm("a-big", "a", 500, 8_192, memory_demand_mib=1_024),
        vm("a-small", "a", 500, 2_048, memory_demand_mib=512),
        vm("b-vm", "b", 500, 6_144, memory_demand_mib=1_024),
        vm("c-ruled", "c", 500, 8_192, memory_demand_mib=1_024),
    ]
    inst, placement, on = empty_only_c(vms, [vm_host("keep-on-a", "should", ["c-ruled"], ["a", "c"])])
    assert on == {"a", "b"}
    assert placement["c-ruled"] == "a"
    assert within_capacity(inst, placement)


def test_a_host_on_standby_today_is_emptied_before_an_up_host() -> None:
    """h1 is up and runs a (1,000 MHz); h2 is on standby, and the warm start put the new VM n
    (2,000 MHz) there. Either host holds both; h1 is the less loaded, but emptying h2 keeps the
    host that is already up and boots nothing."""
    inst = make_instance(
        [host("h1"), host("h2", state="standby")], [vm("a", "h1", 1_000), vm("n", None, 2_000)]
    )
    start = np.array([0, 1])
    everything = np.ones(2, dtype=np.bool_)
    assignment, on = empty_hosts(
        inst, start, everything, compatibility(inst).allowed, everything, HIGH, 1, everything
    )
    assert on.tolist() == [True, False]
    assert assignment.tolist() == [0, 0]


def test_a_host_whose_cpu_limit_rounds_to_zero_is_full_not_nan() -> None:
    """h1 has 1 MHz: held to the high target its CPU limit is 0, and 0 / 0 made its fullness NaN
    (with a warning on stderr). b (no CPU demand) leaves it for h2, which is what emptying wants."""
    import warnings

    hosts = [host("h1", 1), host("h2")]
    vms = [vm("a", "h2", 100), vm("b", "h1", 0)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        placement, on = run(make_instance(hosts, vms))
    assert on == {"h2"}
    assert placement == {"a": "h2", "b": "h2"}

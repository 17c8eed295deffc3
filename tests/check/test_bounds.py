"""Lower bounds: fluid max utilization, Martello–Toth L1 / L2, rule- and pin-based host counts."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from scheduler.check import (
    anti_affinity_hosts_bound,
    compat_fluid_max_utilization_bound,
    fluid_max_utilization_bound,
    imbalance_floor,
    immobile_hosts_bound,
    l1_bound,
    l1_hosts_bound,
    l2_bound,
    l2_hosts_bound,
    lower_bounds,
    watts_lower_bound,
)
from scheduler.check.bounds import dpm_hosts_bound, imbalance_hosts, least_peak_of
from scheduler.compat import compatibility
from scheduler.model import CpuModel, DpmPolicy, HostState, Instance

from .factories import anti_affinity, host, make_instance, vm, vm_host


def test_fluid_bound_is_the_largest_vm_when_it_beats_the_average(trio: Instance) -> None:
    """15,000 MHz over 30,000 MHz averages 0.5, but c (7,000 MHz) alone fills 0.7 of any host."""
    assert fluid_max_utilization_bound(trio, "cpu") == pytest.approx(0.7)
    # memory demand 14,336 of 49,152 MiB = 0.2917; c alone 6,144 / 16,384 = 0.375
    assert fluid_max_utilization_bound(trio, "memory") == pytest.approx(0.375)


def test_fluid_bound_uses_the_best_allowed_host() -> None:
    """x (6,000 MHz) may only use the 10,000 MHz hosts (the big host lacks its datastore): 0.6, not 0.3."""
    hosts = [host("small", 10_000), host("big", 20_000, datastores=["other"])]
    inst = make_instance(hosts, [vm("x", "small", 6_000)])
    assert fluid_max_utilization_bound(inst, "cpu") == pytest.approx(0.6)


def test_compat_fluid_bound_sees_islands_the_plain_one_averages_away() -> None:
    """Two 10 GHz hosts; four 4 GHz VMs need ds-2, which only host a sees; one 1 GHz VM anywhere.

    Plain fluid: 17 / 20 GHz = 0.85. With compatibility the 16 GHz of ds-2 VMs must all go to a,
    and even fractionally a carries 16 GHz: U ≥ 1.6 (the instance is overloaded; the bound says so).
    """
    hosts = [host("a", 10_000, datastores=["ds-1", "ds-2"]), host("b", 10_000)]
    vms = [vm(f"x{i}", None, 4_000, datastores=["ds-2"]) for i in range(4)] + [vm("y", None, 1_000)]
    inst = make_instance(hosts, vms)
    assert fluid_max_utilization_bound(inst, "cpu") == pytest.approx(0.85)
    assert compat_fluid_max_utilization_bound(inst, "cpu") == pytest.approx(1.6)


def test_compat_fluid_bound_equals_plain_one_without_islands(trio: Instance) -> None:
    assert compat_fluid_max_utilization_bound(trio, "cpu") == pytest.approx(
        fluid_max_utilization_bound(trio, "cpu")
    )


def test_least_peak_of_holds_the_islands_and_the_largest_vm() -> None:
    """Hosts a, b (10 GHz) and c (5 GHz). Class 1 (7 GHz, in 1 GHz VMs) may use a only; class 2
    (5 GHz, in one 4 GHz and one 1 GHz VM) may use b and c. Fluid: a at 0.7; b and c share 5 GHz
    at 5/15 = 0.333. The 4 GHz VM alone fills b 0.4 at best: the least peak is 0.7. Without
    the islands every VM may go anywhere: 12 / 25 = 0.48, and the 4 GHz VM's 0.4 is lower."""
    allowed = np.array([[True, False, False]] * 7 + [[False, True, True]] * 2)
    demand = np.array([1_000] * 7 + [4_000, 1_000])
    capacity = np.array([10_000, 10_000, 5_000])
    assert least_peak_of(allowed, demand, capacity) == pytest.approx(0.7)
    assert least_peak_of(np.ones_like(allowed), demand, capacity) == pytest.approx(0.48)
    big = np.array([1_000] * 7 + [9_000, 1_000])
    assert least_peak_of(allowed, big, capacity) == pytest.approx(0.9)


def test_l1_with_identical_and_heterogeneous_bins() -> None:
    """Sizes summing to 25 need ceil(25/10) = 3 bins of 10; with bins 20, 5, 5, 5 one 20 + one 5 do."""
    sizes = np.array([5.0, 5.0, 5.0, 5.0, 5.0])
    assert l1_bound(sizes, np.full(4, 10.0)) == 3
    assert l1_bound(sizes, np.array([5.0, 20.0, 5.0, 5.0])) == 2
    assert l1_bound(sizes, np.full(2, 10.0)) == 3  # does not fit: more bins than exist
    assert l1_bound(np.array([]), np.full(2, 10.0)) == 0
    assert l1_bound(np.array([10.0, 10.0]), np.full(2, 10.0)) == 2  # exactly full


def test_l2_beats_l1_when_items_exceed_half_a_bin() -> None:
    """Three items of 6 in bins of 10: L1 = ceil(18/10) = 2 but no two share a bin, so L2 = 3."""
    sizes = np.array([6.0, 6.0, 6.0])
    assert l1_bound(sizes, np.full(3, 10.0)) == 2
    assert l2_bound(sizes, 10.0) == 3


def test_l2_counts_small_items_in_the_room_big_ones_leave() -> None:
    """Items 6, 6, 3, 3, 3, 3 in bins of 10: J2 = {6, 6} leaves 8 of room, J3 = 12 → 2 + ceil(4/10) = 3.

    At α = 3: same (J1 empty as 6 ≤ 7). L1 = ceil(24/10) = 3 too; the optimum is 3.
    """
    assert l2_bound(np.array([6.0, 6.0, 3.0, 3.0, 3.0, 3.0]), 10.0) == 3
    assert l2_bound(np.array([6.0, 6.0, 3.0, 3.0]), 10.0) == 2  # 3s fill the room next to the 6s


def test_l2_alpha_makes_j1_items_that_cannot_share() -> None:
    """Items 8, 8, 3, 3 in bins of 10: α = 3 makes the 8s J1 (> 10 − 3), the 3s cannot join them → 3."""
    assert l1_bound(np.array([8.0, 8.0, 3.0, 3.0]), np.full(4, 10.0)) == 3
    assert l2_bound(np.array([8.0, 8.0, 3.0, 3.0]), 10.0) == 3
    assert (
        l2_bound(np.array([8.0, 8.0, 3.0, 3.0, 3.0]), 10.0) == 3
    )  # L1 says 3 as well; L(3) = 2 + ceil(9/10)


def test_host_count_bounds_on_an_instance() -> None:
    """Four 6,000 MHz VMs on 10,000 MHz hosts: L1 = 3 (24,000 / 10,000), L2 = 4 (no two share)."""
    inst = make_instance([host(f"h{i}") for i in range(5)], [vm(f"v{i}", "h0", 6_000) for i in range(4)])
    assert l1_hosts_bound(inst) == 3
    assert l2_hosts_bound(inst) == 4


def test_dpm_target_shrinks_the_bins() -> None:
    """Ten 1,000 MHz VMs on 10,000 MHz hosts: 1 host at full capacity, 2 at DPM's 81 % target."""
    inst = make_instance(
        [host(f"h{i}") for i in range(3)], [vm(f"v{i}", "h0", 1_000, 100) for i in range(10)]
    )
    assert l1_hosts_bound(inst) == 1
    assert l1_hosts_bound(inst, dpm_target=True) == 2
    assert l2_hosts_bound(inst, dpm_target=True) == 2


def test_anti_affinity_and_immobile_bounds() -> None:
    """A rule over three VMs needs three hosts; pinned VMs on two hosts keep two hosts up."""
    vms = [vm("a", "h0"), vm("b", "h0"), vm("c", "h1", pinned=True), vm("d", "h2", devices=["usb"])]
    inst = make_instance([host(f"h{i}") for i in range(4)], vms, [anti_affinity("r", "a", "b", "c")])
    assert anti_affinity_hosts_bound(inst) == 3
    assert immobile_hosts_bound(inst) == 2


def test_dpm_hosts_bound_takes_the_target_and_immobile_vms_but_not_anti_affinity() -> None:
    """Ten 1,000 MHz VMs need 2 hosts at the 81 % target; pinned VMs on three more hosts keep
    those on too, though the program packs their load anyway: 3 hosts at least (the pinned
    hosts). An anti-affinity rule over four VMs would say 4, but priority-2 rules may yield, so
    the DPM level's bound leaves it out."""
    movers = [vm(f"v{i}", "h0", 1_000, 100) for i in range(10)]
    pinned = [vm(f"p{i}", f"h{i + 1}", 100, 100, pinned=True) for i in range(3)]
    inst = make_instance(
        [host(f"h{i}") for i in range(6)],
        movers + pinned,
        [anti_affinity("apart", "v0", "v1", "v2", "v3")],
        dpm=DpmPolicy(enabled=True),
    )
    allowed = compatibility(inst).allowed
    assert anti_affinity_hosts_bound(inst) == 4
    assert dpm_hosts_bound(inst, allowed) == 3


def test_watts_bound(trio: Instance) -> None:
    """Two hosts on at 100 W idle plus 15,000 MHz × 200 W / 10,000 MHz = 200 + 300 = 500 W."""
    assert watts_lower_bound(trio, 2) == pytest.approx(500.0)


def test_lower_bounds_document(trio: Instance) -> None:
    """The JSON document: best host count 2 (L1: 15,000 MHz on 10,000 MHz hosts; L2: c alone, a + b)."""
    inst = make_instance(trio.hosts, trio.vms, dpm=DpmPolicy(enabled=True, min_hosts_on=1))
    doc = json.loads(json.dumps(lower_bounds(inst)))
    assert doc["hosts"]["l1"] == 2
    assert doc["hosts"]["best"] == 2
    assert doc["hosts"]["min_hosts_on"] == 1
    assert doc["max_utilization"]["cpu"] == pytest.approx(0.7)
    assert doc["usable_hosts"] == 3
    assert doc["hosts"]["l2"] == 2
    assert doc["watts"] == pytest.approx(500.0)


def _optimal_bins(sizes: list[float], capacity: float) -> int:
    """Exact bin packing by exhaustive search (tiny inputs only)."""
    best = len(sizes)

    def place(i: int, loads: list[float]) -> None:
        nonlocal best
        if len(loads) >= best:
            return
        if i == len(sizes):
            best = len(loads)
            return
        for j in range(len(loads)):
            if loads[j] + sizes[i] <= capacity:
                loads[j] += sizes[i]
                place(i + 1, loads)
                loads[j] -= sizes[i]
        place(i + 1, [*loads, sizes[i]])

    place(0, [])
    return best


def test_l1_and_l2_never_exceed_the_optimum() -> None:
    """On 300 random tiny instances both bounds are at most the exact optimum, and L2 ≥ L1."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        sizes = sorted(rng.integers(1, 11, rng.integers(1, 8)).astype(float).tolist(), reverse=True)
        opt = _optimal_bins(sizes, 10.0)
        l1 = l1_bound(np.array(sizes), np.full(len(sizes), 10.0))
        l2 = l2_bound(np.array(sizes), 10.0)
        assert l1 <= l2 <= opt, sizes


def test_imbalance_floor_of_a_cold_older_island() -> None:
    """Older hosts o1, o2 (generation 1) cannot take the VMs of newer hosts n1, n2 (no IMC).

    The newer VMs (16 GHz) stay on n1, n2 (0.8 each); the 2 GHz of older VMs may go anywhere and
    do least harm on o1, o2 (0.1 each): utilization (0.1, 0.1, 0.8, 0.8), standard deviation 0.35
    — the threshold's tolerance (0.035 at threshold 4) is out of reach for every placement.
    """
    hosts = [host("o1", generation=1), host("o2", generation=1), host("n1"), host("n2")]
    vms = [vm(f"old{i}", "o1", 1_000) for i in range(2)]
    vms += [vm(f"new{i}", "n1" if i < 4 else "n2", 2_000) for i in range(8)]
    inst = make_instance(hosts, vms)
    assert imbalance_floor(inst, "cpu") == pytest.approx(0.35, rel=0.01)
    assert imbalance_floor(inst, "cpu") <= 0.35
    # With the cluster baseline (IMC) at generation 1 everything may go anywhere: no floor.
    with_imc = make_instance(hosts, vms, imc=CpuModel("intel", 1))
    assert imbalance_floor(with_imc, "cpu") == pytest.approx(0.0, abs=1e-9)
    assert lower_bounds(inst)["imbalance"]["cpu"] == pytest.approx(imbalance_floor(inst, "cpu"))


def test_imbalance_floor_never_exceeds_the_best_placement() -> None:
    """On 60 random tiny clusters with CPU-generation and datastore islands, the floor is at most
    the least standard deviation of any placement compatibility allows (found by enumeration)."""
    rng = np.random.default_rng(5)
    for trial in range(60):
        n_hosts, n_vms = int(rng.integers(2, 4)), int(rng.integers(1, 6))
        hosts = [
            host(
                f"h{i}",
                int(rng.choice([8_000, 10_000, 16_000])),
                generation=int(rng.integers(1, 4)),
                datastores=["ds-1", "ds-2"] if rng.random() < 0.5 else ["ds-1"],
            )
            for i in range(n_hosts)
        ]
        vms = [
            vm(
                f"v{j}",
                f"h{int(rng.integers(n_hosts))}",
                int(rng.integers(100, 5_000)),
                datastores=["ds-2"] if rng.random() < 0.3 else ["ds-1"],
            )
            for j in range(n_vms)
        ]
        inst = make_instance(hosts, vms)
        allowed = compatibility(inst).allowed
        options = [np.flatnonzero(row) for row in allowed]
        if any(len(o) == 0 for o in options):
            continue
        cap = inst.host_cpu_mhz.astype(float)
        best = min(
            float((np.bincount(choice, inst.vm_cpu_demand_mhz, n_hosts) / cap).std())
            for choice in (np.array(c) for c in itertools.product(*options))
        )
        assert imbalance_floor(inst, "cpu") <= best + 1e-9, trial


def test_imbalance_floor_finds_a_floor_finer_than_the_first_tangents() -> None:
    """A floor of 0.005, well inside the first LP's tangent spacing (0.05), where the tangents alone
    give 0. The newer hosts n1, n2 carry 2,400 MHz each that cannot leave; the 4,600 MHz of older
    VMs may go anywhere and best fill o1 and o2 to 0.23: (0.23, 0.23, 0.24, 0.24), std 0.005."""
    hosts = [host("o1", generation=1), host("o2", generation=1), host("n1"), host("n2")]
    vms = [vm(f"old{i}", "o1", 2_300) for i in range(2)]
    vms += [vm(f"new{i}", "n1" if i < 4 else "n2", 600) for i in range(8)]
    floor = imbalance_floor(make_instance(hosts, vms), "cpu")
    assert floor == pytest.approx(0.005, abs=5e-4)  # the loop stops within 0.0005 of its split
    assert floor <= 0.005


def _standby_island(dpm: bool) -> Instance:
    """Older hosts o1 (up) and o2 (standby, empty), a newer host n1 with 8,000 MHz of VMs that may
    not go back to the older generation, and 2,000 MHz of older VMs that may go anywhere."""
    hosts = [host("o1", generation=1), host("o2", generation=1, state=HostState.STANDBY), host("n1")]
    vms = [vm(f"old{i}", "o1", 1_000) for i in range(2)] + [vm(f"new{i}", "n1", 2_000) for i in range(4)]
    return make_instance(hosts, vms, dpm=DpmPolicy(enabled=dpm, min_hosts_on=1))


def test_imbalance_floor_without_dpm_is_over_the_hosts_up() -> None:
    """Without DPM no plan powers o2 on, so the imbalance is measured over o1 and n1, where the best
    placement (old VMs on o1) gives (0.2, 0.8), std-dev 0.3. Counting the empty standby host as
    well, (0.1, 0.1, 0.8) has std-dev 0.33: above what every plan reaches, so not a floor."""
    inst = _standby_island(dpm=False)
    up = np.array([h.state is HostState.UP for h in inst.hosts])
    bounds = lower_bounds(inst)
    assert bounds["imbalance"]["cpu"] == pytest.approx(imbalance_floor(inst, "cpu", on_mask=up))
    allowed = compatibility(inst).allowed[:, up]
    cap = inst.host_cpu_mhz[up].astype(float)
    best = min(
        float((np.bincount(choice, inst.vm_cpu_demand_mhz, 2) / cap).std())
        for choice in map(np.array, itertools.product(*(np.flatnonzero(row) for row in allowed)))
    )
    assert best == pytest.approx(0.3)
    assert bounds["imbalance"]["cpu"] == pytest.approx(0.3, rel=0.01)
    assert bounds["imbalance"]["cpu"] <= best
    assert imbalance_floor(inst, "cpu", on_mask=np.array([h.is_usable for h in inst.hosts])) > best
    assert bounds["imbalance_hosts"] == 2


def test_imbalance_floor_with_dpm_is_with_every_usable_host_on() -> None:
    """With DPM on, the hosts up after a plan are its choice; the floor is given with every usable
    host on (o1, o2, n1: 0.33), the set the count 3 names unambiguously."""
    inst = _standby_island(dpm=True)
    assert imbalance_hosts(inst).tolist() == [True, True, True]
    bounds = lower_bounds(inst)
    assert bounds["imbalance_hosts"] == 3
    assert bounds["imbalance"]["cpu"] == pytest.approx(0.33, abs=0.005)
    assert bounds["imbalance"]["cpu"] == pytest.approx(imbalance_floor(inst, "cpu"))


def test_anti_affinity_bound_counts_the_vms_that_can_be_apart() -> None:
    """Four VMs of one anti-affinity rule must all run on h0 (priority 1), so the rule yields and
    a valid plan keeps one host on: the bound is 1, not 4. With h1 also allowed to two of them,
    two can be apart. A VM too large for a host cannot be counted on it either."""
    rules = [
        anti_affinity("apart", "a1", "a2", "a3", "a4"),
        vm_host("on-h0", "must", ["a1", "a2", "a3", "a4"], ["h0"]),
    ]
    vms = [vm(f"a{i}", "h0", 500, 512) for i in range(1, 5)]
    inst = make_instance([host(f"h{i}") for i in range(3)], vms, rules)
    assert anti_affinity_hosts_bound(inst) == 1
    rules[1] = vm_host("on-h0", "must", ["a1", "a2", "a3", "a4"], ["h0", "h1"])
    assert anti_affinity_hosts_bound(make_instance([host(f"h{i}") for i in range(3)], vms, rules)) == 2
    big = [vm("a1", "h0", 12_000, 512), *vms[1:]]
    free = [anti_affinity("apart", "a1", "a2", "a3", "a4")]
    hosts = [host("h0", 20_000), host("h1"), host("h2")]
    assert anti_affinity_hosts_bound(make_instance(hosts, big, free)) == 3  # a1 fits h0 only


def test_the_dpm_target_bound_is_never_below_the_full_capacity_one() -> None:
    """Nine 1,000 MHz VMs fill h0 (10,000 MHz) beyond DPM's 81 % target, and a must rule holds
    them there: no placement fits the target, the program proves nothing there (0), and the
    figure reported stays the full-capacity one (1), not 0."""
    vms = [vm(f"v{i}", "h0", 1_000, 100) for i in range(9)]
    rules = [vm_host("on-h0", "must", [v.name for v in vms], ["h0"])]
    inst = make_instance([host("h0"), host("h1")], vms, rules, dpm=DpmPolicy(enabled=True))
    bounds = lower_bounds(inst)
    assert bounds["hosts"]["compat"] == 1
    assert bounds["hosts_dpm_target"]["compat"] == 1

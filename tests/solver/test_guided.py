"""The LP-guided warm start: it moves what the relaxation moves, lands it, and the optimizer keeps
the better of it and the greedy's start."""

from __future__ import annotations

import numpy as np
import pytest
from check.factories import host, make_instance, vm

from scheduler.compat import compatibility
from scheduler.model import Instance
from scheduler.pipeline import make_plan
from scheduler.solver import warm_start
from scheduler.solver.balance import DrsBand
from scheduler.solver.guided import guided_start

from .conftest import quick_options


def four_on_one() -> Instance:
    """h1 runs four 1,000 MHz VMs (0.4), h2 none: CPU std 0.2."""
    return make_instance([host("h1"), host("h2")], [vm(f"v{i}", "h1") for i in range(4)])


def start_of(inst: Instance, warm: np.ndarray, tolerance: float, cost: list[float]) -> np.ndarray | None:
    allowed = compatibility(inst).allowed
    everyone = np.ones(inst.num_vms, dtype=np.bool_)
    on = np.ones(inst.num_hosts, dtype=np.bool_)
    band = DrsBand(inst, ("cpu",), lambda _hosts: tolerance, allowed, everyone)
    return guided_start(inst, warm, on, allowed, everyone, band, np.array(cost), None, None, deadline=1e18)


@pytest.mark.parametrize(
    ("tolerance", "on_h2"),
    [(0.0, ["v0", "v1"]), (0.06, ["v0"])],
    ids=["perfect-balance", "tolerance-0.06"],
)
def test_the_vms_the_relaxation_moves_land_on_the_cold_host(tolerance: float, on_h2: list[str]) -> None:
    """Perfect balance (tolerance 0) needs 2,000 MHz on h2: the relaxation moves the two cheapest
    VMs whole, and both land there. Tolerance 0.06 needs 1,400 MHz: v0 whole and 40 % of v1, so
    only v0 leaves (a VM moved less than half stays)."""
    inst = four_on_one()
    result = start_of(inst, inst.current_host.copy(), tolerance, [1, 2, 3, 4])
    assert result is not None
    h1, h2 = inst.host_index["h1"], inst.host_index["h2"]
    assert result.tolist() == [h2 if v.name in on_h2 else h1 for v in inst.vms]


def test_nothing_to_guide_when_the_start_is_balanced() -> None:
    inst = four_on_one()
    warm = np.array([0, 0, 1, 1])
    assert start_of(inst, warm, 0.05, [1, 2, 3, 4]) is None


def test_vms_the_warm_start_moved_stay_where_it_put_them() -> None:
    """The warm start already sent v3 (the dearest) to h2; perfect balance then needs one more
    VM there, the cheapest at home (v0), and v3 is not landed anew."""
    inst = four_on_one()
    h1, h2 = inst.host_index["h1"], inst.host_index["h2"]
    warm = np.array([h1, h1, h1, h2])
    result = start_of(inst, warm, 0.0, [1, 2, 3, 4])
    assert result is not None
    assert result.tolist() == [h2, h1, h1, h2]


def hot_half(hosts: int = 8, per_host: int = 150) -> Instance:
    """Half the hosts run ``per_host`` VMs of 48 MHz and 64 MiB each (CPU 0.72), the other half
    a third as many: 800 VMs on 8 hosts, above the 6,000 (VM, host) pairs from which the
    optimizer also tries the LP-guided start."""
    vms = []
    for h in range(hosts):
        count = per_host if h < hosts // 2 else per_host // 3
        vms += [vm(f"h{h}-{i}", f"h{h}", 48, 64) for i in range(count)]
    return make_instance([host(f"h{h}") for h in range(hosts)], vms)


def test_the_optimizer_compares_both_warm_starts_on_a_large_cluster() -> None:
    messages: list[str] = []
    outcome = make_plan(
        hot_half(),
        quick_options(time_limit_s=6.0, progress=lambda stage, text: messages.append(f"{stage}: {text}")),
    )
    announced, compared = [m for m in messages if m.startswith("warm start")]
    assert "then from the LP relaxation's moves" in announced
    assert "greedy" in compared
    assert "LP-guided" in compared
    assert "keeping" in compared
    assert outcome.plan.migrations  # the hot half sheds load


def test_the_better_warm_start_is_balanced_first_and_cheaper_second() -> None:
    """Candidates on four_on_one with a tolerance of 0.05: balanced (v0, v1 on h2: 3 s), cheaper
    but not balanced (only v0 moved, 1 s: std 0.1), and as balanced but dearer (v2, v3: 7 s)."""
    inst = four_on_one()
    allowed = compatibility(inst).allowed
    everyone = np.ones(inst.num_vms, dtype=np.bool_)
    on = np.ones(inst.num_hosts, dtype=np.bool_)
    band = DrsBand(inst, ("cpu",), lambda _hosts: 0.05, allowed, everyone)
    balanced = np.array([1, 1, 0, 0])
    cheap = np.array([1, 0, 0, 0])
    dear = np.array([0, 0, 1, 1])
    cost = np.array([1.0, 2.0, 3.0, 4.0])
    options = quick_options()
    better = warm_start._better_warm_start
    assert better(inst, {"a": cheap, "b": balanced}, on, band, cost, options).tolist() == balanced.tolist()
    assert better(inst, {"a": dear, "b": balanced}, on, band, cost, options).tolist() == balanced.tolist()

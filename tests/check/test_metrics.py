"""Cluster indicators and the DRS tolerance formula."""

from __future__ import annotations

import json
import math

import pytest

from scheduler.check import cluster_metrics, drs_min_goodness, drs_tolerance
from scheduler.model import Instance

from .factories import host, make_instance, vm


def test_utilization_imbalance_and_watts(trio: Instance) -> None:
    """CPU utilization 0.8, 0.7, 0.0: mean 0.5, population std-dev sqrt(0.38/3 - 0.25) = 0.3559.

    Watts with 100 W idle and 300 W max: 260 + 240 + 100 = 600 W.
    """
    m = cluster_metrics(trio, trio.current_placement())
    assert [h.cpu_utilization for h in m.hosts] == pytest.approx([0.8, 0.7, 0.0])
    assert m.imbalance["cpu"] == pytest.approx(math.sqrt((0.09 + 0.04 + 0.25) / 3))
    assert m.max_utilization["cpu"] == pytest.approx(0.8)
    assert m.min_utilization["cpu"] == 0.0
    assert m.mean_utilization["cpu"] == pytest.approx(0.5)
    assert [h.watts for h in m.hosts] == pytest.approx([260.0, 240.0, 100.0])
    assert m.total_watts == pytest.approx(600.0)
    assert m.hosts_up == m.hosts_powered == 3
    # memory: 8,192 / 6,144 / 0 of 16,384 MiB
    assert [h.memory_utilization for h in m.hosts] == pytest.approx([0.5, 0.375, 0.0])


def test_hosts_off_are_left_out_of_balance_and_power(trio: Instance) -> None:
    """a, b on h1 and c on h2 with the empty h3 in standby.

    Over the two up hosts: utilization 0.8 and 0.7, std-dev 0.05; h3 draws nothing.
    """
    m = cluster_metrics(trio, trio.current_placement(), {"h1": "up", "h2": "up", "h3": "standby"})
    assert m.imbalance["cpu"] == pytest.approx(0.05)
    assert m.hosts_up == 2
    assert m.total_watts == pytest.approx(500.0)
    assert m.hosts[2].watts == 0.0
    # DRS cpu_memory measure: the larger of the two imbalances (memory 0.5 vs 0.375: 0.0625).
    assert m.drs_imbalance == pytest.approx(0.0625)
    assert m.drs_tolerance == pytest.approx(0.2 / math.sqrt(2))
    assert m.drs_balanced


def test_memory_demand_and_allocation_differ() -> None:
    """A 8 GiB VM using 2 GiB on a 16 GiB host with overcommit 2: utilization 1/8, allocation 1/4."""
    inst = make_instance(
        [host("h1")], [vm("x", "h1", 1_000, 8_192, memory_demand_mib=2_048)], memory_overcommit=2.0
    )
    row = cluster_metrics(inst, {"x": "h1"}).hosts[0]
    assert row.memory_utilization == pytest.approx(0.125)
    assert row.memory_allocation == pytest.approx(0.25)


def test_rule_compliance_counts(showcase: Instance) -> None:
    """Current placement: P1 2/0, P2 2/0, P3 0/2 (satisfied / violated)."""
    m = cluster_metrics(showcase, showcase.current_placement())
    assert m.rules == {
        1: {"satisfied": 2, "violated": 0},
        2: {"satisfied": 2, "violated": 0},
        3: {"satisfied": 0, "violated": 2},
    }


def test_to_dict_is_json_ready_and_table_has_a_row_per_host(trio: Instance) -> None:
    """Threshold 1 has an infinite tolerance, written as null."""
    inst = make_instance(trio.hosts, trio.vms, drs_threshold=1)
    m = cluster_metrics(inst, inst.current_placement())
    doc = json.loads(json.dumps(m.to_dict()))
    assert doc["drs_tolerance"] is None
    assert doc["drs_balanced"] is True
    assert doc["rules"] == {}
    assert len(doc["hosts"]) == 3
    table = m.host_table()
    assert [r["host"] for r in table] == ["h1", "h2", "h3"]
    assert table[0]["cpu_%"] == 80.0


# tolerance = 0.1 × (5 − t) / √N for t = 2..5; infinite for t = 1.
@pytest.mark.parametrize(
    ("threshold", "num_hosts", "expected"),
    [
        (1, 8, math.inf),
        (2, 8, 0.3 / math.sqrt(8)),  # 0.10607
        (3, 8, 0.2 / math.sqrt(8)),  # 0.07071
        (4, 8, 0.1 / math.sqrt(8)),  # 0.03536
        (5, 8, 0.0),
        (1, 128, math.inf),
        (2, 128, 0.3 / math.sqrt(128)),  # 0.02652
        (3, 128, 0.2 / math.sqrt(128)),  # 0.01768
        (4, 128, 0.1 / math.sqrt(128)),  # 0.00884
        (5, 128, 0.0),
        (3, 4, 0.1),
    ],
)
def test_drs_tolerance_values(threshold: int, num_hosts: int, expected: float) -> None:
    assert drs_tolerance(threshold, num_hosts) == pytest.approx(expected)


@pytest.mark.parametrize("num_hosts", [1, 4, 8, 128])
def test_drs_min_goodness_is_half_a_priority_step(num_hosts: int) -> None:
    """Half the distance between two thresholds' tolerances: 0.025 on 4 hosts, 0.0044 on 128."""
    step = drs_tolerance(4, num_hosts) - drs_tolerance(5, num_hosts)
    assert drs_min_goodness(num_hosts) == pytest.approx(step / 2)


def test_drs_min_goodness_needs_a_host() -> None:
    with pytest.raises(ValueError, match="num_hosts"):
        drs_min_goodness(0)


@pytest.mark.parametrize("threshold", [2, 3, 4, 5])
@pytest.mark.parametrize("num_hosts", [2, 8, 128])
def test_drs_tolerance_agrees_with_the_priority_formula(threshold: int, num_hosts: int) -> None:
    """Just above the tolerance the priority formula gives a recommendation the threshold applies;
    at or below it, none (priority = 6 − ceil(I·√N / 0.1), applied when priority ≤ threshold)."""

    def applied(imbalance: float) -> bool:
        return 6 - math.ceil(imbalance * math.sqrt(num_hosts) / 0.1 - 1e-12) <= threshold

    tol = drs_tolerance(threshold, num_hosts)
    assert not applied(tol)
    assert applied(tol + 1e-6)


def test_drs_tolerance_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"1\.\.5"):
        drs_tolerance(7, 8)
    with pytest.raises(ValueError, match="num_hosts"):
        drs_tolerance(3, 0)

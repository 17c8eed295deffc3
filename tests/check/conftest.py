"""Tiny named instances for the checker tests; each docstring gives the numbers to check by hand."""

from __future__ import annotations

import pytest

from scheduler.model import Instance

from .factories import affinity, anti_affinity, host, make_instance, vm, vm_host


@pytest.fixture
def trio() -> Instance:
    """Three hosts of 10,000 MHz / 16,384 MiB; h1 holds a and b, h2 holds c, h3 is empty.

    a, b: 4,000 MHz / 4,096 MiB each (h1 at 8,000 MHz); c: 7,000 MHz / 6,144 MiB (h2 at 7,000).
    a fits on h2 only after c has left (7,000 + 4,000 > 10,000); a and b together fit on h3.
    Two concurrent migrations per host.
    """
    hosts = [host("h1"), host("h2"), host("h3")]
    vms = [vm("a", "h1", 4_000, 4_096), vm("b", "h1", 4_000, 4_096), vm("c", "h2", 7_000, 6_144)]
    return make_instance(hosts, vms)


@pytest.fixture
def showcase() -> Instance:
    """One rule of each kind on three hosts (every VM 1,000 MHz / 1,024 MiB, plenty of room).

    web: w1, w2 together (affinity, P2); db: d1, d2 apart (anti-affinity, P2);
    licence: d1, d2 must run on {h1, h2} (P1); not-h3: w1, w2 must not run on h3 (P1);
    prefer: w1, w2 should run on h2 (P3); avoid: d1 should not run on h1 (P3).
    Current placement: w1, w2, d1 on h1; d2 on h2: only ``prefer`` and ``avoid`` are broken.
    """
    hosts = [host("h1"), host("h2"), host("h3")]
    vms = [vm("w1", "h1"), vm("w2", "h1"), vm("d1", "h1"), vm("d2", "h2")]
    rules = [
        affinity("web", "w1", "w2"),
        anti_affinity("db", "d1", "d2"),
        vm_host("licence", "must", ["d1", "d2"], ["h1", "h2"]),
        vm_host("not-h3", "must_not", ["w1", "w2"], ["h3"]),
        vm_host("prefer", "should", ["w1", "w2"], ["h2"]),
        vm_host("avoid", "should_not", ["d1"], ["h1"]),
    ]
    return make_instance(hosts, vms, rules)

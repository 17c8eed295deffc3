"""Hosts: several generations from a real fleet's shapes, with incompatibility islands."""

from __future__ import annotations

from collections import Counter

from scheduler.model import Instance


def test_hosts_are_heterogeneous_with_incompatibility_islands(
    medium: tuple[Instance, dict[str, str]],
) -> None:
    """Several generations (older ones fewer), a datastore and a network not every host sees."""
    inst, _ = medium
    generations = Counter(h.cpu.generation for h in inst.hosts)
    assert sorted(generations) == [1, 2, 3]
    assert generations[1] < generations[2] < generations[3]
    all_datastores = set().union(*(h.datastores for h in inst.hosts))
    all_networks = set().union(*(h.networks for h in inst.hosts))
    assert any(h.datastores != all_datastores for h in inst.hosts)
    assert any(h.networks != all_networks for h in inst.hosts)
    for h in inst.hosts:
        assert 64 * 2_000 <= h.cpu_mhz <= 128 * 3_000
        assert 384 * 1024 <= h.memory_mib <= 1024 * 1024
        assert h.power.idle_w < h.power.max_w

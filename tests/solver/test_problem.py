"""Candidate hosts: a complete scope offers every allowed host, whatever the random draw."""

from __future__ import annotations

import numpy as np
import pytest
from check.factories import host, make_instance, vm

from scheduler.compat import compatibility
from scheduler.solver.problem import choose_candidates


@pytest.mark.parametrize("seed", range(20))
def test_k_of_every_host_offers_every_allowed_host(seed: int):
    """With k = the number of hosts, the coldest and random picks can coincide (1 coldest and 2
    random of 3 hosts, drawn with the coldest among them): the set must still be complete, or a
    model called whole misses placements (a new VM once never got the host that balanced the
    cluster, and the plan was called optimal)."""
    instance = make_instance(
        [host("h0"), host("h1"), host("h2")], [vm("a", "h0"), vm("b", None), vm("c", "h1")]
    )
    allowed = compatibility(instance).allowed
    usable = np.ones(instance.num_hosts, dtype=np.bool_)
    free = np.arange(instance.num_vms)
    warm = np.array([0, 0, 1])
    coldness = np.array([0.0, 1.0, 0.5])
    rng = np.random.default_rng(seed)
    sets = choose_candidates(instance, free, allowed, usable, warm, coldness, instance.num_hosts, rng)
    for v, candidates in zip(free, sets, strict=True):
        assert candidates.tolist() == np.flatnonzero(allowed[v]).tolist()

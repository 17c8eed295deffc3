"""The pre-copy fast path: the closed form against the simulation, broadcasting, input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.migration.precopy import MigrationInput, simulate
from scheduler.migration.precopy_fast import estimate_fast
from scheduler.migration.presets import preset_for

memories = st.floats(min_value=256, max_value=262144)
dirty_rates = st.floats(min_value=0, max_value=3000)
links = st.floats(min_value=0.5, max_value=100)


@settings(max_examples=80, deadline=None)
@given(
    memories,
    st.floats(min_value=0, max_value=1),
    dirty_rates,
    links,
    st.floats(min_value=0.3, max_value=1),
    st.sampled_from(["qemu", "xen", "fusioncompute"]),
)
def test_fast_path_equals_simulation(
    memory: float, nz_share: float, dirty: float, gbps: float, kappa: float, name: str
) -> None:
    """The closed form gives the simulation's time, downtime, data, passes and verdict."""
    preset = preset_for(name)
    inp = MigrationInput(
        memory_mib=memory,
        dirty_rate_mibps=dirty,
        network_gbps=gbps,
        nonzero_mib=nz_share * memory,
        compression_ratio=kappa,
    )
    sim = simulate(inp, preset)
    rate = min(inp.link_mibps, preset.bandwidth_cap_mibps or math.inf)
    fast = estimate_fast(
        np.array([memory]),
        np.array([dirty]),
        rate,
        preset.downtime_limit_ms,
        nonzero_mib=np.array([nz_share * memory]),
        switchover_rate_mibps=inp.link_mibps if preset.lift_cap_at_switchover else rate,
        threshold_rule=preset.threshold_rule,
        min_dirty_pages=preset.min_dirty_pages,
        max_rounds=preset.max_rounds,
        compression_ratio=kappa,
        device_state_mib=inp.device_state_mib,
    )
    assert int(fast.iterations[0]) == sim.iterations
    assert bool(fast.converges[0]) == sim.converges
    assert fast.total_s[0] == pytest.approx(sim.total_s, rel=1e-6)
    assert fast.downtime_ms[0] == pytest.approx(sim.downtime_ms, rel=1e-6, abs=1e-9)
    assert fast.transferred_mib[0] == pytest.approx(sim.transferred_mib, rel=1e-6)


def test_fast_path_broadcasts_and_rejects_bad_input() -> None:
    """Arrays broadcast against scalars; a zero rate is refused rather than divided by."""
    out = estimate_fast(np.array([1024.0, 2048.0]), np.array([10.0, 500.0]), 128.0, 300.0)
    assert out.total_s.shape == (2,)
    assert bool(out.converges[0])
    assert not bool(out.converges[1])
    with pytest.raises(ValueError, match="rates > 0"):
        estimate_fast(np.array([1024.0]), np.array([1.0]), 0.0, 300.0)

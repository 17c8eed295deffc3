"""Hypervisor presets: sourced constants, overrides and hand-computed stop rules for every preset."""

from __future__ import annotations

import math

import pytest

from scheduler.migration.precopy import MigrationInput, simulate
from scheduler.migration.presets import PAGE_MIB, PRESETS, preset_for
from scheduler.model.defaults import HYPERVISORS

# A link whose payload rate is exactly 128 MiB/s (2^30 bit/s at efficiency 1), so that hand
# computations stay in powers of two.
GBPS_128_MIBPS = 2**30 / 1e9


def _inp(dirty: float, memory: float = 1024.0) -> MigrationInput:
    return MigrationInput(
        memory_mib=memory,
        dirty_rate_mibps=dirty,
        network_gbps=GBPS_128_MIBPS,
        link_efficiency=1.0,
        device_state_mib=0.0,
    )


def test_every_inventory_hypervisor_has_a_preset() -> None:
    """The names the inventory accepts are exactly the preset names."""
    assert set(HYPERVISORS) == set(PRESETS)


def test_sourced_defaults() -> None:
    """The headline constants match the sources quoted in the module."""
    assert PRESETS["qemu"].downtime_limit_ms == 300.0
    assert PRESETS["qemu"].bandwidth_cap_mibps == 128.0
    assert PRESETS["qemu"].lift_cap_at_switchover
    assert PRESETS["xen"].max_rounds == 5
    assert PRESETS["xen"].min_dirty_pages == 50
    assert PRESETS["xen_legacy"].max_rounds == 30
    assert PRESETS["xen_legacy"].max_data_factor == 3.0
    assert PRESETS["vmware"].downtime_limit_ms == 500.0
    assert PRESETS["vmware"].max_switchover_s == 100.0
    assert PRESETS["fusioncompute"].timeout_s is None


def test_preset_for_overrides_and_ignores_none() -> None:
    """Overrides replace fields; ``None`` keeps the sourced default."""
    preset = preset_for("qemu", downtime_limit_ms=50.0, timeout_s=None, auto_converge=True)
    assert preset.downtime_limit_ms == 50.0
    assert preset.auto_converge
    assert preset.bandwidth_cap_mibps == 128.0


@pytest.mark.parametrize(
    ("name", "overrides"), [("kvm", {}), ("qemu", {"speed": 1}), ("qemu", {"max_rounds": 0})]
)
def test_preset_for_rejects_bad_names_and_values(name: str, overrides: dict[str, int]) -> None:
    """Unknown names, unknown fields and impossible values are ValueErrors."""
    with pytest.raises(ValueError, match=r"."):
        preset_for(name, **overrides)


def test_qemu_switches_over_when_rest_fits_budget_at_capped_rate() -> None:
    """1 GiB at D = 32 MiB/s, cap 128 MiB/s: passes of 1024, 256, 64 MiB; 16 MiB ≤ 128·0.3 is left.

    The final 16 MiB go at link speed (cap lifted): 10 Gbit/s · 0.94 = 1120.57 MiB/s.
    """
    est = simulate(MigrationInput(memory_mib=1024, dirty_rate_mibps=32, network_gbps=10, device_state_mib=0))
    link = 10 * 1e9 / 8 / 2**20 * 0.94
    assert est.iterations == 3
    assert est.stop_reason == "threshold"
    assert est.downtime_ms == pytest.approx(16 / link * 1000)
    assert est.total_s == pytest.approx(8 + 2 + 0.5 + 16 / link)
    assert est.transferred_mib == pytest.approx(1024 + 256 + 64 + 16)
    assert est.margin == pytest.approx(0.75)
    assert est.outcome == "converged"


def test_qemu_aborts_when_dirtying_outpaces_the_cap() -> None:
    """D = 160 > 128 MiB/s: every pass re-sends all memory; after 3 such passes the move is aborted."""
    est = simulate(_inp(160.0), preset_for("qemu"))
    assert est.outcome == "aborted"
    assert est.stop_reason == "stalled"
    assert est.iterations == 3
    assert est.total_s == pytest.approx(24.0)
    assert est.downtime_ms == 0.0
    assert est.abort_cost_s == pytest.approx(24.0)
    assert not est.converges


def test_qemu_auto_converge_throttles_until_convergence() -> None:
    """With auto-converge the same hot guest is slowed (20 % then +10 % steps) until it converges."""
    est = simulate(_inp(160.0), preset_for("qemu", auto_converge=True))
    assert est.converges
    assert est.outcome == "throttled"
    assert 20.0 <= est.throttle_pct <= 99.0


def test_xen_stops_after_five_passes() -> None:
    """R = 128, D = 32: 1024, 256, 64, 16, 4 MiB sent; 1 MiB (256 pages > 50) left after pass 5."""
    est = simulate(_inp(32.0), preset_for("xen"))
    assert est.iterations == 5
    assert est.stop_reason == "max_rounds"
    assert est.total_s == pytest.approx(8 + 2 + 0.5 + 0.125 + 0.03125 + 1 / 128)
    assert est.downtime_ms == pytest.approx(1000 / 128)
    assert est.transferred_mib == pytest.approx(1365.0)
    assert est.outcome == "converged"


def test_xen_forced_stop_with_a_hot_guest() -> None:
    """D = 256 = 2R: all 1 GiB is dirty after every pass; pass 5 forces a stop with 8 s of downtime."""
    est = simulate(_inp(256.0), preset_for("xen"))
    assert est.outcome == "forced_stop"
    assert est.total_s == pytest.approx(48.0)
    assert est.downtime_ms == pytest.approx(8000.0)
    assert est.transferred_mib == pytest.approx(6144.0)
    assert est.forced_stop_downtime_ms == pytest.approx(8000.0)


def test_xen_legacy_stops_below_fifty_pages() -> None:
    """D = 32: V_i = 1024/4^i first drops under 50 pages (0.195 MiB) at pass 7 (0.0625 MiB)."""
    est = simulate(_inp(32.0), preset_for("xen_legacy"))
    assert est.stop_reason == "dirty_pages"
    assert est.iterations == 7
    assert 1024 / 4**7 < 50 * PAGE_MIB <= 1024 / 4**6
    assert est.downtime_ms == pytest.approx(1024 / 4**7 / 128 * 1000)


def test_xen_legacy_stops_after_three_times_memory() -> None:
    """D = 256: 1 GiB per pass; after pass 4 more than 3 GiB were sent, so it stops (data cap)."""
    est = simulate(_inp(256.0), preset_for("xen_legacy"))
    assert est.stop_reason == "data_cap"
    assert est.iterations == 4
    assert est.total_s == pytest.approx(40.0)
    assert est.transferred_mib == pytest.approx(5120.0)


def test_vmware_switches_over_within_half_a_second() -> None:
    """D = 30: 1024 then 240 MiB sent; 56.25 MiB fit 0.5 s at 128 MiB/s, downtime 439.45 ms."""
    est = simulate(_inp(30.0), preset_for("vmware"))
    assert est.iterations == 2
    assert est.downtime_ms == pytest.approx(56.25 / 128 * 1000)
    assert est.total_s == pytest.approx(8 + 1.875 + 56.25 / 128)
    assert est.outcome == "converged"


def test_vmware_sdps_slows_a_hot_guest_to_converge() -> None:
    """D = 256 > 0.8·R: SDPS caps dirtying at 102.4 MiB/s (a 60 % slowdown) and the move converges."""
    est = simulate(_inp(256.0), preset_for("vmware"))
    assert est.converges
    assert est.outcome == "throttled"
    assert est.throttle_pct == pytest.approx(60.0)
    assert est.downtime_ms <= 500.0


def test_vmware_fails_past_one_hundred_seconds_of_switchover() -> None:
    """Without SDPS a 16 GiB hot guest stalls; its 128 s switchover exceeds 100 s, so vMotion fails."""
    est = simulate(_inp(256.0, memory=16384.0), preset_for("vmware", sdps=False))
    assert est.outcome == "aborted"
    assert est.stop_reason == "switchover_timeout"
    assert est.forced_stop_downtime_ms == pytest.approx(128_000.0)


def test_vmware_forced_switchover_below_the_limit() -> None:
    """Without SDPS a 1 GiB hot guest stalls and is switched over anyway: 8 s of downtime."""
    est = simulate(_inp(256.0), preset_for("vmware", sdps=False))
    assert est.outcome == "forced_stop"
    assert est.downtime_ms == pytest.approx(8000.0)


def test_fusioncompute_pauses_when_rest_fits_the_budget() -> None:
    """No cap: the final 16 MiB go at the pre-copy rate, 125 ms."""
    est = simulate(_inp(32.0), preset_for("fusioncompute"))
    assert est.iterations == 3
    assert est.downtime_ms == pytest.approx(125.0)
    assert est.total_s == pytest.approx(10.625)


def test_fusioncompute_timeout_aborts_and_the_source_keeps_running() -> None:
    """A 5 s timeout ends the first pass early: 640 MiB sent, no downtime, not converged."""
    est = simulate(_inp(32.0), preset_for("fusioncompute", timeout_s=5.0))
    assert est.outcome == "aborted"
    assert est.stop_reason == "timeout"
    assert est.total_s == pytest.approx(5.0)
    assert est.transferred_mib == pytest.approx(640.0)
    assert est.downtime_ms == 0.0
    assert math.isfinite(est.forced_stop_downtime_ms)


def test_fusioncompute_without_timeout_gives_up_on_a_stall() -> None:
    """No timeout by default: a guest dirtying faster than the link is reported aborted after 3 passes."""
    est = simulate(_inp(256.0), preset_for("fusioncompute"))
    assert est.outcome == "aborted"
    assert est.stop_reason == "stalled"
    assert est.total_s == pytest.approx(24.0)

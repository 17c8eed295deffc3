"""Hypervisor presets: the stop rule, rate limits and failure behaviour of each pre-copy implementation.

Why: hypervisors differ completely in when they stop iterating and what they do when the guest
dirties memory faster than the link drains it. The estimator is one round-based simulation; a
preset plugs in the rule. Every constant below names its source (a source file and line range, or a
vendor knowledge-base article); ``docs/estimator.md`` repeats the table.

Stop rules, with ``V`` the dirty data left after a pass, ``i`` the passes done and ``S`` the data
sent so far:

- ``qemu``: switch over iff ``V < R_meas · d`` (QEMU ``migration/migration.c`` 3327-3446,
  ``migration_iteration_run``); no pass cap, no data cap, no timeout.
- ``xen``: stop iff ``V / 4 KiB < 50`` or ``i ≥ 5`` (libxenguest ``xg_sr_save.c`` 439-459).
- ``xen_legacy``: stop iff ``V / 4 KiB < 50`` or ``i ≥ 30`` or ``S > 3 · M``
  (``xc_domain_save.c`` 45-46 and 1545-1552, before Xen 4.6).
- ``vmware``: switch over iff ``V / R_sw ≤ 0.5 s`` (Broadcom KB 436882); SDPS slows the guest when it
  dirties faster than vMotion sends (vSphere 5.0); the switchover fails past 100 s (KB 1010045).
- ``fusioncompute``: copy iteratively and pause the VM when the dirty data left fits the downtime
  budget; no timeout by default, a configured one aborts and the source VM keeps running.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

PAGE_MIB = 4.0 / 1024.0
"""One 4 KiB guest page in MiB: the unit in which hypervisors count dirty memory."""

QEMU_DOWNTIME_LIMIT_MS = 300.0
"""QEMU ``DEFAULT_MIGRATE_SET_DOWNTIME`` (``migration/options.c`` 40-42, QEMU 10.0)."""

QEMU_MAX_BANDWIDTH_MIBPS = 128.0
"""QEMU ``MAX_THROTTLE (128 << 20)`` bytes/s (``migration/options.c`` 38); raw QMP default since 5.2."""

QEMU_THROTTLE_INITIAL = 0.20
"""QEMU ``cpu-throttle-initial`` 20 % (``migration/options.c`` 46)."""

QEMU_THROTTLE_INCREMENT = 0.10
"""QEMU ``cpu-throttle-increment`` 10 % (``migration/options.c`` 47)."""

QEMU_THROTTLE_MAX = 0.99
"""QEMU ``max-cpu-throttle`` 99 % (``migration/options.c`` 48)."""

QEMU_THROTTLE_TRIGGER_RATIO = 0.50
"""QEMU ``throttle-trigger-threshold`` 50 %: dirtied > 50 % of sent in a period (``options.c`` 45)."""

QEMU_THROTTLE_TRIGGER_COUNT = 2
"""Periods over the trigger ratio before the throttle rises; each firing resets the count.

Source: ``migration_trigger_throttle``, QEMU ram.c 990-1016."""

QEMU_THROTTLE_PERIOD_S = 1.0
"""QEMU evaluates the trigger once per bitmap-sync period of at least 1 s (ram.c 1048-1058)."""

XEN_MAX_ITERATIONS = 5
"""libxenguest ``SPP_MAX_ITERATIONS`` (``tools/libs/guest/xg_sr_save.c`` 439-459)."""

XEN_TARGET_DIRTY_PAGES = 50
"""libxenguest ``SPP_TARGET_DIRTY_COUNT``: stop and copy below 50 dirty pages (same lines)."""

XEN_LEGACY_MAX_ITERATIONS = 30
"""Legacy libxc ``DEF_MAX_ITERS = 29``: "limit us to 30 times round loop" (xc_domain_save.c 45)."""

XEN_LEGACY_MAX_FACTOR = 3.0
"""Legacy libxc ``DEF_MAX_FACTOR = 3``: "never send more than 3x p2m_size" (xc_domain_save.c 46)."""

VMWARE_SWITCHOVER_GOAL_MS = 500.0
"""vMotion pre-copies until the rest fits the 500 ms switchover goal (Broadcom KB 436882)."""

VMWARE_MAX_SWITCHOVER_S = 100.0
"""``vmotion.maxSwitchoverSeconds`` = 100 s; past it the vMotion fails (KB 1010045, KB 2141355)."""

VMWARE_SDPS_TARGET_FRACTION = 0.8
"""SDPS slows the guest until it dirties below the transmit rate; the exact law is not public.

SDPS (Stun During Page Send, vSphere 5.0) puts the source vCPUs to sleep for milliseconds at a time
while pages are dirtied faster than vMotion transmits them (D. Epping, "vSphere 5.0 vMotion
Enhancements", yellow-bricks.com, 2011-07-20). Modelled as a cap ``D_eff ≤ 0.8 · R``; 0.8 is an
assumption, not a measurement.
"""

FUSIONCOMPUTE_DOWNTIME_LIMIT_MS = 300.0
"""FusionCompute (KVM/libvirt based) pauses the VM when the rest fits the downtime budget; the
threshold is not published, so the QEMU default budget is used."""

StallAction = Literal["abort", "force"]


@dataclass(frozen=True, slots=True)
class HypervisorPreset:
    """How one hypervisor iterates, stops and fails.

    Why a dataclass and not code: the simulation in ``precopy.py`` is shared, and every difference
    between hypervisors is a number or a switch here, so a reader can compare presets line by line.

    Attributes:
        name: preset name, as the inventory's ``policy.migration.hypervisor`` spells it.
        downtime_limit_ms: downtime budget ``d``. The threshold rules switch over when the data left
            fits it; for every preset it is also the goal a finished move is judged against
            (``converges`` is true only when the downtime is within it).
        bandwidth_cap_mibps: pre-copy rate cap (QEMU ``max-bandwidth``); ``None`` = link speed.
        lift_cap_at_switchover: the final copy runs at link speed (QEMU migration.c 2940).
        threshold_rule: switch over when the data left fits ``d`` at the measured rate.
        threshold_at_switchover_rate: measure that fit at the switchover rate (vMotion) rather than
            at the capped pre-copy rate (QEMU's ``bw`` estimate).
        min_dirty_pages: stop when fewer pages than this are dirty (Xen); ``None`` = no such rule.
        max_rounds: stop after this many pre-copy passes (Xen); ``None`` = unbounded.
        max_data_factor: stop when more than this many times the memory was sent (legacy Xen).
        auto_converge: QEMU auto-converge: throttle the vCPUs when dirtying outpaces sending.
        throttle_initial, throttle_increment, throttle_max: the throttle steps (fractions).
        throttle_trigger_ratio, throttle_trigger_count, throttle_period_s: the trigger
            "dirtied > ratio · sent in ``count`` periods of at least ``period_s``".
        sdps: VMware Stun During Page Send: cap the guest's dirtying at ``sdps_target_fraction · R``.
        timeout_s: abort the migration this long after it started (source VM keeps running).
        max_switchover_s: fail when the final copy would take longer than this (vMotion).
        on_stall: what happens when pre-copy stops making progress and nothing else ends it:
            ``"abort"`` (the manager cancels; the source VM keeps running) or ``"force"`` (the
            hypervisor switches over anyway, with a long downtime).
    """

    name: str
    downtime_limit_ms: float
    bandwidth_cap_mibps: float | None = None
    lift_cap_at_switchover: bool = False
    threshold_rule: bool = True
    threshold_at_switchover_rate: bool = False
    min_dirty_pages: int | None = None
    max_rounds: int | None = None
    max_data_factor: float | None = None
    auto_converge: bool = False
    throttle_initial: float = QEMU_THROTTLE_INITIAL
    throttle_increment: float = QEMU_THROTTLE_INCREMENT
    throttle_max: float = QEMU_THROTTLE_MAX
    throttle_trigger_ratio: float = QEMU_THROTTLE_TRIGGER_RATIO
    throttle_trigger_count: int = QEMU_THROTTLE_TRIGGER_COUNT
    throttle_period_s: float = QEMU_THROTTLE_PERIOD_S
    sdps: bool = False
    sdps_target_fraction: float = VMWARE_SDPS_TARGET_FRACTION
    timeout_s: float | None = None
    max_switchover_s: float | None = None
    on_stall: StallAction = "abort"

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.downtime_limit_ms >= 0:
            problems.append("downtime_limit_ms must be >= 0")
        if self.bandwidth_cap_mibps is not None and not self.bandwidth_cap_mibps > 0:
            problems.append("bandwidth_cap_mibps must be > 0")
        if self.max_rounds is not None and self.max_rounds < 1:
            problems.append("max_rounds must be >= 1")
        if self.min_dirty_pages is not None and self.min_dirty_pages < 0:
            problems.append("min_dirty_pages must be >= 0")
        if self.max_data_factor is not None and not self.max_data_factor > 0:
            problems.append("max_data_factor must be > 0")
        if self.timeout_s is not None and not self.timeout_s > 0:
            problems.append("timeout_s must be > 0")
        if not 0 <= self.throttle_initial <= self.throttle_max < 1:
            problems.append("throttle fractions must satisfy 0 <= initial <= max < 1")
        if not 0 < self.sdps_target_fraction <= 1:
            problems.append("sdps_target_fraction must be in (0, 1]")
        if self.on_stall not in ("abort", "force"):
            problems.append("on_stall must be 'abort' or 'force'")
        if problems:
            raise ValueError(f"preset {self.name!r}: " + "; ".join(problems))

    @property
    def failure_action(self) -> str:
        """What the preset does with a migration that does not converge, in one word."""
        if self.auto_converge or self.sdps:
            return "throttle"
        if self.max_rounds is not None or self.max_data_factor is not None or self.on_stall == "force":
            return "forced_stop"
        return "abort"


QEMU = HypervisorPreset(
    name="qemu",
    downtime_limit_ms=QEMU_DOWNTIME_LIMIT_MS,
    bandwidth_cap_mibps=QEMU_MAX_BANDWIDTH_MIBPS,
    lift_cap_at_switchover=True,
    threshold_rule=True,
    # QEMU has no pass cap, data cap or timeout: it switches over only when the rest fits the
    # downtime limit (QEMU 10.0 migration.c 3413-3446, migration_iteration_run), so a stalled
    # migration runs until the management layer cancels it, and the source VM keeps running.
    on_stall="abort",
)

XEN = HypervisorPreset(
    name="xen",
    downtime_limit_ms=QEMU_DOWNTIME_LIMIT_MS,  # Xen has no budget; this is only the verdict goal
    threshold_rule=False,
    min_dirty_pages=XEN_TARGET_DIRTY_PAGES,
    max_rounds=XEN_MAX_ITERATIONS,
    on_stall="force",
)

XEN_LEGACY = HypervisorPreset(
    name="xen_legacy",
    downtime_limit_ms=QEMU_DOWNTIME_LIMIT_MS,
    threshold_rule=False,
    min_dirty_pages=XEN_TARGET_DIRTY_PAGES,
    max_rounds=XEN_LEGACY_MAX_ITERATIONS,
    max_data_factor=XEN_LEGACY_MAX_FACTOR,
    on_stall="force",
)

VMWARE = HypervisorPreset(
    name="vmware",
    downtime_limit_ms=VMWARE_SWITCHOVER_GOAL_MS,
    threshold_rule=True,
    threshold_at_switchover_rate=True,
    sdps=True,
    max_switchover_s=VMWARE_MAX_SWITCHOVER_S,
    on_stall="force",
)

FUSIONCOMPUTE = HypervisorPreset(
    name="fusioncompute",
    downtime_limit_ms=FUSIONCOMPUTE_DOWNTIME_LIMIT_MS,
    threshold_rule=True,
    timeout_s=None,  # none by default; policy.migration.timeout_s sets one
    on_stall="abort",  # a failed migration leaves the source VM running (docs/estimator.md §2)
)

PRESETS: dict[str, HypervisorPreset] = {p.name: p for p in (QEMU, XEN, XEN_LEGACY, VMWARE, FUSIONCOMPUTE)}
"""Every preset by the name the inventory uses (``scheduler.model.defaults.HYPERVISORS``)."""


def preset_for(name: str, **overrides: Any) -> HypervisorPreset:
    """The named preset with some fields replaced (``None`` overrides are ignored).

    Why ``None`` is ignored: callers pass optional flags and policy fields straight through, and
    "not given" must keep the preset's sourced default rather than erase it.

    Raises:
        ValueError: unknown preset name, unknown field, or a value the preset rejects.
    """
    try:
        base = PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise ValueError(f"unknown hypervisor {name!r} (known: {known})") from None
    fields = {f.name for f in dataclasses.fields(HypervisorPreset)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown preset field(s): {', '.join(unknown)}")
    given = {key: value for key, value in overrides.items() if value is not None}
    return dataclasses.replace(base, **given)

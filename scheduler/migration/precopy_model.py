"""The pre-copy estimator's inputs and results, and the constants both of its estimators share.

:class:`MigrationInput` (with an optional :class:`WorkingSet` dirty curve) is what an estimate
takes, :class:`MigrationEstimate` what it returns. Why a module of their own: the event-driven
simulation (``precopy.py``) and the closed-form fast path (``precopy_fast.py``) both build on these
inputs and constants (payload share of the link, zero-page header, device state, stall rule), and
neither should import the other.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

from scheduler.model.plan import MigrationEstimateRecord

MIBPS_PER_GBPS = 1e9 / 8.0 / 1048576.0
"""1 Gbit/s in MiB/s (≈ 119.21)."""

LINK_EFFICIENCY = 0.94
"""Share of the nominal link a migration stream's payload gets (TCP/IP and framing overhead).

TCP over Ethernet with a 1500-byte MTU carries 1448 bytes of payload (TCP timestamps on) per 1538
bytes on the wire (headers, preamble and inter-frame gap): 0.941. BtrPlace's network view
(``CNetwork.java``) uses 8/9 ≈ 0.89. A documented global constant; the validation benchmark does not
tune it per row.
"""

ZERO_PAGE_WIRE_FRACTION = 9.0 / 4096.0
"""A zero page is sent as a header of about 9 bytes instead of 4096 (QEMU ram.c 1104-1135)."""

DEVICE_STATE_MIB = 1.0
"""Device state sent during the stop-and-copy: an assumed size, small next to guest memory (no public
source gives one); see ``docs/estimator.md`` §1."""

STALL_RATIO = 0.95
"""A pass that leaves at least 95 % of the previous pass's data makes no real progress.

The project's stall rule, not a hypervisor's (``docs/estimator.md`` §1, non-convergence)."""

STALL_ROUNDS = 3
"""Consecutive no-progress passes after which pre-copy is declared stalled (see ``STALL_RATIO``)."""

MAX_SIMULATED_ROUNDS = 10_000
"""Safety stop for the simulation; a real pre-copy needing this many passes has stalled anyway."""

Outcome = Literal["converged", "throttled", "forced_stop", "aborted"]


@dataclass(frozen=True, slots=True)
class WorkingSet:
    """A writable-working-set dirty curve ``U(t) = H·min(1, t/τ) + C·t`` (MiB of unique pages).

    Why: unique dirtied memory grows sub-linearly with the window (QEMU qapi/migration.json
    2157-2163); a hot set rewritten every ``τ`` seconds plus a slow cold drift captures that with
    three numbers, the parametrisation of BtrPlace's network view (hotDirtySize, hotDirtyDuration,
    coldDirtyRate).
    """

    hot_set_mib: float
    hot_period_s: float
    cold_dirty_rate_mibps: float = 0.0

    def __post_init__(self) -> None:
        if not (self.hot_set_mib >= 0 and self.hot_period_s > 0 and self.cold_dirty_rate_mibps >= 0):
            raise ValueError("working set: hot_set_mib >= 0, hot_period_s > 0, cold_dirty_rate_mibps >= 0")

    def dirtied_mib(self, window_s: float) -> float:
        """Unique MiB written in a window of ``window_s`` seconds of guest progress."""
        return (
            self.hot_set_mib * min(1.0, window_s / self.hot_period_s) + self.cold_dirty_rate_mibps * window_s
        )

    @property
    def peak_rate_mibps(self) -> float:
        """The short-window dirty rate ``H/τ + C``, the rate SDPS compares with the link."""
        return self.hot_set_mib / self.hot_period_s + self.cold_dirty_rate_mibps

    def scaled(self, factor: float) -> WorkingSet:
        """The same curve with every dirtying volume multiplied by ``factor``."""
        return WorkingSet(self.hot_set_mib * factor, self.hot_period_s, self.cold_dirty_rate_mibps * factor)


@dataclass(frozen=True, slots=True)
class MigrationInput:
    """Everything one migration estimate depends on, in project units.

    Why frozen and validated here: estimates are cached and compared, and a negative size or a
    zero link would otherwise surface as a division error deep in the simulation.

    Attributes:
        memory_mib: configured guest memory ``M``.
        dirty_rate_mibps: constant unique-page dirty rate ``D`` (ignored when ``working_set`` is set).
        network_gbps: nominal link speed ``L``.
        nonzero_mib: memory holding non-zero pages ``M_nz``; ``None`` = all of it.
        working_set: writable-working-set curve, preferred over ``dirty_rate_mibps`` when known.
        link_efficiency: payload share of the link ``η``.
        share: this migration's share ``s`` of the link (concurrent migrations).
        compression_ratio: ``κ ≤ 1`` applied to passes after the first (XBZRLE, multifd zstd).
        device_state_mib: device state ``S_dev`` sent in the stop-and-copy.
        resume_ms: time for the target to resume the guest, part of the downtime.
    """

    memory_mib: float
    dirty_rate_mibps: float = 0.0
    network_gbps: float = 10.0
    nonzero_mib: float | None = None
    working_set: WorkingSet | None = None
    link_efficiency: float = LINK_EFFICIENCY
    share: float = 1.0
    compression_ratio: float = 1.0
    device_state_mib: float = DEVICE_STATE_MIB
    resume_ms: float = 0.0

    def __post_init__(self) -> None:
        problems = []
        if not self.memory_mib > 0:
            problems.append("memory_mib must be > 0")
        if not self.dirty_rate_mibps >= 0:
            problems.append("dirty_rate_mibps must be >= 0")
        if not (math.isfinite(self.network_gbps) and self.network_gbps > 0):
            problems.append("network_gbps must be > 0")
        if self.nonzero_mib is not None and not 0 <= self.nonzero_mib <= self.memory_mib:
            problems.append("nonzero_mib must be within [0, memory_mib]")
        if not 0 < self.link_efficiency <= 1:
            problems.append("link_efficiency must be in (0, 1]")
        if not 0 < self.share <= 1:
            problems.append("share must be in (0, 1]")
        if not 0 < self.compression_ratio <= 1:
            problems.append("compression_ratio must be in (0, 1]")
        if not self.device_state_mib >= 0:
            problems.append("device_state_mib must be >= 0")
        if not self.resume_ms >= 0:
            problems.append("resume_ms must be >= 0")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def link_mibps(self) -> float:
        """Payload rate of the whole link, ``η·L`` in MiB/s."""
        return self.network_gbps * MIBPS_PER_GBPS * self.link_efficiency

    @property
    def available_mibps(self) -> float:
        """This migration's part of the link, ``s·η·L``."""
        return self.link_mibps * self.share

    @property
    def first_pass_mib(self) -> float:
        """Data on the wire in pass 0: non-zero pages plus zero-page headers."""
        nonzero = self.memory_mib if self.nonzero_mib is None else self.nonzero_mib
        return nonzero + (self.memory_mib - nonzero) * ZERO_PAGE_WIRE_FRACTION

    @property
    def peak_dirty_rate_mibps(self) -> float:
        """The short-window dirty rate: ``D``, or ``H/τ + C`` for a working set."""
        if self.working_set is not None:
            return self.working_set.peak_rate_mibps
        return self.dirty_rate_mibps

    def dirtied_mib(self, progress_s: float) -> float:
        """Unique MiB dirtied during ``progress_s`` seconds of guest execution, capped at memory."""
        return min(self.memory_mib, self.dirtying_mib(progress_s))

    def dirtying_mib(self, progress_s: float) -> float:
        """Writes during ``progress_s`` seconds without the memory cap (for the ``1 − D/R`` margin)."""
        if self.working_set is not None:
            return self.working_set.dirtied_mib(progress_s)
        return self.dirty_rate_mibps * progress_s

    def scaled_dirtying(self, factor: float) -> MigrationInput:
        """The same input with the dirty rate (or working set) multiplied by ``factor``."""
        ws = None if self.working_set is None else self.working_set.scaled(factor)
        return dataclasses.replace(self, dirty_rate_mibps=self.dirty_rate_mibps * factor, working_set=ws)


@dataclass(frozen=True, slots=True)
class MigrationEstimate:
    """The predicted cost of one migration, non-convergence included.

    Attributes:
        total_s: from start to the guest running on the target (or to the abort).
        downtime_ms: guest paused (0 when aborted: the guest never stopped).
        transferred_mib: data put on the wire, aborted passes included.
        iterations: pre-copy passes completed, the first full pass included, the stop-and-copy not.
        converges: finished within the preset's downtime budget.
        outcome: ``converged`` | ``throttled`` (converged only thanks to a guest throttle) |
            ``forced_stop`` (finished, downtime over budget) | ``aborted`` (source VM keeps running).
        stop_reason: the rule that ended pre-copy (``threshold``, ``dirty_pages``, ``max_rounds``,
            ``data_cap``, ``clean``, ``stalled``, ``timeout``, ``switchover_timeout``).
        margin: ``1 − λ_0`` with ``λ_0`` = data dirtied during the first pass / data it sent; for a
            constant rate ``1 − D/R``. Near 0 or negative: the total time is not trustworthy.
            At the nominal dirty rate, also for a high-risk move.
        failure_action: what the preset does when pre-copy does not converge.
        forced_stop_downtime_ms: the downtime if the switchover were forced at the end.
        abort_cost_s: link time spent for nothing when aborted (0 otherwise).
        throttle_pct: the guest throttle in force at the end (auto-converge or SDPS), percent.
        high_risk: the convergence verdict flips within ±20 % of the dirty rate; the figures are
            then the pessimistic (+20 %) ones.
        nominal_total_s: for a high-risk move, the total time at the nominal dirty rate.
        hypervisor: preset name.
        precopy_rate_mibps: the pre-copy rate at the end (after the cap).
    """

    total_s: float
    downtime_ms: float
    transferred_mib: float
    iterations: int
    converges: bool
    outcome: Outcome
    stop_reason: str
    margin: float
    failure_action: str
    forced_stop_downtime_ms: float
    abort_cost_s: float
    throttle_pct: float
    hypervisor: str
    precopy_rate_mibps: float
    high_risk: bool = False
    nominal_total_s: float | None = None

    def to_record(self) -> MigrationEstimateRecord:
        """The plan's estimate object (``docs/plan.md``); every key beyond the five goes in ``extra``."""
        extra: dict[str, object] = {
            "outcome": self.outcome,
            "stop_reason": self.stop_reason,
            "margin": round(self.margin, 6),
            "high_risk": self.high_risk,
            "failure_action": self.failure_action,
            "forced_stop_downtime_ms": round(self.forced_stop_downtime_ms, 3),
            "abort_cost_s": round(self.abort_cost_s, 3),
            "throttle_pct": round(self.throttle_pct, 3),
            "hypervisor": self.hypervisor,
            "precopy_rate_mibps": round(self.precopy_rate_mibps, 3),
        }
        if self.nominal_total_s is not None:
            extra["nominal_total_s"] = round(self.nominal_total_s, 3)
        return MigrationEstimateRecord(
            total_s=self.total_s,
            downtime_ms=self.downtime_ms,
            transferred_mib=self.transferred_mib,
            iterations=self.iterations,
            converges=self.converges,
            extra=extra,
        )

"""Pre-copy live-migration estimator: a round-by-round fluid simulation with pluggable stop rules.

Why a simulation and not only the closed form ``V_i = V_0·(D/R)^i`` (Liu et al., HPDC 2011): caps
that are lifted at switchover, auto-converge throttling, SDPS, timeouts and link shares that change
in the middle of a migration all break the geometric series. The closed form survives as the
vectorised fast path :func:`estimate_fast`, which agrees with the simulation where both apply.

The model (``docs/estimator.md`` §1; iterative pre-copy as in Clark et al., NSDI 2005, costed round
by round as in Akoush et al., MASCOTS 2010), per pass ``i`` with pre-copy rate ``R`` and guest
progress ``f``:

- pass 0 sends the non-zero memory plus a 9-byte header per zero page:
  ``W_0 = M_nz + (M − M_nz)·9/4096``;
- a pass that puts ``W_i`` on the wire lasts ``T_i = W_i / R``; meanwhile the guest dirties
  ``V_{i+1} = min(M, U(f·T_i))`` unique MiB, where ``U(t) = D·t`` (constant rate) or
  ``U(t) = H·min(1, t/τ) + C·t`` (writable working set: hot set ``H`` rewritten every ``τ`` s, cold
  rate ``C``), and ``f = 1 − p`` under a throttle ``p``;
- later passes send ``W_{i+1} = κ·V_{i+1}`` (compression ratio ``κ``);
- the preset's stop rule is evaluated after each pass; the stop-and-copy then sends
  ``κ·V_n + S_dev`` at the switchover rate ``R_sw`` and the guest resumes after ``t_resume``:
  ``downtime = (κ·V_n + S_dev)/R_sw + t_resume``;
- non-convergence is a result: when the ratio ``W_{i+1}/W_i`` stays ≥ 0.95 for 3 passes and nothing
  else can help (no throttle left to raise, no pass cap), the preset's stall action applies: abort
  (the source VM keeps running) or a forced stop with its long downtime. No series is summed to a
  huge number and nothing divides by ``1 − D/R``.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from scheduler.migration.presets import PAGE_MIB, QEMU, HypervisorPreset, preset_for
from scheduler.model.plan import MigrationEstimateRecord
from scheduler.model.policy import MigrationPolicy
from scheduler.model.vm import VM

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

DATA_CAP_RTOL = 1e-9
"""Relative slack on the legacy-Xen data cap ``S > f·M``.

Why: Xen counts whole pages, so ``S = f·M`` exactly is not over the cap and pre-copy goes on. A
guest that re-dirties all of its memory sends ``M`` (or ``κ·M``) per pass and lands exactly on the
boundary; without the slack, floating-point noise in ``S`` (which depends on how the passes were
summed) would decide whether one more pass runs.
"""

SENSITIVITY = 0.20
"""Dirty-rate uncertainty for the risk check: the verdict is re-evaluated at ±20 %.

See the risk check in ``docs/estimator.md`` §1."""

_EPS_MIB = 1e-9
_EPS_S = 1e-12
_SNAP_S = 1e-9
"""An event this close to the end of an ``advance`` slice happens within it (absolute, seconds)."""
_SNAP_RTOL = 1e-12
"""The same, relative to the run's elapsed time (rounding grows with the clock)."""

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


Phase = Literal["precopy", "switchover", "resume", "done"]


@dataclass(slots=True)
class _State:
    """The mutable progress of one run; copied cheaply to look ahead."""

    phase: Phase
    round_wire_mib: float
    round_left_mib: float
    passes: int = 0
    round_elapsed_s: float = 0.0
    elapsed_s: float = 0.0
    transferred_mib: float = 0.0
    precopy_sent_mib: float = 0.0
    throttle: float = 0.0
    sdps_engaged: bool = False
    trigger_hits: int = 0
    period_dirtied_mib: float = 0.0
    period_sent_mib: float = 0.0
    period_s: float = 0.0
    stall_streak: int = 0
    final_raw_mib: float = 0.0
    switch_wire_mib: float = 0.0
    switch_left_mib: float = 0.0
    switch_elapsed_s: float = 0.0
    resume_left_s: float = 0.0
    stop_reason: str = ""
    forced: bool = False
    aborted: bool = False
    margin: float | None = None
    last_rate_mibps: float = 0.0
    forced_downtime_ms: float = 0.0

    def copy(self) -> _State:
        """An independent copy (every field is immutable); four times as fast as
        ``dataclasses.replace``, which the planner's look-ahead calls for every running move."""
        return _State(*_state_values(self))


_state_values = operator.attrgetter(*(f.name for f in dataclasses.fields(_State)))


class PrecopyRun:
    """One migration simulated event by event, under a rate that may change over time.

    Why stateful: when several migrations share a link, each one's rate changes whenever another
    starts or ends, so the shared-link simulation advances every run piece by piece at its current
    max-min share. ``estimate()`` is this run driven at one constant rate to the end.
    """

    def __init__(self, inp: MigrationInput, preset: HypervisorPreset | None = None) -> None:
        self.inp = inp
        self.preset = preset if preset is not None else QEMU
        first = inp.first_pass_mib
        self._s = _State(phase="precopy", round_wire_mib=first, round_left_mib=first)

    # -- queries ---------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Whether the migration has completed or been aborted."""
        return self._s.phase == "done"

    @property
    def elapsed_s(self) -> float:
        """Seconds since the migration started."""
        return self._s.elapsed_s

    @property
    def phase(self) -> Phase:
        """``precopy``, ``switchover`` (guest paused, final copy), ``resume`` or ``done``."""
        return self._s.phase

    @property
    def demand_mibps(self) -> float:
        """The rate this migration would use alone: ``min(cap, η·L)``; 0 once nothing is left to send."""
        if self._s.phase in ("resume", "done"):
            return 0.0
        cap = self.preset.bandwidth_cap_mibps
        link = self.inp.link_mibps
        if cap is None or (self._s.phase == "switchover" and self.preset.lift_cap_at_switchover):
            return link
        return min(cap, link)

    def copy(self) -> PrecopyRun:
        """An independent copy at the same point of progress."""
        other = PrecopyRun.__new__(PrecopyRun)
        other.inp = self.inp
        other.preset = self.preset
        other._s = self._s.copy()
        return other

    def time_to_end(self, rate_mibps: float) -> float:
        """Seconds until this run ends (completes or aborts) at a constant rate; inf if it never does."""
        if self.finished:
            return 0.0
        probe = self.copy()
        probe._run_to_end(rate_mibps)
        return probe._s.elapsed_s - self._s.elapsed_s if probe.finished else math.inf

    def time_to_finish(self, rate_mibps: float) -> float:
        """Seconds until the migration completes at a constant rate; inf if it would never complete.

        A run that would stall under a preset without timeout never completes on a real hypervisor
        (QEMU loops until cancelled), so that is inf; a configured timeout or a forced stop does end it.
        """
        return self.finish_and_landing(rate_mibps)[0]

    def lands(self, rate_mibps: float) -> bool:
        """Whether the migration, continued at this constant rate, ends with the VM on its target:
        converged or forced to a stop, but not aborted (a timeout or a stall the hypervisor gives
        up on leaves the VM running on its source)."""
        return self.finish_and_landing(rate_mibps)[1]

    def finish_and_landing(self, rate_mibps: float) -> tuple[float, bool]:
        """``(time_to_finish(rate), lands(rate))`` from one run to the end: the planner's look-ahead
        asks both of every move it simulates."""
        if self.finished:
            return 0.0, not self._s.aborted
        probe = self.copy()
        probe._run_to_end(rate_mibps)
        end = probe._s
        lands = probe.finished and not end.aborted
        if not probe.finished or (end.aborted and end.stop_reason == "stalled"):
            return math.inf, lands
        return end.elapsed_s - self._s.elapsed_s, lands

    def would_converge(self, rate_mibps: float) -> bool:
        """Whether the migration, continued at this constant rate, ends within its downtime budget."""
        probe = self.copy()
        probe._run_to_end(rate_mibps)
        return probe.finished and probe.result().converges

    # -- progress --------------------------------------------------------------------------------

    def _precopy_rate(self, rate_mibps: float) -> float:
        cap = self.preset.bandwidth_cap_mibps
        return max(0.0, rate_mibps if cap is None else min(cap, rate_mibps))

    def _switchover_rate(self, rate_mibps: float) -> float:
        if self.preset.lift_cap_at_switchover:
            return max(0.0, rate_mibps)
        return self._precopy_rate(rate_mibps)

    def _run_to_end(self, rate_mibps: float) -> None:
        if rate_mibps <= 0:
            # No bandwidth: only a timeout can end the run.
            timeout = self.preset.timeout_s
            if timeout is not None and self._s.phase == "precopy":
                self.advance(max(0.0, timeout - self._s.elapsed_s), rate_mibps)
            return
        self.advance(math.inf, rate_mibps)

    def advance(self, dt_s: float, rate_mibps: float) -> None:
        """Progress ``dt_s`` seconds with ``rate_mibps`` of bandwidth available to this migration.

        Continues the current pass, ends it when its data is sent (dirty accounting, throttle,
        stop rule), runs the stop-and-copy and the resume; stops early when the run ends.

        An event (end of a pass, of the stop-and-copy, of the resume, a timeout) that falls within
        rounding of the end of the slice happens in this call: ``advance(time_to_end(r), r)``
        ends the run, and a slice boundary a hair before a pass's end does not leave a sliver
        of the pass for the next call.
        """
        if dt_s < 0:
            raise ValueError("dt_s must be >= 0")
        s = self._s
        if dt_s == 0:
            return
        end_s = s.elapsed_s + dt_s
        slack = max(_SNAP_S, _SNAP_RTOL * end_s) if math.isfinite(end_s) else 0.0
        while s.phase != "done":
            left = end_s - s.elapsed_s
            if s.phase == "precopy":
                rate = self._precopy_rate(rate_mibps)
                s.last_rate_mibps = rate
                need = s.round_left_mib / rate if rate > 0 else math.inf
                timeout = self.preset.timeout_s
                to_timeout = math.inf if timeout is None else max(0.0, timeout - s.elapsed_s)
                event = min(need, to_timeout)
                step = event if event <= left + slack else left
                if math.isinf(step) or step <= _EPS_S < event:
                    return
                sent = min(s.round_left_mib, rate * step)
                s.round_left_mib -= sent
                s.transferred_mib += sent
                s.elapsed_s += step
                s.round_elapsed_s += step
                if step >= need or s.round_left_mib <= _EPS_MIB:
                    # Book the whole pass at once, so that the data sent (and the data cap tested
                    # on it) does not depend on how many slices the pass was advanced in.
                    s.round_left_mib = 0.0
                    s.precopy_sent_mib += s.round_wire_mib
                    s.transferred_mib = s.precopy_sent_mib
                    self._end_round(rate_mibps)
                elif step >= to_timeout:
                    self._abort("timeout", rate_mibps)
            elif s.phase == "switchover":
                rate = self._switchover_rate(rate_mibps)
                need = s.switch_left_mib / rate if rate > 0 else math.inf
                step = need if need <= left + slack else left
                if math.isinf(step) or step <= _EPS_S < need:
                    return
                sent = min(s.switch_left_mib, rate * step)
                s.switch_left_mib -= sent
                s.transferred_mib += sent
                s.elapsed_s += step
                s.switch_elapsed_s += step
                if step >= need or s.switch_left_mib <= _EPS_MIB:
                    s.switch_left_mib = 0.0
                    s.transferred_mib = s.precopy_sent_mib + s.switch_wire_mib
                    s.phase = "resume"
                    s.resume_left_s = self.inp.resume_ms / 1000.0
                    if s.resume_left_s <= 0:
                        s.phase = "done"
            else:  # resume: the guest restarts on the target; needs no bandwidth
                need = s.resume_left_s
                step = need if need <= left + slack else left
                if step <= _EPS_S < need:
                    return
                s.resume_left_s -= step
                s.elapsed_s += step
                if step >= need or s.resume_left_s <= _EPS_S:
                    s.resume_left_s = 0.0
                    s.phase = "done"

    def _guest_progress(self, precopy_rate: float) -> float:
        """Fraction of wall time the guest executes: ``1 − p``, lowered further by SDPS."""
        s = self._s
        progress = 1.0 - s.throttle
        peak = self.inp.peak_dirty_rate_mibps
        if (
            self.preset.sdps
            and peak * progress > self.preset.sdps_target_fraction * precopy_rate
            and peak > 0
        ):
            # SDPS: stun the vCPUs until the guest dirties at most ρ·R (VMWARE_SDPS_TARGET_FRACTION).
            progress = self.preset.sdps_target_fraction * precopy_rate / peak
            s.sdps_engaged = True
        return progress

    def _end_round(self, rate_mibps: float) -> None:
        """Close pass ``i``: dirty accounting, throttle, stop rule, stall detection."""
        s = self._s
        preset = self.preset
        inp = self.inp
        rate = self._precopy_rate(rate_mibps)
        avg_rate = s.round_wire_mib / s.round_elapsed_s if s.round_elapsed_s > 0 else rate
        progress = self._guest_progress(avg_rate)
        dirtied = inp.dirtied_mib(progress * s.round_elapsed_s)
        next_wire = inp.compression_ratio * dirtied
        s.passes += 1
        if s.margin is None:
            uncapped = inp.dirtying_mib(s.round_elapsed_s)  # the guest unthrottled
            s.margin = 1.0 - (uncapped / s.round_wire_mib if s.round_wire_mib > 0 else 0.0)

        if preset.auto_converge:
            self._auto_converge(dirtied, s.round_wire_mib, s.round_elapsed_s)

        reason = self._stop_reason(dirtied, next_wire, rate, self._switchover_rate(rate_mibps))
        if reason is not None:
            self._begin_switchover(reason, dirtied, rate_mibps, forced=False)
            return

        ratio = next_wire / s.round_wire_mib if s.round_wire_mib > 0 else math.inf
        s.stall_streak = s.stall_streak + 1 if ratio >= STALL_RATIO else 0
        can_throttle_more = preset.auto_converge and s.throttle < preset.throttle_max - 1e-12
        capped = preset.max_rounds is not None or preset.max_data_factor is not None
        stalled = (s.stall_streak >= STALL_ROUNDS and not can_throttle_more and not capped) or (
            s.passes >= MAX_SIMULATED_ROUNDS
        )
        if stalled:
            if preset.on_stall == "force":
                self._begin_switchover("stalled", dirtied, rate_mibps, forced=True)
            else:
                s.final_raw_mib = dirtied
                self._abort("stalled", rate_mibps)
            return

        s.round_wire_mib = next_wire
        s.round_left_mib = next_wire
        s.round_elapsed_s = 0.0

    def _auto_converge(self, dirtied_mib: float, sent_mib: float, duration_s: float) -> None:
        """QEMU ``migration_trigger_throttle``: raise the throttle after two periods of heavy dirtying."""
        s = self._s
        preset = self.preset
        s.period_dirtied_mib += dirtied_mib
        s.period_sent_mib += sent_mib
        s.period_s += duration_s
        if s.period_s < preset.throttle_period_s:
            return
        if s.period_dirtied_mib > preset.throttle_trigger_ratio * s.period_sent_mib:
            s.trigger_hits += 1
            if s.trigger_hits >= preset.throttle_trigger_count:
                s.trigger_hits = 0
                if s.throttle <= 0:
                    s.throttle = preset.throttle_initial
                else:
                    s.throttle = min(preset.throttle_max, s.throttle + preset.throttle_increment)
        s.period_dirtied_mib = 0.0
        s.period_sent_mib = 0.0
        s.period_s = 0.0

    def _stop_reason(
        self, dirtied_mib: float, next_wire_mib: float, rate: float, sw_rate: float
    ) -> str | None:
        """The preset's stop rule on the dirty data left, the passes done and the data sent."""
        preset = self.preset
        s = self._s
        if dirtied_mib <= 0:
            return "clean"
        if preset.threshold_rule and rate > 0 and sw_rate > 0:
            # Pending must fit the budget at the measured rate; the device state and the resume
            # come out of the same budget, so the downtime stays within it (R_sw ≥ R_meas).
            measured = sw_rate if preset.threshold_at_switchover_rate else rate
            budget_s = (
                preset.downtime_limit_ms / 1000.0
                - self.inp.resume_ms / 1000.0
                - self.inp.device_state_mib / sw_rate
            )
            if next_wire_mib <= measured * budget_s:
                return "threshold"
        if preset.min_dirty_pages is not None and dirtied_mib < preset.min_dirty_pages * PAGE_MIB:
            return "dirty_pages"
        if preset.max_rounds is not None and s.passes >= preset.max_rounds:
            return "max_rounds"
        if preset.max_data_factor is not None and s.precopy_sent_mib > (
            preset.max_data_factor * self.inp.memory_mib * (1.0 + DATA_CAP_RTOL)
        ):
            return "data_cap"
        return None

    def _begin_switchover(self, reason: str, dirtied_mib: float, rate_mibps: float, *, forced: bool) -> None:
        s = self._s
        s.stop_reason = reason
        s.forced = forced
        s.final_raw_mib = dirtied_mib
        pending = self.inp.compression_ratio * dirtied_mib + self.inp.device_state_mib
        sw_rate = self._switchover_rate(rate_mibps)
        s.forced_downtime_ms = 1000.0 * pending / sw_rate + self.inp.resume_ms if sw_rate > 0 else math.inf
        limit = self.preset.max_switchover_s
        if limit is not None and sw_rate > 0 and pending / sw_rate > limit:
            self._abort("switchover_timeout", rate_mibps)
            return
        s.phase = "switchover"
        s.switch_wire_mib = pending
        s.switch_left_mib = pending

    def _abort(self, reason: str, rate_mibps: float) -> None:
        s = self._s
        s.stop_reason = reason
        s.aborted = True
        if s.phase == "precopy" and reason == "timeout":
            # What forcing the switchover now would cost: everything dirty since the last pass.
            s.final_raw_mib = max(s.final_raw_mib, self.inp.dirtied_mib(s.round_elapsed_s) + s.round_left_mib)
        pending = self.inp.compression_ratio * s.final_raw_mib + self.inp.device_state_mib
        sw_rate = self._switchover_rate(rate_mibps)
        s.forced_downtime_ms = 1000.0 * pending / sw_rate + self.inp.resume_ms if sw_rate > 0 else math.inf
        s.phase = "done"

    # -- result ----------------------------------------------------------------------------------

    def result(self) -> MigrationEstimate:
        """The estimate of a finished run; ``total_s`` equals ``elapsed_s``."""
        s = self._s
        if s.phase != "done":
            raise RuntimeError("result() needs a finished run")
        preset = self.preset
        margin = s.margin if s.margin is not None else self._margin_now()
        throttle_pct = 100.0 * s.throttle
        if s.sdps_engaged:
            rate = s.last_rate_mibps
            peak = self.inp.peak_dirty_rate_mibps
            sdps = 1.0 - preset.sdps_target_fraction * rate / peak if peak > 0 and rate > 0 else 0.0
            throttle_pct = max(throttle_pct, 100.0 * max(0.0, sdps))
        if s.aborted:
            return MigrationEstimate(
                total_s=s.elapsed_s,
                downtime_ms=0.0,
                transferred_mib=s.transferred_mib,
                iterations=s.passes,
                converges=False,
                outcome="aborted",
                stop_reason=s.stop_reason,
                margin=margin,
                failure_action=preset.failure_action,
                forced_stop_downtime_ms=s.forced_downtime_ms,
                abort_cost_s=s.elapsed_s,
                throttle_pct=throttle_pct,
                hypervisor=preset.name,
                precopy_rate_mibps=s.last_rate_mibps,
            )
        downtime_ms = 1000.0 * s.switch_elapsed_s + self.inp.resume_ms
        within = downtime_ms <= preset.downtime_limit_ms * (1 + 1e-9) + 1e-9
        outcome: Outcome
        if not within:
            outcome = "forced_stop"
        elif s.throttle > 0 or s.sdps_engaged:
            outcome = "throttled"
        else:
            outcome = "converged"
        return MigrationEstimate(
            total_s=s.elapsed_s,
            downtime_ms=downtime_ms,
            transferred_mib=s.transferred_mib,
            iterations=s.passes,
            converges=within,
            outcome=outcome,
            stop_reason=s.stop_reason,
            margin=margin,
            failure_action=preset.failure_action,
            forced_stop_downtime_ms=downtime_ms,
            abort_cost_s=0.0,
            throttle_pct=throttle_pct,
            hypervisor=preset.name,
            precopy_rate_mibps=s.last_rate_mibps,
        )

    def _margin_now(self) -> float:
        rate = self._precopy_rate(self.inp.available_mibps)
        if rate <= 0:
            return -math.inf
        first_s = self.inp.first_pass_mib / rate
        return (
            1.0 - self.inp.dirtying_mib(first_s) / self.inp.first_pass_mib if self.inp.first_pass_mib else 1.0
        )


# -- one-shot estimates ------------------------------------------------------------------------------


def simulate(inp: MigrationInput, preset: HypervisorPreset | None = None) -> MigrationEstimate:
    """Run one migration at its constant share of the link to the end (no sensitivity check)."""
    run = PrecopyRun(inp, preset)
    run._run_to_end(inp.available_mibps)
    if not run.finished:  # only reachable with no bandwidth and no timeout, excluded by validation
        raise RuntimeError("migration cannot end without bandwidth")
    return run.result()


def estimate(inp: MigrationInput, preset: HypervisorPreset | None = None) -> MigrationEstimate:
    """Estimate one migration at ``share`` of its link, with the ±20 % dirty-rate risk check.

    Why the risk check: a move near ``λ = 1`` converges or not depending on a dirty rate known to
    maybe 20 %; such a move is flagged ``high_risk`` and costed at the pessimistic (+20 %) value.
    Otherwise the result equals :class:`PrecopyRun` driven at ``s·η·L`` to the end.
    """
    nominal = simulate(inp, preset)
    if inp.peak_dirty_rate_mibps <= 0:
        return nominal
    low = simulate(inp.scaled_dirtying(1.0 - SENSITIVITY), preset)
    high = simulate(inp.scaled_dirtying(1.0 + SENSITIVITY), preset)
    if low.converges == nominal.converges == high.converges:
        return nominal
    # Time and outcome are the pessimistic run's (what the move is costed at), but the margin stays
    # the nominal rate's 1 − λ_0: it is what says how close to the edge the move is, and the +20 %
    # run's margin would report the edge itself.
    return dataclasses.replace(high, high_risk=True, nominal_total_s=nominal.total_s, margin=nominal.margin)


def migration_input_for(vm: VM, policy: MigrationPolicy) -> MigrationInput:
    """The estimator input for one inventory VM under the cluster's migration policy."""
    return MigrationInput(
        memory_mib=float(vm.memory_mib),
        dirty_rate_mibps=float(vm.dirty_rate_mibps),
        network_gbps=float(policy.network_gbps),
        nonzero_mib=None if vm.nonzero_mib is None else float(min(vm.nonzero_mib, vm.memory_mib)),
    )


def nic_payload_mibps(policy: MigrationPolicy) -> float:
    """Each host's NIC under ``policy``, as migration payload (MiB/s, per direction): what the
    planner shares between concurrent moves and the checker re-simulates them on."""
    return policy.network_gbps * MIBPS_PER_GBPS * LINK_EFFICIENCY


def preset_for_policy(policy: MigrationPolicy) -> HypervisorPreset:
    """The policy's hypervisor preset with its downtime limit and timeout."""
    return preset_for(
        policy.hypervisor, downtime_limit_ms=policy.downtime_limit_ms, timeout_s=policy.timeout_s
    )


def estimate_vm(vm: VM, policy: MigrationPolicy, *, share: float = 1.0) -> MigrationEstimate:
    """Estimate moving ``vm`` under ``policy`` with ``share`` of the link (1.0 = alone)."""
    inp = dataclasses.replace(migration_input_for(vm, policy), share=share)
    return estimate(inp, preset_for_policy(policy))


# -- vectorised fast path ----------------------------------------------------------------------------

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FastEstimates:
    """Arrays of estimates from :func:`estimate_fast` (same shapes as the broadcast inputs)."""

    total_s: FloatArray
    downtime_ms: FloatArray
    transferred_mib: FloatArray
    iterations: npt.NDArray[np.int64]
    converges: npt.NDArray[np.bool_]
    aborted: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))


def _first_index_below(v1: FloatArray, q: FloatArray, target: FloatArray, strict: bool) -> FloatArray:
    """Smallest ``i ≥ 1`` with ``v1·q^(i−1) ≤ target`` (``<`` when strict); inf when none.

    Closed form ``i = 1 + ⌈log(target/v1)/log q⌉`` for ``0 < q < 1``, then nudged by one where
    floating point put the boundary on the wrong side, so it matches the pass-by-pass simulation.
    """

    def ok(values: FloatArray) -> npt.NDArray[np.bool_]:
        return values < target if strict else values <= target

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        first_ok = ok(v1)
        shrinking = (q > 0) & (q < 1) & (target > 0)
        raw = np.log(np.where(shrinking, target / v1, 1.0)) / np.log(np.where(shrinking, q, 0.5))
        k = np.ceil(np.maximum(raw, 0.0))
        k = np.where(shrinking, k, 0.0)
        k = np.where(shrinking & ~ok(v1 * q**k), k + 1, k)
        k = np.where(shrinking & (k > 1) & ok(v1 * q ** (k - 1)), k - 1, k)
        index = np.where(first_ok, 1.0, np.where(shrinking, 1.0 + k, np.inf))
        index = np.where(v1 <= 0, 1.0, index)
    return np.asarray(index, dtype=np.float64)


def estimate_fast(
    memory_mib: npt.ArrayLike,
    dirty_rate_mibps: npt.ArrayLike,
    rate_mibps: float | npt.ArrayLike,
    downtime_limit_ms: float,
    *,
    nonzero_mib: npt.ArrayLike | None = None,
    switchover_rate_mibps: float | npt.ArrayLike | None = None,
    threshold_rule: bool = True,
    threshold_at_switchover_rate: bool = False,
    min_dirty_pages: int | None = None,
    max_rounds: int | None = None,
    compression_ratio: float = 1.0,
    device_state_mib: float = DEVICE_STATE_MIB,
    resume_ms: float = 0.0,
) -> FastEstimates:
    """Closed-form estimates for constant dirty rates, vectorised over numpy arrays.

    Why: the optimizer's inner loop costs thousands of candidate moves; this needs no Python loop.
    It covers the QEMU-style threshold rule (``pending ≤ R·(d − t_resume − S_dev/R_sw)``), the Xen
    dirty-page and pass-cap rules, compression and the stall abort, with no throttle, no timeout and
    no data cap; use the simulation for those.

    Maths, with ``W_0`` the first-pass data, ``q = κ·D/R`` and ``V_1 = min(M, D·W_0/R)``:
    ``V_i = min(M, V_1·q^(i−1))``; the stop pass ``n`` is the first ``i`` meeting the rule (closed
    form via logarithms); the data sent before it is
    ``Σ_{i<n} κV_i = κ·(V_1·(1 − q^m)/(1 − q) + (n − 1 − m)·M)`` with ``m`` the passes below the
    memory cap; ``total = (W_0 + Σ)/R + (κV_n + S_dev)/R_sw + t_resume``. Without a pass cap,
    ``q ≥ 0.95`` stalls after 3 passes (4 when the first pass's ratio is below 0.95) and aborts.
    """
    mem = np.asarray(memory_mib, dtype=np.float64)
    dirty = np.asarray(dirty_rate_mibps, dtype=np.float64)
    rate = np.asarray(rate_mibps, dtype=np.float64)
    sw = rate if switchover_rate_mibps is None else np.asarray(switchover_rate_mibps, dtype=np.float64)
    nz = mem if nonzero_mib is None else np.asarray(nonzero_mib, dtype=np.float64)
    mem, dirty, rate, sw, nz = np.broadcast_arrays(mem, dirty, rate, sw, nz)
    if np.any(rate <= 0) or np.any(sw <= 0) or np.any(mem <= 0) or np.any(dirty < 0):
        raise ValueError("estimate_fast needs memory > 0, dirty rate >= 0 and rates > 0")
    kappa = float(compression_ratio)
    wire0 = nz + (mem - nz) * ZERO_PAGE_WIRE_FRACTION
    v1 = np.minimum(mem, dirty * (wire0 / rate))
    q = kappa * dirty / rate

    n_stop = np.full(mem.shape, np.inf)
    if threshold_rule:
        measured = sw if threshold_at_switchover_rate else rate
        budget = measured * (downtime_limit_ms / 1000.0 - resume_ms / 1000.0 - device_state_mib / sw)
        # κ·V_i ≤ budget  ⇔  V_i ≤ budget/κ; a negative budget is never met (except by V = 0).
        n_stop = np.minimum(n_stop, _first_index_below(v1, q, budget / kappa, strict=False))
    if min_dirty_pages is not None:
        target = np.full(mem.shape, min_dirty_pages * PAGE_MIB)
        n_stop = np.minimum(n_stop, _first_index_below(v1, q, target, strict=True))
    n_stop = np.where(v1 <= 0, 1.0, n_stop)
    if max_rounds is not None:
        n_stop = np.minimum(n_stop, float(max_rounds))
        n_stall = np.full(mem.shape, np.inf)
    else:
        first_ratio = kappa * v1 / wire0
        n_stall = np.where(q >= STALL_RATIO, np.where(first_ratio >= STALL_RATIO, 3.0, 4.0), np.inf)
    n_stop = np.minimum(n_stop, float(MAX_SIMULATED_ROUNDS))
    aborted = n_stall < n_stop
    n = np.where(aborted, n_stall, n_stop)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        growing = q > 1
        below_cap = np.where(
            growing,
            np.ceil(np.log(np.where(growing & (v1 > 0), mem / np.where(v1 > 0, v1, 1.0), 1.0)) / np.log(q)),
            n - 1,
        )
        m = np.clip(np.where(v1 <= 0, n - 1, below_cap), 0, n - 1)
        geometric = np.where(np.isclose(q, 1.0), v1 * m, v1 * (1 - q**m) / (1 - q))
        sent_between = kappa * (geometric + (n - 1 - m) * mem)
        v_n = np.minimum(mem, v1 * q ** (n - 1))
    v_n = np.where(v1 <= 0, 0.0, v_n)
    precopy_s = (wire0 + sent_between) / rate
    final_mib = kappa * v_n + device_state_mib
    downtime_s = final_mib / sw + resume_ms / 1000.0
    total = np.where(aborted, precopy_s, precopy_s + downtime_s)
    transferred = np.where(aborted, wire0 + sent_between, wire0 + sent_between + final_mib)
    downtime_ms = np.where(aborted, 0.0, 1000.0 * downtime_s)
    converges = ~aborted & (downtime_ms <= downtime_limit_ms * (1 + 1e-9) + 1e-9)
    return FastEstimates(
        total_s=total,
        downtime_ms=downtime_ms,
        transferred_mib=transferred,
        iterations=n.astype(np.int64),
        converges=converges,
        aborted=aborted,
    )

"""Pre-copy live-migration estimator: a round-by-round fluid simulation with pluggable stop rules.

Why a simulation and not only the closed form ``V_i = V_0·(D/R)^i`` (Liu et al., HPDC 2011): caps
that are lifted at switchover, auto-converge throttling, SDPS, timeouts and link shares that change
in the middle of a migration all break the geometric series. The closed form survives as the
vectorised fast path :func:`estimate_fast` (``precopy_fast.py``), which agrees with the simulation
where both apply.

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

This module holds :class:`PrecopyRun`, the simulation itself, and the one-shot estimates built on
it. The inputs and results live in ``precopy_model.py`` and the fast path in ``precopy_fast.py``;
both are re-exported here, so ``scheduler.migration.precopy`` keeps its public names.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from dataclasses import dataclass
from typing import Literal

from scheduler.migration.precopy_fast import FastEstimates, FloatArray, estimate_fast
from scheduler.migration.precopy_model import (
    DEVICE_STATE_MIB,
    LINK_EFFICIENCY,
    MAX_SIMULATED_ROUNDS,
    MIBPS_PER_GBPS,
    STALL_RATIO,
    STALL_ROUNDS,
    ZERO_PAGE_WIRE_FRACTION,
    MigrationEstimate,
    MigrationInput,
    Outcome,
    WorkingSet,
)
from scheduler.migration.presets import PAGE_MIB, QEMU, HypervisorPreset, preset_for
from scheduler.model.policy import MigrationPolicy
from scheduler.model.vm import VM

__all__ = [
    "DATA_CAP_RTOL",
    "DEVICE_STATE_MIB",
    "LINK_EFFICIENCY",
    "MAX_SIMULATED_ROUNDS",
    "MIBPS_PER_GBPS",
    "SENSITIVITY",
    "STALL_RATIO",
    "STALL_ROUNDS",
    "ZERO_PAGE_WIRE_FRACTION",
    "FastEstimates",
    "FloatArray",
    "MigrationEstimate",
    "MigrationInput",
    "Outcome",
    "Phase",
    "PrecopyRun",
    "WorkingSet",
    "estimate",
    "estimate_fast",
    "estimate_vm",
    "migration_input_for",
    "nic_payload_mibps",
    "preset_for_policy",
    "simulate",
]

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
    maybe 20 %; such a move is flagged ``high_risk`` and costed at the pessimistic run: the first of
    +20 %, nominal and −20 % that does not converge.
    Otherwise the result equals :class:`PrecopyRun` driven at ``s·η·L`` to the end.
    """
    nominal = simulate(inp, preset)
    if inp.peak_dirty_rate_mibps <= 0:
        return nominal
    low = simulate(inp.scaled_dirtying(1.0 - SENSITIVITY), preset)
    high = simulate(inp.scaled_dirtying(1.0 + SENSITIVITY), preset)
    if low.converges == nominal.converges == high.converges:
        return nominal
    # The pessimistic run is the first that does not converge: the +20 % one as a rule, but under
    # auto-converge a faster-dirtying guest is throttled sooner and may converge where the nominal
    # rate stalls, and a move that aborts at its own rate must not be reported as throttled.
    pessimistic = next(run for run in (high, nominal, low) if not run.converges)
    # Time and outcome are the pessimistic run's (what the move is costed at), but the margin stays
    # the nominal rate's 1 − λ_0: it is what says how close to the edge the move is, and the
    # pessimistic run's margin would report the edge itself.
    return dataclasses.replace(
        pessimistic, high_risk=True, nominal_total_s=nominal.total_s, margin=nominal.margin
    )


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

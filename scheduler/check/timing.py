"""Re-simulate a plan's migrations on the shared host links and compare with what the plan says.

Description
    The replay (``replay.py``) takes each move's ``estimate`` as given; this check derives it. Every
    migration starts at its ``start_s`` on links shared as the planner shares them (each host's NIC,
    egress and ingress apart, ``links.SharedLinkSimulation``), and its pre-copy runs under the
    policy's hypervisor preset. A move must end where the plan says and keep the plan's verdict
    (converges or not), downtime and data moved. So a plan cannot claim concurrent moves as free
    parallelism, shorten a move, or call a stalling move converged, without the checker noticing.
Requirements
    The inventory's migration policy (``network_gbps``, hypervisor, downtime limit, timeout) is the
    one the plan was made under.
Limitations
    Moves the replay cannot replay at all (``replay.unreplayable``: unknown VM or host, a new VM,
    negative or reversed times) are left out of the re-simulation, which then runs without them;
    the replay reports them.
"""

from __future__ import annotations

from scheduler.check.findings import MIGRATION_TIMING, Finding
from scheduler.check.replay import unreplayable
from scheduler.migration.links import MoveSpec, SharedLinkSimulation
from scheduler.migration.precopy import (
    MigrationEstimate,
    migration_input_for,
    nic_payload_mibps,
    preset_for_policy,
)
from scheduler.model import Instance, Migration, Plan

# How far a plan's figures may stray from the re-simulation: enough for figures rounded when
# written, far too little for a move whose link share was left out.
TIME_RTOL = 1e-3  # of the move's duration
TIME_ATOL_S = 0.01
DOWNTIME_ATOL_MS = 1.0
DATA_RTOL = 1e-3
DATA_ATOL_MIB = 1.0


def timing_findings(instance: Instance, plan: Plan) -> list[Finding]:
    """A finding per migration whose end, verdict, downtime or data differ from its re-simulation
    (module docstring); none for a plan without migrations."""
    moves = [(i, m) for i, m in enumerate(plan.migrations) if unreplayable(instance, m) is None]
    if not moves:
        return []
    policy = instance.policy.migration
    preset = preset_for_policy(policy)
    nics = dict.fromkeys(instance.host_index, nic_payload_mibps(policy))
    simulation: SharedLinkSimulation[int] = SharedLinkSimulation(nics)
    for i, m in sorted(moves, key=lambda move: move[1].start_s):
        inp = migration_input_for(instance.vm(m.vm), policy)
        simulation.add(MoveSpec(i, m.source, m.target, inp, preset), m.start_s)
    simulated = simulation.run_to_completion()
    out: list[Finding] = []
    for i, m in moves:
        _start, end_s, estimate = simulated[i]
        problem = _difference(m, end_s, estimate)
        if problem:
            out.append(Finding(MIGRATION_TIMING, f"migration of {m.vm}: {problem}", m.start_s, vm=m.vm))
    return out


def _difference(m: Migration, end_s: float, estimate: MigrationEstimate) -> str:
    """What the plan says about ``m`` that its re-simulation (``end_s``, ``estimate``) does not:
    the first difference found, or ''."""
    ran = f"re-simulated on the shared links from its start at {m.start_s:g} s"
    if estimate.outcome == "aborted":
        if m.estimate.extra.get("outcome") == "aborted":
            return ""  # the plan says so itself, and the replay reports it
        return f"{ran}, the hypervisor gives it up ({estimate.stop_reason}) at {end_s:g} s"
    if estimate.converges != m.estimate.converges:
        verdict = "converges" if estimate.converges else "does not converge"
        return f"{ran}, it {verdict}, but its estimate says converges={m.estimate.converges}"
    duration_s = end_s - m.start_s
    if abs(m.end_s - end_s) > max(TIME_ATOL_S, TIME_RTOL * duration_s):
        return f"{ran}, it ends at {end_s:g} s ({duration_s:g} s), not at {m.end_s:g} s"
    if abs(m.estimate.downtime_ms - estimate.downtime_ms) > DOWNTIME_ATOL_MS:
        return f"{ran}, its downtime is {estimate.downtime_ms:g} ms, not {m.estimate.downtime_ms:g} ms"
    moved = estimate.transferred_mib
    if abs(m.estimate.transferred_mib - moved) > max(DATA_ATOL_MIB, DATA_RTOL * moved):
        return f"{ran}, it sends {moved:g} MiB, not {m.estimate.transferred_mib:g} MiB"
    return ""


__all__ = ["timing_findings"]

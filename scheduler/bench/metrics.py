"""One results row per run (instance × contender × seed): balance, bounds, power, rules, moves, cost.

Every figure is recomputed here from the instance and the plan with the solver-free checker
(``check.cluster_metrics``, ``check.lower_bounds``), never taken from what a contender says about
itself. Definitions:

- imbalance_<r>: population std-dev of host utilization (demand / capacity) over hosts up, as DRS
  measures it; drs_imbalance is the largest over the policy's measured resources, drs_tolerance
  the threshold's tolerance (empty when the threshold asks for no balancing).
- fluid_gap_<r>: (max host utilization − fluid lower bound) / fluid lower bound; compat_bound_cpu:
  the same bound with load split only where compatibility allows (an LP), never below it.
- imbalance_floor: the least DRS imbalance any placement can reach (``check.imbalance_floor``, the
  largest over the measured resources, over the hosts up after the plan): above drs_tolerance, the
  tolerance is out of reach for every contender, and what is left to compare is how close each
  comes to the floor.
- migration_s_bound: the least Σ migration seconds (each move alone on a free link) any plan needs
  to reach this row's final balance — each measured resource's imbalance and the CPU peak no worse
  than this row's, over the hosts it leaves up (``check.migration_bound``, an LP relaxation): the
  price of the balance a contender chose, so contenders that stop at different balances compare
  by migration_s_alone / migration_s_bound. Blank above ``MIGRATION_BOUND_MAX_VMS`` VMs.
- hosts_on / hosts_bound_l2: hosts up after the plan against the Martello–Toth L2 bound with
  demand packed to DPM's high target (``lower_bounds()["hosts_dpm_target"]["l2"]``);
  hosts_bound_best the best host-count bound at full capacity (L1, L2, with compatibility
  (``check.host_bound``), anti-affinity, immobile, min hosts on), hosts_bound_dpm the best at
  DPM's high target.
- migration_s_total: Σ of every move's estimated duration as scheduled (moves that share a host's
  link slow each other down, so a plan of many concurrent moves pays for the sharing);
  migration_s_alone: Σ of each move's pre-copy estimate run alone on a free link (what the
  optimizer's cost level counts, independent of the schedule); data_moved_gib: Σ transferred memory;
  makespan_s: end of the last move; non_converging_moves: moves whose estimate does not converge.
- solve_time_s: the contender's own search time; wall_s: the whole run (search, planning, verify).
- peak_rss_mib: the high-water resident memory of the process that ran it (``getrusage``
  ``ru_maxrss``), including the interpreter and libraries; peak_rss_delta_mib: its growth during
  the run. In the serial runner every run has its own forked process, so both are per run; under
  dask a worker runs many, so peak_rss_mib is that worker's peak so far (an upper bound).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final, Literal

import numpy as np

from scheduler.bench.contenders import RunOutcome
from scheduler.check.bounds import imbalance_floor, lower_bounds
from scheduler.check.metrics import ClusterMetrics, cluster_metrics
from scheduler.check.migration_bound import migration_bounds
from scheduler.compat import Compatibility, compatibility
from scheduler.model import Instance
from scheduler.solver.costs import move_costs

KEY_COLUMNS: Final = ("instance", "contender", "seed")
# The migration bound's LP has a variable per VM (about 30 s at 10,000); above this many, minutes.
MIGRATION_BOUND_MAX_VMS: Final = 20_000
RESOURCES: Final[tuple[Literal["cpu", "memory"], ...]] = ("cpu", "memory")
# What a run produced, independent of timing and machine: equal across executors for the
# deterministic contenders.
RESULT_COLUMNS: Final = (
    "status",
    "valid",
    "imbalance_cpu",
    "imbalance_memory",
    "drs_imbalance",
    "max_util_cpu",
    "max_util_memory",
    "min_util_cpu",
    "min_util_memory",
    "hosts_on",
    "watts",
    "violations_p1",
    "violations_p2",
    "violations_p3",
    "migrations",
    "parking_moves",
    "migration_s_total",
    "migration_s_alone",
    "data_moved_gib",
    "makespan_s",
    "non_converging_moves",
)
COLUMNS: Final = (
    *KEY_COLUMNS,
    "family",
    "hosts",
    "vms",
    "rules",
    "load",
    "threshold",
    "dpm",
    "time_limit_s",
    "cp_workers",
    *RESULT_COLUMNS,
    "drs_tolerance",
    "drs_balanced",
    "imbalance_cpu_before",
    "imbalance_memory_before",
    "drs_imbalance_before",
    "max_util_cpu_before",
    "max_util_memory_before",
    "fluid_bound_cpu",
    "fluid_bound_memory",
    "compat_bound_cpu",
    "imbalance_floor",
    "migration_s_bound",
    "fluid_gap_cpu",
    "fluid_gap_memory",
    "hosts_on_before",
    "hosts_bound_l2",
    "hosts_bound_best",
    "hosts_bound_dpm",
    "watts_before",
    "watts_bound",
    "solve_time_s",
    "wall_s",
    "peak_rss_mib",
    "peak_rss_delta_mib",
    "proven_gap",
    "gap_level",
    "findings",
    "note",
)


def run_row(
    key: Mapping[str, Any],
    outcome: RunOutcome,
    *,
    wall_s: float,
    peak_rss_mib: float,
    peak_rss_delta_mib: float,
) -> dict[str, Any]:
    """The results row of one finished run; ``key`` holds the key and descriptive columns."""
    instance = outcome.instance
    row = empty_row(key)
    before = cluster_metrics(instance, instance.current_placement())
    compat = compatibility(instance)
    bounds = lower_bounds(instance, compat)
    cost_s = move_costs(instance).seconds
    row.update(
        {
            "status": outcome.status,
            "valid": "" if outcome.valid is None else outcome.valid,
            "imbalance_cpu_before": before.imbalance["cpu"],
            "imbalance_memory_before": before.imbalance["memory"],
            "drs_imbalance_before": before.drs_imbalance,
            "max_util_cpu_before": before.max_utilization["cpu"],
            "max_util_memory_before": before.max_utilization["memory"],
            "fluid_bound_cpu": bounds["max_utilization"]["cpu"],
            "fluid_bound_memory": bounds["max_utilization"]["memory"],
            "compat_bound_cpu": bounds["max_utilization_compat"]["cpu"],
            "imbalance_floor": max(
                float(bounds["imbalance"][r]) for r in instance.policy.drs.measure.resources
            ),
            "hosts_on_before": before.hosts_up,
            "hosts_bound_l2": bounds["hosts_dpm_target"]["l2"],
            "hosts_bound_best": bounds["hosts"]["best"],
            "hosts_bound_dpm": bounds["hosts_dpm_target"]["best"],
            "watts_before": round(before.total_watts, 1),
            "watts_bound": round(float(bounds["watts"]), 1),
            "solve_time_s": round(outcome.solve_time_s, 3),
            "wall_s": round(wall_s, 3),
            "peak_rss_mib": round(peak_rss_mib, 1),
            "peak_rss_delta_mib": round(peak_rss_delta_mib, 1),
            "proven_gap": "" if outcome.proven_gap is None else round(outcome.proven_gap, 6),
            "gap_level": outcome.gap_level,
            "findings": " | ".join(outcome.findings[:5]),
            "note": outcome.note,
        }
    )
    after = _after(outcome)
    if after is not None:
        row.update(state_columns(instance, after))
        up_after = np.array([h.state == "up" for h in after.hosts], dtype=np.bool_)
        if not np.array_equal(up_after, [h.is_usable for h in instance.hosts]):
            # DPM changed which hosts are up: the floor that counts is over the hosts left up.
            measured = instance.policy.drs.measure.resources
            row["imbalance_floor"] = max(
                imbalance_floor(instance, r, on_mask=up_after) for r in RESOURCES if r in measured
            )
        row["migration_s_bound"] = _migration_bound(instance, after, up_after, compat, cost_s)
        for r in ("cpu", "memory"):
            bound = float(bounds["max_utilization"][r])
            row[f"fluid_gap_{r}"] = (after.max_utilization[r] - bound) / bound if bound > 0 else ""
    if outcome.plan is not None:
        row.update(move_columns(outcome, cost_s))
    return row


def empty_row(key: Mapping[str, Any]) -> dict[str, Any]:
    """A row with every column, blank except the given ones."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS, "")
    row.update({k: v for k, v in key.items() if k in row})
    return row


def error_row(key: Mapping[str, Any], message: str, *, wall_s: float = 0.0) -> dict[str, Any]:
    """The row of a run that raised or crashed: status ``error`` and the message."""
    row = empty_row(key)
    row.update({"status": "error", "note": message[:500], "wall_s": round(wall_s, 3)})
    return row


def _migration_bound(
    instance: Instance, after: ClusterMetrics, up_after: np.ndarray, compat: Compatibility, cost_s: np.ndarray
) -> float | str:
    """``migration_s_bound`` of a final state, rounded; blank on clusters too large for its LP."""
    if instance.num_vms > MIGRATION_BOUND_MAX_VMS or not up_after.any():
        return ""
    movable = np.array([not v.immobility_reasons() for v in instance.vms], dtype=np.bool_)
    reached = [(r, float(after.imbalance[r])) for r in instance.policy.drs.measure.resources]
    bounds = migration_bounds(
        instance,
        cost_s,
        compat.allowed,
        movable,
        up_after,
        reached,
        cpu_cap=float(after.max_utilization["cpu"]),
    )
    return round(bounds.whole, 3)


def _after(outcome: RunOutcome) -> ClusterMetrics | None:
    """The final state's indicators: the plan's, or for an invalid target the target's own."""
    instance = outcome.instance
    if outcome.plan is not None and outcome.plan.placement:
        return cluster_metrics(instance, outcome.plan.placement, outcome.plan.host_states)
    if outcome.target is not None:
        try:
            return cluster_metrics(instance, outcome.target.placement, outcome.target.host_states)
        except (KeyError, ValueError):
            return None  # names unknown hosts: nothing measurable
    return None


def state_columns(instance: Instance, after: ClusterMetrics) -> dict[str, Any]:
    """Balance, utilization, hosts, power and rule columns of a final state."""
    rules = after.rules
    return {
        "imbalance_cpu": after.imbalance["cpu"],
        "imbalance_memory": after.imbalance["memory"],
        "drs_imbalance": after.drs_imbalance,
        "drs_tolerance": "" if math.isinf(after.drs_tolerance) else after.drs_tolerance,
        "drs_balanced": after.drs_balanced,
        "max_util_cpu": after.max_utilization["cpu"],
        "max_util_memory": after.max_utilization["memory"],
        "min_util_cpu": after.min_utilization["cpu"],
        "min_util_memory": after.min_utilization["memory"],
        "hosts_on": after.hosts_up,
        "watts": round(after.total_watts, 1),
        "violations_p1": rules.get(1, {}).get("violated", 0),
        "violations_p2": rules.get(2, {}).get("violated", 0),
        "violations_p3": rules.get(3, {}).get("violated", 0),
    }


def move_columns(outcome: RunOutcome, cost_s: np.ndarray) -> dict[str, Any]:
    """Migration figures recomputed from the plan's moves (not from the contender's summary);
    ``cost_s`` is each VM's pre-copy estimate alone on a free link."""
    assert outcome.plan is not None
    moves = outcome.plan.migrations
    vm_index = outcome.instance.vm_index
    return {
        "migrations": len(moves),
        "parking_moves": sum(1 for m in moves if m.reason.value == "parking"),
        "migration_s_total": round(sum(m.end_s - m.start_s for m in moves), 3),
        "migration_s_alone": round(float(sum(cost_s[vm_index[m.vm]] for m in moves)), 3),
        "data_moved_gib": round(sum(m.estimate.transferred_mib for m in moves) / 1024, 3),
        "makespan_s": round(max((m.end_s for m in moves), default=0.0), 3),
        "non_converging_moves": sum(1 for m in moves if not m.estimate.converges),
    }


def host_detail(outcome: RunOutcome) -> dict[str, Any] | None:
    """Per-host utilization before and after (for the before/after plot); None without a plan."""
    if outcome.plan is None or not outcome.plan.placement:
        return None
    instance = outcome.instance
    before = cluster_metrics(instance, instance.current_placement())
    after = cluster_metrics(instance, outcome.plan.placement, outcome.plan.host_states)
    return {
        "hosts": [h.name for h in before.hosts],
        "state_after": [h.state for h in after.hosts],
        "cpu_before": [round(h.cpu_utilization, 4) for h in before.hosts],
        "cpu_after": [round(h.cpu_utilization, 4) for h in after.hosts],
        "memory_before": [round(h.memory_utilization, 4) for h in before.hosts],
        "memory_after": [round(h.memory_utilization, 4) for h in after.hosts],
    }

"""The solver-free checker: the executable specification of docs/inventory.md and docs/plan.md.

Rule checkers, capacity, final-state feasibility, plan replay, the re-simulation of a plan's
migrations on shared links, metrics and lower bounds. Nothing here imports a solver: the
optimizer's output is verified by code that does not share its model. The timing check shares
the physics (the pre-copy estimator and the link shares), not the planner's scheduling loop.
"""

from scheduler.check.bounds import (
    anti_affinity_hosts_bound,
    compat_fluid_max_utilization_bound,
    fluid_max_utilization_bound,
    imbalance_floor,
    immobile_hosts_bound,
    l1_bound,
    l1_hosts_bound,
    l2_bound,
    l2_hosts_bound,
    lower_bounds,
    watts_lower_bound,
)
from scheduler.check.capacity import (
    HostLoads,
    capacity_findings,
    host_loads,
    over_capacity,
    placement_indices,
)
from scheduler.check.feasibility import ALLOWED_TRANSITIONS, check_placement
from scheduler.check.findings import Finding
from scheduler.check.metrics import (
    ClusterMetrics,
    HostMetrics,
    cluster_metrics,
    drs_min_goodness,
    drs_tolerance,
)
from scheduler.check.replay import Replay, replay, replay_plan
from scheduler.check.rules import (
    RuleStatus,
    check_affinity,
    check_anti_affinity,
    check_rule,
    check_vm_host,
    departures_to_keep,
    rule_status,
)
from scheduler.check.timing import timing_findings
from scheduler.check.verify import VerificationReport, verify_plan

__all__ = [
    "ALLOWED_TRANSITIONS",
    "ClusterMetrics",
    "Finding",
    "HostLoads",
    "HostMetrics",
    "Replay",
    "RuleStatus",
    "VerificationReport",
    "anti_affinity_hosts_bound",
    "capacity_findings",
    "check_affinity",
    "check_anti_affinity",
    "check_placement",
    "check_rule",
    "check_vm_host",
    "cluster_metrics",
    "compat_fluid_max_utilization_bound",
    "departures_to_keep",
    "drs_min_goodness",
    "drs_tolerance",
    "fluid_max_utilization_bound",
    "host_loads",
    "imbalance_floor",
    "immobile_hosts_bound",
    "l1_bound",
    "l1_hosts_bound",
    "l2_bound",
    "l2_hosts_bound",
    "lower_bounds",
    "over_capacity",
    "placement_indices",
    "replay",
    "replay_plan",
    "rule_status",
    "timing_findings",
    "verify_plan",
    "watts_lower_bound",
]

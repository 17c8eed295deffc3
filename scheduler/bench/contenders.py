"""The contenders of the benchmark: our optimizer, two DRS-style greedy baselines, FFD for DPM, a peer.

Every contender proposes a *target* (final placement and host states); the same planner
(``pipeline.plan_from_target``) turns it into a timed plan (docs/plan.md), and the plan is then checked
as ``scheduler verify`` checks a file (serialised, parsed back, verified). A target the checker
rejects is recorded as ``invalid`` with the checker's findings, never dropped or repaired.

Statuses of a run: the plan's own (``optimal``, ``feasible``, ``unchanged``, ``infeasible``),
``invalid`` (the target or the plan fails the checker), ``failed`` (the contender found no
target, or no migration order reaches it), ``skipped`` (the contender cannot run here, e.g.
proxlb-solver not installed) and ``error`` (it raised; the runner records the message).
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import yaml

from scheduler.check.metrics import drs_tolerance
from scheduler.check.verify import verify_plan
from scheduler.compat import compatibility
from scheduler.errors import InconsistentSolutionError
from scheduler.heuristics.drs_greedy import greedy_balance
from scheduler.heuristics.ffd import ffd_consolidate
from scheduler.heuristics.repair import repair_placement
from scheduler.heuristics.rule_repair import repair_vm_rules
from scheduler.io import parse_plan, plan_to_dict
from scheduler.migration.planner import UnreachableTargetError
from scheduler.migration.precopy import PrecopyRun, migration_input_for, preset_for_policy
from scheduler.model import NO_HOST, HostRuleMode, HostState, Instance, Plan, PlanStatus, RuleKind
from scheduler.pipeline import make_plan, plan_from_target, with_what_if
from scheduler.solver.costs import move_costs
from scheduler.solver.options import SolveOptions

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
ContenderKind = Literal["ours", "greedy-drs", "greedy-drs-costaware", "ffd-dpm", "proxlb"]
CONTENDER_KINDS: Final[tuple[str, ...]] = ("ours", "greedy-drs", "greedy-drs-costaware", "ffd-dpm", "proxlb")

# Statuses that are not a plan's own.
INVALID: Final = "invalid"
FAILED: Final = "failed"
SKIPPED: Final = "skipped"
ERROR: Final = "error"


@dataclass(frozen=True, slots=True)
class Contender:
    """One way of producing a plan; ``name`` is what the results call it.

    ``threshold`` is the DRS threshold (1 conservative .. 5 aggressive) applied to the instance
    before the run and ``dpm`` turns DPM on or off; both go through ``with_what_if`` so every
    contender sees the same policy change.
    """

    name: str
    kind: ContenderKind
    threshold: int = 3
    dpm: bool = False


def contender(name: str) -> Contender:
    """Parse a contender name: ``ours-t3``, ``ours-t3-dpm``, ``greedy-drs``, ``greedy-drs-costaware``,
    ``ffd-dpm``, ``proxlb-t3``; a baseline name may take ``-tN`` too (default threshold 3)."""
    parts = name.split("-")
    dpm = parts[-1] == "dpm"
    if dpm:
        parts = parts[:-1]
    threshold = 3
    if parts and parts[-1].startswith("t") and parts[-1][1:].isdigit():
        threshold = int(parts[-1][1:])
        parts = parts[:-1]
    base = "-".join(parts)
    if base == "ffd" and dpm:
        return Contender(name, "ffd-dpm", threshold, True)
    if base not in CONTENDER_KINDS or base == "ffd-dpm" or not 1 <= threshold <= 5:
        raise ValueError(f"unknown contender {name!r}")
    kind: ContenderKind = base  # type: ignore[assignment]
    return Contender(name, kind, threshold, dpm)


@dataclass(frozen=True, slots=True)
class Target:
    """What a contender proposes: the final placement and host states, and how it got there."""

    placement: dict[str, str]
    host_states: dict[str, str]
    status: PlanStatus = PlanStatus.FEASIBLE
    solve_time_s: float = 0.0
    proven_gap: float | None = None
    gap_level: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """The result of one contender on one instance.

    ``instance`` is the instance as the contender saw it (after the threshold / DPM what-if), the
    one its plan is verified against. ``valid`` is None when there is no plan to verify.
    ``target`` is kept for an invalid target, so its final state can still be measured.
    """

    contender: str
    status: str
    instance: Instance
    plan: Plan | None = None
    valid: bool | None = None
    findings: tuple[str, ...] = ()
    solve_time_s: float = 0.0
    proven_gap: float | None = None
    gap_level: str = ""
    note: str = ""
    target: Target | None = field(default=None)


def run_contender(
    who: Contender, instance: Instance, *, seed: int = 0, time_limit_s: float = 30.0, num_workers: int = 0
) -> RunOutcome:
    """Run one contender on one instance and verify its plan; exceptions propagate to the runner."""
    variant = with_what_if(instance, threshold=who.threshold, dpm=who.dpm)
    if who.kind == "ours":
        return _run_ours(who, variant, seed, time_limit_s, num_workers)
    if who.kind in ("greedy-drs", "greedy-drs-costaware"):
        target = greedy_drs_target(
            variant, cost_aware=who.kind == "greedy-drs-costaware", time_limit_s=time_limit_s
        )
    elif who.kind == "ffd-dpm":
        target = ffd_dpm_target(variant)
    else:
        try:
            target = proxlb_target(variant, time_limit_s=time_limit_s)
        except ProxlbUnavailableError as exc:
            return RunOutcome(who.name, SKIPPED, variant, note=str(exc))
    if isinstance(target, str):
        return RunOutcome(who.name, FAILED, variant, note=target)
    return finish_target(who.name, variant, target)


def finish_target(name: str, instance: Instance, target: Target) -> RunOutcome:
    """Plan and verify a contender's target; a target or plan the checker rejects is ``invalid``."""
    try:
        plan, _ = plan_from_target(instance, target.placement, target.host_states, status=target.status)
    except UnreachableTargetError as exc:
        return RunOutcome(
            name, FAILED, instance, solve_time_s=target.solve_time_s, note=f"unreachable: {exc}"
        )
    except InconsistentSolutionError as exc:
        findings = tuple(line.strip() for line in str(exc).splitlines()[1:] if line.strip())
        return RunOutcome(
            name,
            INVALID,
            instance,
            valid=False,
            findings=findings or (str(exc),),
            solve_time_s=target.solve_time_s,
            note=target.note,
            target=target,
        )
    return verified_outcome(name, instance, plan, target)


def verified_outcome(name: str, instance: Instance, plan: Plan, target: Target | None = None) -> RunOutcome:
    """Verify ``plan`` as the CLI would and wrap it in an outcome (``invalid`` when it fails)."""
    report = verify_document(instance, plan)
    status = plan.status.value if report.valid else INVALID
    return RunOutcome(
        name,
        status,
        instance,
        plan=plan,
        valid=report.valid,
        findings=tuple(str(f) for f in report.findings),
        solve_time_s=target.solve_time_s if target else float(plan.metrics.get("solve_time_s", 0.0)),
        proven_gap=target.proven_gap if target else None,
        gap_level=target.gap_level if target else "",
        note=target.note if target else "",
        target=None if report.valid else target,
    )


def verify_document(instance: Instance, plan: Plan) -> Any:
    """What ``scheduler verify`` does with a plan file: serialise, parse back, verify.

    Going through the JSON document catches anything the writer or reader would lose.
    """
    document = json.loads(json.dumps(plan_to_dict(plan)))
    return verify_plan(instance, parse_plan(document, f"plan of {plan.cluster}"))


# -- ours -----------------------------------------------------------------------------------------


def _run_ours(who: Contender, instance: Instance, seed: int, time_limit_s: float, workers: int) -> RunOutcome:
    """Ours: ``scheduler plan`` (``make_plan``) with the suite's time limit.

    Description
        The staged CP-SAT optimizer (P2 rules > DPM > P3 rules > DRS imbalance > migration
        seconds) with greedy warm start and repair-mode scope, then the migration planner.
    Requirements
        The instance; ``time_limit_s`` covers every level together; ``workers`` CP-SAT workers.
    Limitations
        With several workers CP-SAT is not deterministic: rows of repeated runs may differ.
    """
    options = SolveOptions(time_limit_s=time_limit_s, seed=seed, num_workers=workers)
    try:
        outcome = make_plan(instance, options)
    except UnreachableTargetError as exc:
        return RunOutcome(who.name, FAILED, instance, note=f"unreachable: {exc}")
    except InconsistentSolutionError as exc:
        findings = tuple(line.strip() for line in str(exc).splitlines() if line.strip())
        return RunOutcome(who.name, INVALID, instance, valid=False, findings=findings)
    gap, level = proven_gap(outcome.plan.metrics.get("levels", []))
    target = Target(
        outcome.plan.placement,
        outcome.plan.host_states,
        outcome.plan.status,
        solve_time_s=outcome.result.solve_time_s,
        proven_gap=gap,
        gap_level=level,
        note="; ".join(outcome.result.notes),
    )
    return verified_outcome(who.name, instance, outcome.plan, target)


def proven_gap(levels: list[dict[str, Any]]) -> tuple[float | None, str]:
    """The relative gap (value − bound) / value of the first level not proven optimal, and its name.

    Levels are lexicographic, so the first open level is where the plan may still be improved;
    0 when every level is proven optimal, None when there are no levels (nothing was solved).
    """
    for level in levels:
        if not level.get("optimal", False):
            value, bound = float(level["value"]), float(level["bound"])
            gap = (value - bound) / abs(value) if value else 0.0
            return max(gap, 0.0), str(level["level"])
    return (0.0, "") if levels else (None, "")


# -- greedy DRS baselines --------------------------------------------------------------------------


def greedy_drs_target(instance: Instance, *, cost_aware: bool, time_limit_s: float) -> Target | str:
    """The DRS-style greedy baseline: repair what must move, mend broken rules, then balance one
    best move at a time.

    Description
        Start from today's placement; move what must move (VMs on maintenance or down hosts, on
        hosts they may no longer use, hosts over capacity) with the greedy repair. Then, as DRS
        does with its mandatory moves before it balances, mend broken priority-2 and
        priority-3 rules one at a time (``heuristics.rule_repair``, the same repair our
        optimizer's warm start uses). Then repeat "move the best VM off one of the most loaded
        hosts" while it lowers the imbalance and the cluster is outside the threshold's
        tolerance, never taking a VM off a host its should / should-not rule accepts. Classic
        (``cost_aware=False``): best = largest imbalance reduction, as pre-7.0 DRS and oVirt
        do. Cost-aware: best = reduction per estimated migration second (pre-copy estimate).
    Requirements
        A feasible instance with DPM off; hosts keep their power state.
    Limitations
        Affinity groups never move while balancing; a rule that one move at a time cannot mend
        stays broken; no look-ahead: it stops at the first local optimum. VMs whose live
        migration never completes move only when they must. Returns a message when repair fails.
    """
    started = time.monotonic()
    compat = compatibility(instance)
    movable = np.array([not v.immobility_reasons() for v in instance.vms], dtype=np.bool_)
    on_mask = np.array([h.state is HostState.UP for h in instance.hosts], dtype=np.bool_)
    costs = move_costs(instance)
    # Same repair for both variants, so they differ only in how they balance.
    assignment = repair_placement(instance, compat.allowed, on_mask, costs.seconds, movable=movable)
    # A live migration that never completes cannot be an optional move (it would fail).
    movable &= ~never_completes(instance)
    if assignment is None:
        return "greedy repair found no feasible placement for the VMs that must move"
    assignment = repair_vm_rules(
        instance,
        assignment,
        on_mask,
        compat.allowed,
        movable,
        costs.seconds,
        instance.host_cpu_mhz.astype(np.float64),
        np.full(instance.num_hosts, np.inf),
    )
    drs = instance.policy.drs
    tolerance = drs_tolerance(drs.threshold, max(1, int(on_mask.sum()))) if drs.enabled else math.inf
    moves = 0
    if math.isfinite(tolerance):
        result = greedy_balance(
            instance,
            assignment,
            _keeping_should_rules(instance, compat.allowed, assignment),
            on_mask,
            drs.measure.resources,
            tolerance,
            movable=movable,
            cost_s=costs.seconds if cost_aware else None,
            deadline=started + time_limit_s,
        )
        assignment, moves = result.assignment, result.moves
    return Target(
        placement=_placement(instance, assignment),
        host_states={h.name: h.state.value for h in instance.hosts},
        solve_time_s=time.monotonic() - started,
        note=f"{moves} balancing move(s)",
    )


def _keeping_should_rules(instance: Instance, allowed: BoolArray, assignment: IntArray) -> BoolArray:
    """``allowed`` narrowed, for each VM that keeps a priority-3 rule in ``assignment``, to the
    hosts where it still does: balancing does not break what the rule repair kept."""
    narrowed = allowed.copy()
    for rule in instance.rules:
        if rule.kind is not RuleKind.VM_HOST or rule.priority != 3:
            continue
        accepted = instance.accepted_hosts(rule)
        members = np.array([instance.vm_index[name] for name in rule.vms], dtype=np.int64)
        placed = assignment[members]
        keeping = members[(placed != NO_HOST) & accepted[np.maximum(placed, 0)]]
        narrowed[keeping] &= accepted
    return narrowed


# -- FFD DPM baseline ------------------------------------------------------------------------------


def ffd_dpm_target(instance: Instance) -> Target | str:
    """The DPM baseline: first-fit-decreasing onto as few hosts as the DPM high target allows.

    Description
        Repack every movable VM, largest first, onto the first open host where it stays under the
        DPM high target utilization (busy up hosts opened first); hosts left empty go to standby.
    Requirements
        DPM's target utilization from the policy; up and standby hosts may be used.
    Limitations
        A full repack: it ignores today's placement beyond host order, so it moves many VMs; it
        ignores priority-2 and priority-3 rules, DRS balance and ``min_hosts_on``; VMs whose
        migration never completes stay where they are; returns a message when some VM fits
        nowhere under the target.
    """
    started = time.monotonic()
    compat = compatibility(instance)
    usable = np.array([h.is_usable for h in instance.hosts], dtype=np.bool_)
    high = instance.policy.dpm.target_utilization[1]
    immobile = np.array([bool(v.immobility_reasons()) for v in instance.vms], dtype=np.bool_)
    current = instance.current_host
    on_usable = (current != NO_HOST) & usable[np.maximum(current, 0)]
    # VMs whose live migration never completes stay put unless their host is being emptied.
    fixed = immobile | (never_completes(instance) & on_usable)
    packing = ffd_consolidate(instance, compat.allowed, usable, high, fixed=fixed)
    if packing is None:
        return f"first-fit-decreasing found no packing under the DPM high target ({high:.0%})"
    states = {
        h.name: (HostState.UP.value if packing.on_mask[i] else HostState.STANDBY.value)
        if h.is_usable
        else h.state.value
        for i, h in enumerate(instance.hosts)
    }
    return Target(
        placement=_placement(instance, packing.assignment),
        host_states=states,
        solve_time_s=time.monotonic() - started,
        note=f"{int(packing.on_mask.sum())} host(s) on",
    )


def never_completes(instance: Instance) -> BoolArray:
    """VMs whose live migration never completes, even alone on an idle link (the planner refuses them).

    A guest dirtying memory faster than the hypervisor preset sends it loops forever; such a VM
    can only stay. The baselines know no more than this (no risk model): they may move any
    other VM, where ours also keeps high-risk moves optional-only.
    """
    policy = instance.policy.migration
    preset = preset_for_policy(policy)
    cache: dict[tuple[int, int | None, float], bool] = {}
    out = np.zeros(instance.num_vms, dtype=np.bool_)
    for i, vm in enumerate(instance.vms):
        key = (vm.memory_mib, vm.nonzero_mib, vm.dirty_rate_mibps)
        if key not in cache:
            run = PrecopyRun(migration_input_for(vm, policy), preset)
            cache[key] = not math.isfinite(run.time_to_finish(run.demand_mibps))
        out[i] = cache[key]
    return out


def _placement(instance: Instance, assignment: Any) -> dict[str, str]:
    return {
        vm.name: instance.hosts[int(h)].name
        for vm, h in zip(instance.vms, assignment, strict=True)
        if int(h) != NO_HOST
    }


# -- proxlb-solver (optional peer) ----------------------------------------------------------------

CPU_UNIT_MHZ: Final = 10  # proxlb counts CPU in whole "cores": we count in 10 MHz units instead
_GIB: Final = 1024.0


class ProxlbUnavailableError(RuntimeError):
    """proxlb-solver is not installed or cannot take this instance; the run is skipped."""


def proxlb_scenario(instance: Instance) -> dict[str, Any]:
    """Our inventory as a proxlb-solver YAML scenario (its ``load_scenario`` format).

    Mapping, chosen so that any placement proxlb-solver accepts meets our capacity rule:
      - CPU: proxlb admits Σ vCPUs × 1000 ≤ cores × overcommit × 1000. A "core" here is 10 MHz:
        a host has floor(cpu_mhz / 10), a VM ceil(cpu_demand_mhz / 10), overcommit 1.0, so
        proxlb's CPU check is our demand check (rounded the safe way). ``cpu_usage`` (what it
        balances in ``used`` mode) is the exact demand in those units.
      - Memory: configured memory in GB (1 GiB = 1 GB in its loader) against memory_mib ×
        memory_overcommit, exactly our admission rule. It balances *configured* memory, we
        balance memory *demand*: a documented difference.
      - Compatibility (storage, network, CPU vendor and generation, IMC) and priority-1 rules:
        a ``pin`` per VM listing its allowed hosts, when that is not every usable host.
      - Affinity / anti-affinity (our priority 2): soft rules (its 10^6 penalty each), since
        ours may yield only to priority 1 and capacity.
      - Priority-3 (should / should_not) rules: no equivalent; left out (its plan may break them).
      - Immobile VMs, and VMs whose live migration never completes unless they must move (the
        restriction the baselines get too): ``ignore`` (they stay).
        Maintenance, standby and down hosts:
        ``maintenance: true`` (receive nothing; no DPM in proxlb).
      - Balance method: cpu → ``cpu``, memory → ``memory``, cpu_memory → ``global_smart`` with
        equal CPU and memory weights and the PSI and IO terms off; ``balanciness`` = our DRS
        threshold (both 1..5, conservative to aggressive).
    """
    new = [v.name for v in instance.vms if v.host is None]
    if new:
        raise ProxlbUnavailableError(
            f"proxlb-solver scenarios need a current node for every VM ({len(new)} new)"
        )
    compat = compatibility(instance)
    stuck = never_completes(instance)
    usable = [h for h in instance.hosts if h.state is HostState.UP]
    usable_idx = np.array([instance.host_index[h.name] for h in usable], dtype=np.int64)
    overcommit = float(instance.policy.memory_overcommit)
    nodes = {
        h.name: {
            "cpu_total": h.cpu_mhz // CPU_UNIT_MHZ,
            "memory_total_gb": math.floor(h.memory_mib * overcommit) / _GIB,
            "maintenance": h.state is not HostState.UP,
        }
        for h in instance.hosts
    }
    vms: dict[str, Any] = {}
    ignore: list[str] = []
    pins: list[dict[str, Any]] = []
    for i, vm in enumerate(instance.vms):
        vms[vm.name] = {
            "node": vm.host,
            "cpu": max(1, math.ceil(vm.cpu_demand_mhz / CPU_UNIT_MHZ)),
            "cpu_usage": vm.cpu_demand_mhz / CPU_UNIT_MHZ,
            "memory_gb": vm.memory_mib / _GIB,
            "priority": 1,
        }
        must_move = vm.host is None or instance.host(vm.host).state is not HostState.UP
        if vm.immobility_reasons() or (stuck[i] and not must_move):
            ignore.append(vm.name)
            continue
        allowed = compat.allowed[i, usable_idx]
        if not allowed.all():
            pins.append({"vm": vm.name, "nodes": [usable[k].name for k in np.flatnonzero(allowed)]})
    affinity, anti = [], []
    for rule in instance.rules:
        entry = {"name": rule.name, "vms": list(rule.vms), "hard": False}
        if rule.kind is RuleKind.AFFINITY:
            affinity.append(entry)
        elif rule.kind is RuleKind.ANTI_AFFINITY:
            anti.append(entry)
    drs = instance.policy.drs
    method = {"cpu": "cpu", "memory": "memory"}.get(drs.measure.value, "global_smart")
    balancing: dict[str, Any] = {
        "method": method,
        "mode": "used",
        "balanciness": drs.threshold,
        "cpu_overcommit": 1.0,
        "w_global_mem": 1,
        "w_global_cpu": 1,
        "w_global_io": 0,
        "w_cpu_usage": 1,
        "w_cpu_psi": 0,
        "w_mem_usage": 1,
        "w_mem_psi": 0,
        "w_io_usage": 1,
        "w_io_psi": 0,
    }
    return {
        "name": instance.name,
        "description": "converted from a scheduler inventory",
        "balancing": balancing,
        "nodes": nodes,
        "vms": vms,
        "constraints": {"affinity": affinity, "anti_affinity": anti, "pin": pins, "ignore": ignore},
    }


def proxlb_dropped_rules(instance: Instance) -> list[str]:
    """Our rules the scenario cannot express (priority-3 should / should_not)."""
    soft = (HostRuleMode.SHOULD, HostRuleMode.SHOULD_NOT)
    return [r.name for r in instance.rules if r.kind is RuleKind.VM_HOST and r.mode in soft]


def proxlb_target(instance: Instance, *, time_limit_s: float) -> Target | str:
    """proxlb-solver's placement for our instance, at the same time limit as ours.

    Description
        The peer: credativ's CP-SAT balancer for Proxmox (``proxlb_solver.solve``), one weighted
        objective (max − min spread, unit-less move cost, 10^6 per broken soft rule), fed the
        scenario of ``proxlb_scenario``. Its placement is planned and verified like any target.
    Requirements
        ``pip install proxlb-solver`` (the ``bench`` extra); VMs all placed (no new VMs).
    Limitations
        No DPM, no priority-3 rules, balances configured (not demanded) memory; CP-SAT uses its
        default worker count (its API exposes no setting). See ``proxlb_scenario``.
    """
    try:
        from proxlb_solver.loader import load_scenario
        from proxlb_solver.solver import solve
    except ImportError as exc:
        raise ProxlbUnavailableError(
            f"proxlb-solver not installed ({exc}); pip install proxlb-solver to compare with it"
        ) from exc
    scenario = proxlb_scenario(instance)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario, sort_keys=False))
        cluster = load_scenario(path)
    logging.getLogger("ProxLB").setLevel(logging.WARNING)
    started = time.monotonic()
    solution = solve(cluster, time_limit_s=time_limit_s)
    elapsed = time.monotonic() - started
    if not solution.feasible:
        return f"proxlb-solver: {solution.stats.status}"
    dropped = proxlb_dropped_rules(instance)
    note = f"proxlb status {solution.stats.status}, objective {solution.stats.objective}"
    if dropped:
        note += f"; {len(dropped)} priority-3 rule(s) not expressible"
    return Target(
        placement=dict(solution.placements),
        host_states={h.name: h.state.value for h in instance.hosts},
        status=PlanStatus.OPTIMAL if solution.stats.status == "OPTIMAL" else PlanStatus.FEASIBLE,
        solve_time_s=elapsed,
        proven_gap=0.0 if solution.stats.status == "OPTIMAL" else None,
        gap_level="proxlb objective" if solution.stats.status != "OPTIMAL" else "",
        note=note,
    )

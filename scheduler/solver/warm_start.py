"""The warm start: the complete placement, built greedily, that CP-SAT and the local search start from.

A good start lets CP-SAT prove a level at once (DPM's, when the start already switches off all it
can) and spares the local search neighbourhoods it would otherwise spend on balance. Built in two
steps, which the optimizer (``optimize.py``) runs with the "nothing to do?" checks in between:

1. ``repaired_warm_start``: today's placement repaired (capacity, DPM's high target, broken soft
   rules) and, with DPM on, hosts emptied greedily; it also decides what DPM may still switch off
   (every host stays on when no placement keeps DPM's high target).
2. ``balanced_warm_start``: cost-aware greedy balancing within a slice of the time budget
   (``GREEDY_SHARE``) and, on large clusters, the LP-guided start (``guided.py``): the better kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scheduler.heuristics.balance import imbalance
from scheduler.heuristics.consolidate import empty_hosts
from scheduler.heuristics.drs_greedy import greedy_balance
from scheduler.heuristics.repair import repair_placement
from scheduler.heuristics.rule_repair import repair_vm_rules
from scheduler.heuristics.state import LoadState, high_target_limits
from scheduler.model import NO_HOST, Instance
from scheduler.solver.balance import BalancePenalty, DrsBand
from scheduler.solver.guided import guided_start
from scheduler.solver.options import SolveOptions
from scheduler.solver.prepare import Prepared
from scheduler.solver.problem import POWER_DECIDE, POWER_ON

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

LOCAL_SEARCH_PAIRS = 6_000  # above this many (VM, host) candidates, late levels use local search
GREEDY_SHARE = 0.5  # of the time limit, for the greedy balancing warm start
GREEDY_AIM_STEP = 0.01  # how much lower each further round of the greedy aims (× the allowance)
GREEDY_AIM_LEAST = 0.9
GREEDY_SHARE_DPM = 0.2  # ... with DPM on, whose level comes first and needs the time more
# At most this many targets tried per source, the least loaded (``drs_greedy``): on 128 hosts or
# fewer every host; on 512 × 40,000 a greedy step costs a third and the 30 s plan's DRS excess
# falls from 73.6 M to 7.1 M units (the greedy reaches 19.8 M within 11 s where it had stopped
# at 153.8 M on its budget).
GREEDY_TARGET_POOL = 128


@dataclass(frozen=True, slots=True)
class WarmStart:
    """A warm start and the power decision it was built for.

    Attributes:
        warm: a complete assignment (may be imperfect: greedy repair is no proof).
        warm_on: the hosts on in ``warm``.
        within_high: ``warm`` keeps DPM's high target (found by greedy repair within it).
        power: per host POWER_ON, POWER_OFF or POWER_DECIDE; DPM's choices turned on when DPM's
            high target is missed.
        dpm_high: DPM's high target utilization, or None when DPM is off or its target missed.
        notes: for the plan, about how the start was found.
    """

    warm: IntArray
    warm_on: BoolArray
    within_high: bool
    power: IntArray
    dpm_high: float | None
    notes: tuple[str, ...]


def repaired_warm_start(
    prep: Prepared, high_target_missed: str | None, *, standby_stays: bool = False
) -> WarmStart:
    """The power decision and today's placement repaired from it (the high-target fallback).

    With DPM on, a repair within DPM's high target with hosts emptied from there; when no
    placement keeps the target (``high_target_missed``: why, found here or by an earlier
    attempt), every host DPM would decide stays on. With ``standby_stays`` (the target would
    break priority-2 rules: powering hosts on relieves nothing the rules hold), only the hosts up
    now stay on, and DPM powers a standby host on only where capacity needs it. Otherwise, or
    when that found nothing, a repair within full capacity; failing that, today's placement.
    """
    instance = prep.instance
    policy = instance.policy
    allowed, movable, usable, cost_s = prep.allowed, prep.movable, prep.usable, prep.costs.seconds
    rule_movable = prep.movable_optional | prep.mandatory
    notes: list[str] = []
    power = prep.power
    dpm = prep.dpm
    dpm_high: float | None = policy.dpm.target_utilization[1] if dpm else None
    warm: IntArray | None = None
    warm_on = power == POWER_ON
    warm_within_high = False
    if dpm and high_target_missed is None:
        # Repair today's placement within the DPM high target on the hosts up now (then with the
        # standby ones too), and empty hosts greedily from there: DPM's warm start.
        for start_on in (prep.up_now & usable, usable.copy()):
            warm = _repair(instance, allowed, start_on, cost_s, movable, dpm_high, rule_movable)
            if warm is not None:
                # What must move anyway (new VMs, evacuations) may land wherever emptying wants:
                # a second choice of target is not a second migration.
                warm, warm_on = empty_hosts(
                    instance,
                    warm,
                    start_on,
                    allowed,
                    prep.movable_optional | (movable & prep.mandatory),
                    dpm_high or 1.0,
                    policy.dpm.min_hosts_on,
                    power == POWER_DECIDE,
                )
                warm_within_high = True
                break
        if warm is None and _beyond_high_target(instance, usable, movable, dpm_high or 1.0):
            high_target_missed = "the cluster's demand exceeds the DPM high target of all its hosts together"
        elif warm is None:
            # Greedy is no proof: CP-SAT decides the power under the high target, from a warm start
            # with every host on (repaired below), and only what it proves (or fails to find) keeps
            # every host on.
            notes.append("greedy repair found no placement within the DPM high target")
            warm_on = usable.copy()
    if dpm and high_target_missed is not None:
        if standby_stays:
            notes.append(
                f"{high_target_missed}: the hosts up stay on, standby ones come back only for capacity"
            )
            power = np.where((power == POWER_DECIDE) & prep.up_now, POWER_ON, power)
        else:
            notes.append(f"{high_target_missed}: hosts stay on")
            power = np.where(power == POWER_DECIDE, POWER_ON, power)
        dpm_high = None
        warm_on = power == POWER_ON
    if warm is None:
        # Within full capacity: a warm start within DPM's high target was found above or not at all.
        warm = _repair(instance, allowed, warm_on, cost_s, movable, None, rule_movable)
    if warm is None:
        notes.append("greedy repair found no feasible warm start; CP-SAT starts from today's placement")
        warm = instance.current_host.copy()
    return WarmStart(warm, warm_on, warm_within_high, power, dpm_high, tuple(notes))


def balanced_warm_start(
    instance: Instance,
    warm: IntArray,
    warm_on: BoolArray,
    allowed: BoolArray,
    movable: BoolArray,
    band: DrsBand,
    cost_s: npt.NDArray[np.float64],
    dpm_high: float | None,
    options: SolveOptions,
    deadline: float,
) -> IntArray:
    """The greedy's balanced warm start (``_balance_warm_start``) and, on clusters large enough
    for the local search, the LP-guided one (``guided.py``) finished by the same greedy: the
    better of the two. The guided start is left out under a migration budget, which it does not
    count, and at threshold 5 (tolerance 0), where the balance has no target short of the floor
    for the relaxation to aim at: every further move buys a little more balance; nor where the
    greedy's start is not balanced or the budget left is short (``_why_not_guided``)."""

    def finish(start: IntArray) -> IntArray:
        return _balance_warm_start(
            instance,
            start,
            warm_on,
            allowed,
            movable,
            band,
            cost_s,
            dpm_high,
            options.max_migrations,
            deadline,
        )

    large = int((allowed[movable] & warm_on[None, :]).sum()) > LOCAL_SEARCH_PAIRS
    guides = large and options.max_migrations is None and band.tolerance(warm_on) > 0
    if options.progress:
        also = ", then from the LP relaxation's moves" if guides else ""
        options.progress(
            "warm start", f"balancing greedily{also} ({max(deadline - time.monotonic(), 0.0):.1f} s budget)"
        )
    greedy_started = time.monotonic()
    finished = {"greedy": finish(warm)}
    skip = (
        _why_not_guided(
            instance, finished["greedy"], warm_on, band, time.monotonic() - greedy_started, deadline
        )
        if guides
        else None
    )
    if skip is not None and options.progress:
        options.progress("warm start", f"LP-guided start skipped: {skip}")
    if guides and skip is None:
        cpu_cap = _cpu_peak_cap(band, warm_on)
        guided = guided_start(
            instance, warm, warm_on, allowed, movable, band, cost_s, dpm_high, cpu_cap, deadline
        )
        if guided is not None:
            finished["LP-guided"] = finish(guided)
    return _better_warm_start(instance, finished, warm_on, band, cost_s, options)


def _why_not_guided(
    instance: Instance,
    greedy: IntArray,
    on_mask: BoolArray,
    band: DrsBand,
    greedy_s: float,
    deadline: float,
) -> str | None:
    """Why the LP-guided start is not worth its time after the greedy's, or None when it is.

    It is a way to the balance for fewer migration seconds, finished by the same greedy. Where the
    greedy from today's placement stops short of what DRS calls balanced, the finish from the
    guided start stopped further from it in every case measured (128 × 10,000 with two CPU
    generations, seeds 1 and 3: 3.1 M and 2.3 M units of excess against the greedy's 1.6 M and
    1.7 M; 512 × 40,000: 41.8 M against 24.9 M at 120 s), and was dropped: the balance left is the
    local search's, which then gets the time. And it needs about as long again as the greedy (the
    relaxation, the landing and the finish took 0.8–1.15× the greedy's own time on 128 × 10,000):
    with less of the budget left, it would be cut before its finish (512 × 40,000 at 60 s: the
    greedy took 21 s of 29 s, and the guided start 7.7 s for nothing)."""
    penalty = BalancePenalty.build(instance, band.resources, on_mask, band)
    excess, balanced = _standing(instance, penalty, band, on_mask, greedy)
    if not balanced:
        return (
            f"the greedy stopped short of the balance (excess {excess:,}), "
            "and the same greedy finishes the guided start"
        )
    left = deadline - time.monotonic()
    if left < greedy_s:
        return f"{max(left, 0.0):.1f} s left of the budget, the greedy alone took {greedy_s:.1f} s"
    return None


def _balance_warm_start(
    instance: Instance,
    warm: IntArray,
    warm_on: BoolArray,
    allowed: BoolArray,
    movable: BoolArray,
    band: DrsBand,
    cost_s: npt.NDArray[np.float64],
    dpm_high: float | None,
    max_moves: int | None,
    deadline: float,
) -> IntArray:
    """Greedy balancing (benefit per migration second) until the DRS level is at zero.

    ``movable`` leaves out members of priority-2/3 rules: balance must not break what the rule
    levels, solved before it, would then have to mend. Each round balances first and caps the
    CPU peak second (capping from the start spends the moves on the cap and stalls short of the
    allowance: 0.088 against 0.065 at 128 hosts × 10,000 VMs). The greedy measures the plain
    standard deviation; the level's penalty lies a little above it between breakpoints, so while
    the level is not at zero the next round aims ``GREEDY_AIM_STEP`` lower, from where the last
    one stopped. Fixing the rest in the local search instead costs far more: its neighbourhoods
    buy balance with whatever VMs they hold (measured: +35 % migration seconds).
    """
    cpu_limit, dem_limit = high_target_limits(instance, dpm_high) if dpm_high is not None else (None, None)
    resources = band.resources
    penalty = BalancePenalty.build(instance, resources, warm_on, band)
    caps = band.peak_caps(warm_on)
    aim, budget = 1.0, max_moves
    while True:
        for peak_cap in (None, caps):
            greedy = greedy_balance(
                instance,
                warm,
                allowed,
                warm_on,
                resources,
                band.allowance(warm_on) * aim,
                movable=movable,
                cost_s=cost_s,
                max_moves=budget,
                deadline=deadline,
                cpu_limit=cpu_limit,
                memory_demand_limit=dem_limit,
                island_aware=True,
                beyond_tolerance=True,
                peak_cap=peak_cap,
                several_per_step=True,
                target_pool=GREEDY_TARGET_POOL,
            )
            warm = greedy.assignment
            budget = None if budget is None else max(budget - greedy.moves, 0)
        aim -= GREEDY_AIM_STEP
        if penalty.excess(warm) == 0 or budget == 0 or aim < GREEDY_AIM_LEAST or time.monotonic() >= deadline:
            return warm


def _cpu_peak_cap(band: DrsBand, on_mask: BoolArray) -> float | None:
    """The CPU peak cap the greedy aims inside (None when CPU is not measured)."""
    if "cpu" not in band.resources:
        return None
    return float(band.peak_caps(on_mask)[band.resources.index("cpu")])


def _better_warm_start(
    instance: Instance,
    finished: dict[str, IntArray],
    on_mask: BoolArray,
    band: DrsBand,
    cost_s: npt.NDArray[np.float64],
    options: SolveOptions,
) -> IntArray:
    """The warm start to go on from, reported through ``options.progress`` when there was a
    choice: among those DRS calls balanced (``_balanced_by_drs``), the one with the fewest
    migration seconds; when none is, the lower DRS excess, then the fewer seconds (the first on
    a tie).

    Balanced as DRS reports it, not at excess 0: the level's penalty lies a little above the
    variance between its breakpoints, so a start just within the allowance may still count an
    excess, and the local search's balance phase closes that in a few neighbourhoods. On 128
    hosts × 10,000 VMs with two CPU generations (seed 0) the LP-guided start, 82 s cheaper, was
    passed over for 88,210 units of excess (0.65 % of the level's budget); going on from it, the
    balance phase closed them in 1.4 s (27 neighbourhoods) and the plans paid 2,134–2,206 s
    against 2,260–2,282 s (three runs each).
    """
    penalty = BalancePenalty.build(instance, band.resources, on_mask, band)
    standing = {
        name: _standing(instance, penalty, band, on_mask, assignment) for name, assignment in finished.items()
    }
    excess = {name: value for name, (value, _) in standing.items()}
    balanced = {name: within for name, (_, within) in standing.items()}
    seconds = {name: migration_seconds(instance, cost_s, assignment) for name, assignment in finished.items()}
    best = min(
        finished, key=lambda name: (not balanced[name], 0 if balanced[name] else excess[name], seconds[name])
    )
    if options.progress:
        told = ", ".join(
            f"{name} {seconds[name]:,.0f} s (excess {excess[name]:,}{', balanced' if balanced[name] else ''})"
            for name in finished
        )
        options.progress("warm start", f"{told}: keeping {best}" if len(finished) > 1 else told)
    return finished[best]


def _standing(
    instance: Instance, penalty: BalancePenalty, band: DrsBand, on_mask: BoolArray, assignment: IntArray
) -> tuple[int, bool]:
    """The DRS level's excess of ``assignment``, and whether it counts as balanced: at excess 0,
    or balanced as DRS reports it (``_balanced_by_drs``)."""
    excess = penalty.excess(assignment)
    return excess, excess == 0 or _balanced_by_drs(instance, penalty, band, on_mask, assignment)


def _balanced_by_drs(
    instance: Instance, penalty: BalancePenalty, band: DrsBand, on_mask: BoolArray, assignment: IntArray
) -> bool:
    """Whether ``assignment`` is what DRS calls balanced: every measured resource's standard
    deviation of host utilization within its allowance, and no host above its CPU peak cap."""
    spread = imbalance(LoadState(instance, assignment), band.resources, on_mask)
    within_peak = int(penalty.overshoot_of_raw(penalty.raw_loads(assignment)).sum()) == 0
    return bool(np.all(spread <= band.allowance(on_mask))) and within_peak


def migration_seconds(instance: Instance, cost_s: npt.NDArray[np.float64], assignment: IntArray) -> float:
    """The migration seconds of the VMs ``assignment`` moves off today's hosts (new VMs are
    placed, not migrated)."""
    current = instance.current_host
    return float(cost_s[(current != NO_HOST) & (assignment != current)].sum())


def _beyond_high_target(instance: Instance, usable: BoolArray, movable: BoolArray, high: float) -> bool:
    """Whether the demand of all VMs exceeds what every usable host holds within DPM's high
    target: no placement keeps the target, so there is nothing for a solver to search."""
    cpu_limit, dem_limit = _high_target_caps(instance, movable, high)
    return bool(
        instance.vm_cpu_demand_mhz.sum() > cpu_limit[usable].sum()
        or instance.vm_memory_demand_mib.sum() > dem_limit[usable].sum()
    )


def _high_target_caps(
    instance: Instance, movable: BoolArray, high: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per host, the CPU and memory demand DPM's high target allows, or the load of the VMs
    that cannot leave the host where that is higher (as in the CP model)."""
    stay = ~movable & (instance.current_host != NO_HOST)
    hosts = instance.current_host[stay]
    fixed_cpu = np.bincount(hosts, instance.vm_cpu_demand_mhz[stay], instance.num_hosts)
    fixed_dem = np.bincount(hosts, instance.vm_memory_demand_mib[stay], instance.num_hosts)
    high_cpu, high_dem = high_target_limits(instance, high)
    return np.maximum(high_cpu, fixed_cpu), np.maximum(high_dem, fixed_dem)


def _repair(
    instance: Instance,
    allowed: BoolArray,
    on_mask: BoolArray,
    cost_s: npt.NDArray[np.float64],
    movable: BoolArray,
    dpm_high: float | None,
    rule_movable: BoolArray,
) -> IntArray | None:
    """Greedy repair of today's placement, then of its broken affinity / anti-affinity rules.

    Capacity is the host's, or DPM's high target (or the load of VMs that cannot move, if that
    is higher, as in the CP model).
    """
    cpu_limit = instance.host_cpu_mhz.astype(np.float64)
    dem_limit = instance.host_memory_mib.astype(np.float64)
    if dpm_high is not None:
        cpu_limit, dem_limit = _high_target_caps(instance, movable, dpm_high)
    repaired = repair_placement(
        instance,
        allowed,
        on_mask,
        cost_s,
        movable=movable,
        cpu_limit=cpu_limit,
        memory_demand_limit=dem_limit if dpm_high is not None else None,
    )
    if repaired is None:
        return None
    return repair_vm_rules(instance, repaired, on_mask, allowed, rule_movable, cost_s, cpu_limit, dem_limit)

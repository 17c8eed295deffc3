"""A warm start for the DRS level that moves what the LP relaxation moves.

Description
    The greedy warm start picks moves one at a time by benefit per migration second, and the
    local search after it only polishes: from it, a plan on 128 hosts × 10,000 VMs (one CPU
    generation) paid 1.29× the least migration seconds any plan needs; from this start, 1.22×.
    The relaxation behind that bound
    (``check.migration_bound``) knows which VMs a cheap plan moves: solved from the warm start,
    it sends most VMs either wholly or not at all. So

    1. solve the plain relaxation (no CPU-to-memory bands, a few cutting-plane rounds) at the
       DRS allowance and CPU peak cap, from the warm start;
    2. take every VM it moves more than 80 % of off its host;
    3. land them where they balance the cluster best (``heuristics.landing``): once a VM moves,
       where it lands costs nothing more.

    Whole VMs land less evenly than the relaxation's slices, so the result is near the balance,
    not at it; the greedy finishes from there (``warm_start._balance_warm_start``), and the
    optimizer keeps whichever warm start is better, this one or the plain greedy's.
Requirements
    ``scipy`` (HiGHS). ``movable`` excludes rule members: landing does not check rules.
Limitations
    A heuristic: the relaxation lets load split across hosts, so its choice is a guide, not an
    optimum. Used on clusters large enough for the local search, where the greedy's choice
    is what the search starts from; small ones get the whole problem in CP-SAT.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from scheduler.check.migration_bound import fractional_departures
from scheduler.heuristics.landing import LandingLimits, land_vms
from scheduler.heuristics.state import high_target_limits
from scheduler.model import NO_HOST, Instance
from scheduler.solver.balance import DrsBand

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Cutting-plane rounds: the choice of VMs settles within a few (on 128 hosts × 10,000 VMs the
# objective is within 0.1 % of its last value after 6 of the bound's 25), each ~0.3 s there.
LP_ROUNDS = 8
# A VM the relaxation moves more than this share of is moved. The ones it moves in part are
# where whole VMs land worst; left home, the greedy that finishes the start balances with the
# VMs that suit it. 30 s runs, final migration seconds against 0.5: 128 × 10,000 (one CPU
# generation) 1,838–1,839 s at 0.65, 0.8 and 0.9 against 1,857–1,864 s; 64 × 4,000 (six
# instances) from −7.7 % to +1.5 %, −1.1 % in all.
MOVE_SHARE = 0.8
LP_SHARE = 0.5  # of the time left, at most, for the relaxation


def guided_start(
    instance: Instance,
    warm: IntArray,
    on_mask: BoolArray,
    allowed: BoolArray,
    movable: BoolArray,
    band: DrsBand,
    cost_s: FloatArray,
    dpm_high: float | None,
    cpu_cap: float | None,
    deadline: float,
) -> IntArray | None:
    """``warm`` with the VMs the relaxation moves landed anew, or None when the relaxation has no
    answer in time, moves nothing, or a VM it moves fits nowhere.

    ``cpu_cap`` is the CPU peak cap (a utilization) the DRS level holds hosts to, if any. Only
    VMs still on their host of today move: those the warm start already moved (repairs,
    evacuations) stay where it put them, as do VMs outside ``movable``. The relaxation gets
    at most ``LP_SHARE`` of the time to ``deadline``; the rest is for what finishes the start."""
    resources = band.resources
    allowance = band.allowance(on_mask)
    at_home = movable & (warm == instance.current_host) & (warm != NO_HOST)
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    departures = fractional_departures(
        instance,
        warm,
        cost_s,
        allowed,
        at_home,
        on_mask,
        list(zip(resources, allowance.tolist(), strict=True)),
        cpu_cap,
        max_rounds=LP_ROUNDS,
        time_limit_s=LP_SHARE * left,
    )
    if departures is None:
        return None
    leaving = np.flatnonzero(departures > MOVE_SHARE)  # 0 for VMs the relaxation held
    if len(leaving) == 0:
        return None
    start = warm.copy()
    start[leaving] = NO_HOST
    if dpm_high is not None:
        cpu_limit, dem_limit = high_target_limits(instance, dpm_high)
    else:
        cpu_limit = instance.host_cpu_mhz.astype(np.float64)
        dem_limit = np.full(instance.num_hosts, np.inf)
    limits = LandingLimits(cpu_limit, dem_limit, cpu_cap)
    return land_vms(instance, start, leaving, allowed, on_mask, resources, allowance, limits, deadline)


__all__ = ["guided_start"]

"""A lower bound on the migration seconds any plan needs to reach a given balance.

Description
    Reaching a balance means moving load, and each VM's move costs its pre-copy estimate. Relax
    the placement: a VM may move in part (``y_v`` ∈ [0, 1] of it leaves its host, paying
    ``y_v·c_v`` seconds) and the load that leaves may land anywhere its compatibility class
    allows, in any split. Then

        min Σ_v c_v·y_v  s.t.  u_{h,r} = (L_{h,r} − Σ_{v on h} d_{v,r}·y_v + Σ_k g_{k,h,r}) / C_{h,r},
                               Σ_h g_{k,h,r} = Σ_{v in k} d_{v,r}·y_v,   g ≥ 0 (allowed hosts only),
                               (1/N) Σ_h (u_{h,r} − m_r)² ≤ a_r²,   m_r = (1/N) Σ_h u_{h,r},
                               u_{h,cpu} ≤ cap (optional),   u_{h,r} = 0 on hosts that end off,

    is a convex program whose optimum no plan beats: every plan is a point of it (y ∈ {0, 1},
    g its moves). The squares are replaced by tangent lines, added in a cutting-plane loop at the
    deviations the last solution has; each LP keeps only tangents, which underestimate the
    squares, so its feasible set contains the convex one and every LP optimum is a valid bound.
    The loop stops when the LP's own solution meets the balance to 0.1 %, or after
    ``MAX_ROUNDS``.

    With CPU and memory both measured, the plain program lets a VM's CPU land on one host and
    its memory on another: a host can take CPU without taking memory, which no VM does. So the
    groups k are split further by each VM's CPU-to-memory ratio (``RATIO_BANDS`` bands), and each
    arrival g_{k,h} is held to the ratio range of its group's VMs (low·mem ≤ cpu ≤ high·mem),
    which every plan meets. On 128 hosts × 10,000 VMs this raises the bound by a quarter
    (1,344 s → 1,668 s; 4 bands 1,590 s, 16 bands 1,675 s) for about 15× the LP time, so the
    cuts come from the plain program first and carry over.

    Whole VMs: in every plan a VM leaves its host wholly or not at all, so y ∈ {0, 1} holds for
    every plan too. With ``whole_vms_s`` the last LP of the loop (its cuts and, with both
    resources, its ratio bands) is solved once more as a mixed-integer program over y, by HiGHS
    branch and bound within that time; what lands still splits, though not back onto the host it
    left. Its proven dual bound is a valid bound whether or not the search finishes, and it
    replaces the LP's where higher. On 128 hosts × 10,000 VMs, 300 s of it add 0.8–1.6 % (four
    seeds): the LP's departures are nearly whole already, and most of what separates a plan
    from the bound is where whole VMs land.

    ``fractional_departures`` solves the plain program from any placement (not only today's)
    and returns its y: which VMs a cheap plan moves. The optimizer's LP-guided warm start
    (``solver.guided``) moves those.
Requirements
    ``scipy`` (HiGHS). VMs that no plan moves (immobile) are held; every other VM may move.
Limitations
    Capacity, rules and whole VMs are relaxed, so the bound is optimistic where hosts are full
    and where a balance needs a few large VMs rather than slices of many. ``must_leave`` brings
    in what keeping the rules forces to move (at least one VM of each set leaves its host), not
    where the VMs that leave must land together or apart, and in the relaxation a VM that has to
    leave may land back in part.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

from scheduler.check.bounds import distinct_rows
from scheduler.model import NO_HOST, Instance

if TYPE_CHECKING:
    from scipy.sparse import coo_matrix

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

MAX_ROUNDS = 25
RATIO_BANDS = 8  # CPU-to-memory ratio bands per compatibility class (see ``_ratio_groups``)
RTOL = 1e-3  # the LP's own solution within 0.1 % of the balance ends the loop


@dataclass(frozen=True, slots=True)
class MigrationBounds:
    """Two lower bounds on the migration seconds of one question, from one solve: ``relaxed``
    lets VMs leave in part (the LP); ``whole`` is at least as high, tightened with whole
    departures where ``whole_vms_s`` was given (else equal to ``relaxed``)."""

    relaxed: float
    whole: float


def migration_bounds(
    instance: Instance,
    cost_s: FloatArray,
    allowed: BoolArray,
    movable: BoolArray,
    on_mask: BoolArray,
    imbalance: Sequence[tuple[str, float]],
    cpu_cap: float | None = None,
    *,
    whole_vms_s: float | None = None,
    must_leave: Sequence[Sequence[int]] = (),
) -> MigrationBounds:
    """Bounds on the least Σ migration seconds of any plan whose final state, over the hosts of
    ``on_mask``, has each (resource, std-dev) of ``imbalance`` within its value (and no host's
    CPU utilization above ``cpu_cap``). 0 when today's placement already does; infinite when a
    VM that cannot move (immobile, or allowed on none of those hosts) sits on a host that ends
    off, since no plan reaches that state.

    ``whole_vms_s`` (seconds) tightens the bound with whole departures (module docstring): a
    branch and bound within that time, whose proven bound counts where it is higher.
    ``must_leave``: sets of VMs (indices) of which at least one leaves its host in every plan
    counted (``check.rules.departures_to_keep``: plans that keep every rule); infinite when a
    set holds no VM that may move. The relaxed bound comes with it: the branch and bound starts
    from the LP loop's last round, so both come from one cutting-plane loop."""
    if not on_mask.any() or not imbalance:
        return MigrationBounds(0.0, 0.0)
    relaxation = _relaxation(
        instance, instance.current_host, cost_s, allowed, movable, on_mask, imbalance, cpu_cap, must_leave
    )
    if relaxation is None:
        return MigrationBounds(math.inf, math.inf)
    if relaxation.already_met():
        return MigrationBounds(0.0, 0.0)
    classes, klass = relaxation.classes, relaxation.klass
    names = [resource for resource, _ in imbalance]
    coupled = "cpu" in names and "memory" in names
    # Whole departures tighten the last program solved: the coupled one where both count.
    solved = relaxation.solve(classes, klass, None, None, whole_vms_s=None if coupled else whole_vms_s)
    relaxed, best = solved.lp_bound, solved.bound
    if coupled and math.isfinite(best):
        # Tighten with each arrival's CPU-to-memory ratio, from the cuts the plain LP needed
        # (its rounds cost a tenth as much).
        group, ratio = _ratio_groups(instance, relaxation.free, klass)
        tighter = relaxation.solve(classes[ratio.klass], group, ratio, solved.points, whole_vms_s=whole_vms_s)
        relaxed, best = max(relaxed, tighter.lp_bound), max(best, tighter.bound)
    # Tangents only underestimate, so every LP optimum is a valid bound; shave float round-off.
    return MigrationBounds(relaxed * (1 - 1e-6), best * (1 - 1e-6))


def fractional_departures(
    instance: Instance,
    start: IntArray,
    cost_s: FloatArray,
    allowed: BoolArray,
    movable: BoolArray,
    on_mask: BoolArray,
    imbalance: Sequence[tuple[str, float]],
    cpu_cap: float | None = None,
    *,
    max_rounds: int = MAX_ROUNDS,
    time_limit_s: float | None = None,
) -> FloatArray | None:
    """Which VMs the relaxation moves, as the share y_v ∈ [0, 1] of each VM that leaves its host
    in ``start`` (0 for VMs it holds), from the plain program (no ratio bands) solved from
    ``start`` instead of today's placement.

    Its choice is nearly integral on large clusters (most VMs at 0 or 1), which makes it a guide
    for which VMs a cheap plan moves. None when no LP round finished within ``time_limit_s`` or
    no plan reaches the balance; all zeros when ``start`` already meets it.
    """
    departures = np.zeros(instance.num_vms)
    if not on_mask.any() or not imbalance:
        return departures
    relaxation = _relaxation(instance, start, cost_s, allowed, movable, on_mask, imbalance, cpu_cap)
    if relaxation is None:
        return None
    if relaxation.already_met():
        return departures
    solved = relaxation.solve(
        relaxation.classes, relaxation.klass, None, None, max_rounds=max_rounds, time_limit_s=time_limit_s
    )
    share = solved.share
    if share is None or not math.isfinite(solved.bound):
        return None
    departures[relaxation.free] = np.clip(share, 0.0, 1.0)
    return departures


def _relaxation(
    instance: Instance,
    start: IntArray,
    cost_s: FloatArray,
    allowed: BoolArray,
    movable: BoolArray,
    on_mask: BoolArray,
    imbalance: Sequence[tuple[str, float]],
    cpu_cap: float | None,
    must_leave: Sequence[Sequence[int]] = (),
) -> _Relaxation | None:
    """The relaxation from ``start`` over the hosts of ``on_mask``, its free VMs grouped by the
    hosts they may use; None when a VM that cannot move sits on a host that ends off, or when a
    set of ``must_leave`` holds no free VM (no plan reaches that state)."""
    hosts = np.flatnonzero(on_mask)
    column_of = np.full(instance.num_hosts, -1)
    column_of[hosts] = np.arange(len(hosts))
    placed = start != NO_HOST
    # Free: movable VMs placed in ``start`` (new VMs are placed for free: no migration). VMs on a
    # host that ends off must leave whatever they are.
    free = np.flatnonzero(placed & movable & allowed[:, hosts].any(axis=1))
    stuck = placed & ~np.isin(np.arange(instance.num_vms), free)
    if np.any(column_of[start[stuck]] < 0):
        return None
    position = np.full(instance.num_vms, -1)
    position[free] = np.arange(len(free))
    cover = tuple(tuple(int(position[v]) for v in vms if position[v] >= 0) for vms in must_leave)
    if any(not vms for vms in cover):
        return None
    classes, klass = distinct_rows(allowed[np.ix_(free, hosts)])
    return _Relaxation(
        instance,
        start,
        cost_s,
        hosts,
        column_of,
        free,
        stuck,
        classes,
        klass,
        tuple(imbalance),
        cpu_cap,
        cover,
    )


class _Solved(NamedTuple):
    """What ``_Relaxation.solve`` proved: ``bound`` (with whole departures where asked) and
    ``lp_bound`` (the LP loop's alone); per resource the deviations its tangents were taken at
    (seeds for a later, tighter solve: tangents at any point are valid); the free VMs'
    departures y of the last LP solved (None if none was)."""

    bound: float
    lp_bound: float
    points: list[list[FloatArray]]
    share: FloatArray | None


@dataclass(frozen=True)
class _Relaxation:
    """The convex relaxation of one balance target, solved by cutting planes."""

    instance: Instance
    start: IntArray  # each VM's host before the moves (today's placement for the bound)
    cost_s: FloatArray
    hosts: IntArray
    column_of: IntArray
    free: IntArray
    stuck: BoolArray
    classes: BoolArray  # distinct rows of the free VMs' allowed hosts (compatibility classes)
    klass: IntArray  # each free VM's row of ``classes``
    imbalance: tuple[tuple[str, float], ...]
    cpu_cap: float | None
    cover: tuple[tuple[int, ...], ...] = ()  # sets of free VMs (positions) of which one leaves

    @property
    def home(self) -> IntArray:
        """Each free VM's host column; -1 where the host ends off."""
        return self.column_of[self.start[self.free]]

    def start_loads(self, resource: str) -> FloatArray:
        """Each host's load of ``resource`` today (free VMs on hosts that end off left out)."""
        demand = self.instance.balance_columns(resource)[0].astype(np.float64)
        n_hosts, home = len(self.hosts), self.home
        at_home = home >= 0
        fixed = np.bincount(self.column_of[self.start[self.stuck]], demand[self.stuck], n_hosts)
        return np.asarray(fixed + np.bincount(home[at_home], demand[self.free][at_home], n_hosts))

    def already_met(self) -> bool:
        """The start meets the target (every free VM's host stays on, and none has to leave)."""
        if np.any(self.home < 0) or self.cover:
            return False
        for resource, target in self.imbalance:
            u = self.start_loads(resource) / self.instance.balance_columns(resource)[1][self.hosts]
            if float(np.std(u)) > target:
                return False
            if resource == "cpu" and self.cpu_cap is not None and float(u.max()) > self.cpu_cap:
                return False
        return True

    def solve(
        self,
        classes: BoolArray,
        klass: IntArray,
        ratio: RatioGroups | None,
        seeds: list[list[FloatArray]] | None,
        *,
        max_rounds: int = MAX_ROUNDS,
        time_limit_s: float | None = None,
        whole_vms_s: float | None = None,
    ) -> _Solved:
        """The LP bound with arrivals grouped by ``klass`` (rows of ``classes``: allowed hosts),
        each group's arrivals held to its CPU-to-memory range when ``ratio`` is given.
        ``time_limit_s`` bounds all rounds together; a round cut short ends the loop with what
        the earlier ones proved. ``whole_vms_s``: after the loop, the last LP with y integral,
        by branch and bound for at most that long; its proven bound replaces the LP's where
        higher (``_Solved.bound``; ``lp_bound`` keeps the LP's)."""
        from scipy.optimize import linprog
        from scipy.sparse import coo_matrix, vstack

        instance, free, home = self.instance, self.free, self.home
        n_hosts = len(self.hosts)
        ks, hs = np.nonzero(classes)
        n_free, n_pairs, n_res = len(free), len(ks), len(self.imbalance)

        # Variables: y[v] (n_free), then per resource r: g[pair] (n_pairs), u[h] (n_hosts), e[h]
        # (n_hosts, epigraph of the squared deviation), m (1).
        per_res = n_pairs + 2 * n_hosts + 1
        n_vars = n_free + n_res * per_res
        objective = np.zeros(n_vars)
        scale = max(float(np.median(self.cost_s[free])) if n_free else 1.0, 1e-6)
        objective[:n_free] = self.cost_s[free] / scale
        lower = np.zeros(n_vars)
        upper = np.full(n_vars, np.inf)
        upper[:n_free] = 1.0
        lower[:n_free] = np.where(home < 0, 1.0, 0.0)  # leaving an off host is not optional

        eq_blocks, eq_rhs, ub_blocks, ub_rhs = [], [], [], []
        bases: list[tuple[int, FloatArray, float]] = []
        units: list[float] = []
        at_home = home >= 0
        for i, (resource, target) in enumerate(self.imbalance):
            base = n_free + i * per_res
            g0, u0, e0, m_col = base, base + n_pairs, base + n_pairs + n_hosts, base + n_pairs + 2 * n_hosts
            demand, capacity = instance.balance_columns(resource)
            d = demand.astype(np.float64)
            cap = capacity[self.hosts].astype(np.float64)
            unit = float(cap.mean())  # loads in "average hosts" keep the LP well conditioned
            start = self.start_loads(resource)
            # Class balance: Σ_h g[k,h] − Σ_{v in k} d_v·y_v = 0.
            eq_blocks.append(
                coo_matrix(
                    (
                        np.concatenate([np.ones(n_pairs), -d[free] / unit]),
                        (
                            np.concatenate([ks, klass]),
                            np.concatenate([g0 + np.arange(n_pairs), np.arange(n_free)]),
                        ),
                    ),
                    shape=(len(classes), n_vars),
                )
            )
            eq_rhs.append(np.zeros(len(classes)))
            # Host load: u_h·C_h/unit + Σ_{v home h} d_v·y_v/unit − Σ_k g[k,h] = start_h/unit.
            rows = np.concatenate([np.arange(n_hosts), home[at_home], hs])
            cols = np.concatenate([u0 + np.arange(n_hosts), np.flatnonzero(at_home), g0 + np.arange(n_pairs)])
            vals = np.concatenate([cap / unit, d[free][at_home] / unit, -np.ones(n_pairs)])
            eq_blocks.append(coo_matrix((vals, (rows, cols)), shape=(n_hosts, n_vars)))
            eq_rhs.append(start / unit)
            # Mean: N·m − Σ u = 0.
            eq_blocks.append(
                coo_matrix(
                    (
                        np.concatenate([[float(n_hosts)], -np.ones(n_hosts)]),
                        (
                            np.zeros(n_hosts + 1, dtype=np.int64),
                            np.concatenate([[m_col], u0 + np.arange(n_hosts)]),
                        ),
                    ),
                    shape=(1, n_vars),
                )
            )
            eq_rhs.append(np.zeros(1))
            # Σ e ≤ N·a².
            ub_blocks.append(
                coo_matrix(
                    (np.ones(n_hosts), (np.zeros(n_hosts, dtype=np.int64), e0 + np.arange(n_hosts))),
                    shape=(1, n_vars),
                )
            )
            ub_rhs.append(np.array([n_hosts * target**2]))
            if resource == "cpu" and self.cpu_cap is not None:
                upper[u0 : u0 + n_hosts] = self.cpu_cap
            lower[m_col] = -np.inf
            bases.append((base, start / cap, target))
            units.append(unit)

        if self.cover:
            # At least one VM of each set leaves: −Σ y ≤ −1.
            rows = np.repeat(np.arange(len(self.cover)), [len(vms) for vms in self.cover])
            cols = np.concatenate([np.asarray(vms, dtype=np.int64) for vms in self.cover])
            ub_blocks.append(coo_matrix((-np.ones(len(cols)), (rows, cols)), shape=(len(self.cover), n_vars)))
            ub_rhs.append(-np.ones(len(self.cover)))
        if ratio is not None:
            # What lands on a host carries CPU and memory in the ratio of the VMs that make it up.
            names = [resource for resource, _ in self.imbalance]
            ub_blocks.append(_ratio_rows(names, bases, units, n_pairs, ratio.bounds(ks), n_vars))
            ub_rhs.append(np.zeros(2 * n_pairs))
        a_eq = vstack(eq_blocks).tocsr()
        b_eq = np.concatenate(eq_rhs)
        # Tangent of z² at z0: z² ≥ 2·z0·z − z0², i.e. 2·z0·(u_h − m) − e_h ≤ z0².
        cut_rows: list[coo_matrix] = []
        cut_rhs: list[FloatArray] = []
        points: list[list[FloatArray]] = [[] for _ in bases]

        def add_cuts(i: int, z0: FloatArray) -> None:
            r_base = bases[i][0]
            u0, e0, m_col = r_base + n_pairs, r_base + n_pairs + n_hosts, r_base + n_pairs + 2 * n_hosts
            idx = np.arange(n_hosts)
            cut_rows.append(
                coo_matrix(
                    (
                        np.concatenate([2 * z0, -np.ones(n_hosts), -2 * z0]),
                        (np.tile(idx, 3), np.concatenate([u0 + idx, e0 + idx, np.full(n_hosts, m_col)])),
                    ),
                    shape=(n_hosts, n_vars),
                )
            )
            cut_rhs.append(z0**2)
            points[i].append(z0)

        for i, (_, u_start, target) in enumerate(bases):
            z_start = u_start - u_start.mean()
            first = [z_start, np.full(n_hosts, target), np.full(n_hosts, -target), np.zeros(n_hosts)]
            for z0 in seeds[i] if seeds is not None else first:
                add_cuts(i, z0)

        def cut_where_unmet(x: FloatArray) -> bool:
            """Add tangents where ``x`` misses a resource's balance; whether it meets them all."""
            met = True
            for i, (r_base, _, target) in enumerate(bases):
                u = x[r_base + n_pairs : r_base + n_pairs + n_hosts]
                z = u - u.mean()
                if float(np.sqrt(np.mean(z**2))) > target * (1 + RTOL):
                    met = False
                    add_cuts(i, z)
            return met

        best = 0.0
        share: FloatArray | None = None
        deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
        for _ in range(max_rounds):
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            a_ub = vstack([*ub_blocks, *cut_rows]).tocsr()
            b_ub = np.concatenate([*ub_rhs, *cut_rhs])
            result = linprog(
                objective,
                A_ub=a_ub,
                b_ub=b_ub,
                A_eq=a_eq,
                b_eq=b_eq,
                bounds=np.column_stack([lower, upper]),
                method="highs",
                options={} if left is None else {"time_limit": left},
            )
            if result.status != 0:
                break
            best = max(best, float(result.fun) * scale)
            share = np.asarray(result.x[:n_free], dtype=np.float64)
            if cut_where_unmet(result.x):
                break
        if whole_vms_s is None or share is None:
            return _Solved(best, best, points, share)
        lp_best = best
        # Whole departures: the same rows, cuts included, with y ∈ {0, 1} (every plan is a point
        # of them). What leaves a host lands elsewhere: without that row a whole departure could
        # land half back home, a fractional move after all. Each program's dual bound is proven,
        # even for a search cut short; an optimum that misses the balance gets its tangents and
        # the program is solved again while time is left.
        integrality = np.zeros(n_vars)
        integrality[:n_free] = 1
        away = [
            _lands_elsewhere_rows(
                base, units[i], instance.balance_columns(resource)[0], free, klass, home, ks, hs, n_vars
            )
            for i, ((resource, _), (base, _, _)) in enumerate(zip(self.imbalance, bases, strict=True))
        ]
        whole_deadline = time.monotonic() + whole_vms_s
        while (left := whole_deadline - time.monotonic()) > 0:
            result = linprog(
                objective,
                A_ub=vstack([*ub_blocks, *cut_rows, *away]).tocsr(),
                b_ub=np.concatenate([*ub_rhs, *cut_rhs, *(np.zeros(rows.shape[0]) for rows in away)]),
                A_eq=a_eq,
                b_eq=b_eq,
                bounds=np.column_stack([lower, upper]),
                method="highs",
                integrality=integrality,
                options={"time_limit": left},
            )
            if result.status == 2:  # proven: no whole departures reach the balance
                return _Solved(math.inf, lp_best, points, share)
            dual = getattr(result, "mip_dual_bound", None)
            if result.status in (0, 1) and dual is not None and math.isfinite(dual):
                best = max(best, float(dual) * scale)
            if result.status != 0 or cut_where_unmet(result.x):
                break
        return _Solved(best, lp_best, points, share)


def _lands_elsewhere_rows(
    base: int,
    unit: float,
    demand: IntArray,
    free: IntArray,
    klass: IntArray,
    home: IntArray,
    ks: IntArray,
    hs: IntArray,
    n_vars: int,
) -> coo_matrix:
    """Σ_{v in k, home h} d_v·y_v − Σ_{h' ≠ h} g[k,h'] ≤ 0 for each group k and host h that
    group's VMs leave: a VM that moves lands on another host than its own, so what a group
    sends from h arrives on the group's other hosts (g columns start at ``base``, in ``unit``s).
    """
    from scipy.sparse import coo_matrix

    at_home = home >= 0
    combos, row_of_vm = np.unique(
        np.column_stack([klass[at_home], home[at_home]]), axis=0, return_inverse=True
    )
    row_of_vm = row_of_vm.ravel()
    d = demand[free][at_home].astype(np.float64) / unit
    rows, cols, vals = [row_of_vm], [np.flatnonzero(at_home)], [d]
    pairs_of = {int(k): np.flatnonzero(ks == k) for k in np.unique(combos[:, 0])}
    for r, (k, h) in enumerate(combos.tolist()):
        others = pairs_of[k][hs[pairs_of[k]] != h]
        rows.append(np.full(len(others), r))
        cols.append(base + others)
        vals.append(-np.ones(len(others)))
    return coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(combos), n_vars)
    )


@dataclass(frozen=True)
class RatioGroups:
    """Free VMs grouped by compatibility class and by CPU-to-memory ratio band.

    ``klass[g]`` is group g's compatibility class; ``low[g]`` / ``high[g]`` the least and
    greatest CPU demand per unit of memory demand among its VMs (``inf`` for VMs without memory
    demand)."""

    klass: IntArray
    low: FloatArray
    high: FloatArray

    def bounds(self, groups: IntArray) -> tuple[FloatArray, FloatArray]:
        return self.low[groups], self.high[groups]


def _ratio_groups(instance: Instance, free: IntArray, klass: IntArray) -> tuple[IntArray, RatioGroups]:
    """Each free VM's group (class × ratio band) and the groups' ratio ranges.

    Any set of a group's VMs carries CPU and memory in a ratio within the group's range, so
    bounding each arrival's ratio by it holds for every plan; narrower bands make it tighter.
    """
    cpu = instance.vm_cpu_demand_mhz[free].astype(np.float64)
    mem = instance.vm_memory_demand_mib[free].astype(np.float64)
    ratio = np.divide(cpu, mem, out=np.full(len(free), np.inf), where=mem > 0)
    finite = np.isfinite(ratio)
    inner = np.linspace(0, 1, RATIO_BANDS + 1)[1:-1]
    edges: FloatArray = np.unique(np.quantile(ratio[finite], inner)) if finite.any() else np.zeros(0)
    band = np.where(finite, np.searchsorted(edges, ratio), len(edges) + 1)
    keys, group = np.unique(np.column_stack([klass, band]), axis=0, return_inverse=True)
    group = group.ravel()
    low = np.full(len(keys), np.inf)
    high = np.zeros(len(keys))
    np.minimum.at(low, group, ratio)
    np.maximum.at(high, group, ratio)
    return group, RatioGroups(keys[:, 0].astype(np.int64), low, high)


def _ratio_rows(
    names: list[str],
    bases: list[tuple[int, FloatArray, float]],
    units: list[float],
    n_pairs: int,
    ratio: tuple[FloatArray, FloatArray],
    n_vars: int,
) -> coo_matrix:
    """low·mem ≤ cpu ≤ high·mem for each (group, host) arrival, as ≤ 0 rows on the g columns."""
    from scipy.sparse import coo_matrix

    low, high = ratio
    c, m = names.index("cpu"), names.index("memory")
    gc = bases[c][0] + np.arange(n_pairs)  # g columns hold load / unit, so scale back by the unit
    gm = bases[m][0] + np.arange(n_pairs)
    uc, um = units[c], units[m]
    finite_high = np.isfinite(high)
    pairs = np.arange(n_pairs)
    # cpu − high·mem ≤ 0 (rows with an infinite high are left empty: no upper ratio).
    upper_rows = np.concatenate([pairs, pairs])[np.concatenate([finite_high, finite_high])]
    upper_cols = np.concatenate([gc, gm])[np.concatenate([finite_high, finite_high])]
    upper_vals = np.concatenate([np.full(n_pairs, uc), -np.where(finite_high, high, 0) * um])[
        np.concatenate([finite_high, finite_high])
    ]
    # low·mem − cpu ≤ 0 (low is finite unless the group's VMs have no memory demand at all).
    low_f = np.where(np.isfinite(low), low, 0.0)
    lower_rows = n_pairs + np.concatenate([pairs, pairs])
    lower_cols = np.concatenate([gm, gc])
    lower_vals = np.concatenate([low_f * um, np.full(n_pairs, -uc)])
    return coo_matrix(
        (
            np.concatenate([upper_vals, lower_vals]),
            (np.concatenate([upper_rows, lower_rows]), np.concatenate([upper_cols, lower_cols])),
        ),
        shape=(2 * n_pairs, n_vars),
    )


__all__ = ["MigrationBounds", "fractional_departures", "migration_bounds"]

"""A lower bound on the migration seconds any plan needs to reach a given balance.

Description
    Reaching a balance means moving load, and each VM's move costs its pre-copy estimate. Relax
    the placement: a VM may move in part (``y_v`` ∈ [0, 1] of it leaves its host, paying
    ``y_v·c_v`` seconds) and the load that leaves may land anywhere its compatibility class
    allows, each resource on its own. Then

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
Requirements
    ``scipy`` (HiGHS). VMs that no plan moves (immobile) are held; every other VM may move.
Limitations
    Capacity, rules and the per-resource split of a VM's load are relaxed, so the bound is
    optimistic where memory, not CPU, is what a balance must move, and where hosts are full.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from scheduler.check.bounds import distinct_rows
from scheduler.model import NO_HOST, Instance

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MAX_ROUNDS = 25
RTOL = 1e-3  # the LP's own solution within 0.1 % of the balance ends the loop


def least_migration_seconds(
    instance: Instance,
    cost_s: FloatArray,
    allowed: BoolArray,
    movable: BoolArray,
    on_mask: BoolArray,
    imbalance: Sequence[tuple[str, float]],
    cpu_cap: float | None = None,
) -> float:
    """The least Σ migration seconds of any plan whose final state, over the hosts of
    ``on_mask``, has each (resource, std-dev) of ``imbalance`` within its value (and no host's
    CPU utilization above ``cpu_cap``). 0 when today's placement already does; infinite when a
    VM that cannot move (immobile, or allowed on none of those hosts) sits on a host that ends
    off, since no plan reaches that state."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix, vstack

    hosts = np.flatnonzero(on_mask)
    n_hosts = len(hosts)
    placed = instance.current_host != NO_HOST
    if n_hosts == 0 or not imbalance:
        return 0.0
    column_of = np.full(instance.num_hosts, -1)
    column_of[hosts] = np.arange(n_hosts)
    # Free: movable VMs placed today (new VMs are placed for free: no migration). VMs on a host
    # that ends off must leave whatever they are.
    free = np.flatnonzero(placed & movable & allowed[:, hosts].any(axis=1))
    stuck = placed & ~np.isin(np.arange(instance.num_vms), free)
    if np.any(column_of[instance.current_host[stuck]] < 0):
        return math.inf
    home = column_of[instance.current_host[free]]  # -1: the VM's host ends off
    classes, klass = distinct_rows(allowed[np.ix_(free, hosts)])
    ks, hs = np.nonzero(classes)
    n_free, n_pairs, n_res = len(free), len(ks), len(imbalance)

    # Variables: y[v] (n_free), then per resource r: g[pair] (n_pairs), u[h] (n_hosts), e[h]
    # (n_hosts, epigraph of the squared deviation), m (1).
    per_res = n_pairs + 2 * n_hosts + 1
    n_vars = n_free + n_res * per_res
    objective = np.zeros(n_vars)
    scale = max(float(np.median(cost_s[free])) if n_free else 1.0, 1e-6)
    objective[:n_free] = cost_s[free] / scale
    lower = np.zeros(n_vars)
    upper = np.full(n_vars, np.inf)
    upper[:n_free] = 1.0
    lower[:n_free] = np.where(home < 0, 1.0, 0.0)  # leaving an off host is not optional

    eq_blocks, eq_rhs, ub_blocks, ub_rhs = [], [], [], []
    bases: list[tuple[int, FloatArray, float]] = []
    for i, (resource, target) in enumerate(imbalance):
        base = n_free + i * per_res
        g0, u0, e0, m_col = base, base + n_pairs, base + n_pairs + n_hosts, base + n_pairs + 2 * n_hosts
        demand, capacity = instance.balance_columns(resource)
        d = demand.astype(np.float64)
        cap = capacity[hosts].astype(np.float64)
        unit = float(cap.mean())  # loads in "average hosts" keep the LP well conditioned
        fixed = (
            np.bincount(column_of[instance.current_host[stuck]], d[stuck], n_hosts)
            if stuck.any()
            else np.zeros(n_hosts)
        )
        at_home = home >= 0
        start = fixed + np.bincount(home[at_home], d[free][at_home], n_hosts)
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
        if resource == "cpu" and cpu_cap is not None:
            upper[u0 : u0 + n_hosts] = cpu_cap
        lower[m_col] = -np.inf
        bases.append((base, start / cap, target))

    a_eq = vstack(eq_blocks).tocsr()
    b_eq = np.concatenate(eq_rhs)
    # Tangent of z² at z0: z² ≥ 2·z0·z − z0², i.e. 2·z0·(u_h − m) − e_h ≤ z0².
    cut_rows: list[coo_matrix] = []
    cut_rhs: list[FloatArray] = []

    def add_cuts(r_base: int, z0: FloatArray) -> None:
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

    for r_base, u_start, target in bases:
        z_start = u_start - u_start.mean()
        for z0 in (z_start, np.full(n_hosts, target), np.full(n_hosts, -target), np.zeros(n_hosts)):
            add_cuts(r_base, z0)
    already = all(float(np.std(u_start)) <= target for _, u_start, target in bases)
    if cpu_cap is not None:
        already &= all(
            float(u_start.max()) <= cpu_cap
            for (res, _), (_, u_start, _) in zip(imbalance, bases, strict=True)
            if res == "cpu"
        )
    if already and bool(np.all(home >= 0)):
        return 0.0

    best = 0.0
    for _ in range(MAX_ROUNDS):
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
        )
        if result.status != 0:
            break
        best = max(best, float(result.fun) * scale)
        met = True
        for r_base, _, target in bases:
            u = result.x[r_base + n_pairs : r_base + n_pairs + n_hosts]
            z = u - u.mean()
            if float(np.sqrt(np.mean(z**2))) > target * (1 + RTOL):
                met = False
                add_cuts(r_base, z)
        if met:
            break
    # Tangents only underestimate, so every LP optimum is a valid bound; shave float round-off.
    return best * (1 - 1e-6)


__all__ = ["least_migration_seconds"]

"""Lower bounds that say how good a plan could possibly be (plan.metrics.lower_bounds).

Reported next to the achieved values, they turn "imbalance 0.04, 12 hosts on" into a gap. Every
bound here is *valid*: no plan can beat it. Capacity dimensions, as docs/inventory.md admits load:
``cpu`` = Σ cpu_demand_mhz against cpu_mhz, ``memory`` = Σ configured memory_mib against
memory_mib × memory_overcommit. Usable hosts are those up or standby (maintenance and down hosts
end empty). Formulas from Martello & Toth, "Knapsack Problems" (1990), ch. 8 (bin packing).
The imbalance floor is over the hosts a plan's imbalance is measured on (``imbalance_hosts``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from scheduler.compat import Compatibility, compatibility
from scheduler.model import NO_HOST, HostState, Instance, RuleKind
from scheduler.model.instance import FloatArray

Resource = Literal["cpu", "memory"]

_FLOOR_ROUNDS = 8  # cutting-plane rounds of imbalance_floor (2-4 usually suffice)
_FLOOR_RTOL = 0.01  # stop when the floor is within 1 % of the std-dev the LP's own split reaches
_FLOOR_ATOL = 5e-4  # ... or within this much in absolute terms
_EPS = 1e-9  # relative slack on ceilings of float quotients (a load exactly filling k bins needs k)


def fluid_max_utilization_bound(
    instance: Instance, resource: Resource, compat: Compatibility | None = None
) -> float:
    """A lower bound on the highest host utilization (demand / capacity) any placement reaches.

        U* ≥ max( Σ_v d_v / Σ_h C_h ,  max_v min_{h allowed for v} d_v / C_h )

    with d = cpu_demand_mhz and C = cpu_mhz for ``cpu``, d = memory_demand_mib and C = memory_mib
    for ``memory`` (balance is measured on demand), h over usable hosts. The first term is the
    fluid (perfectly divisible) optimum: some host is at least at the average; the second: each
    VM alone fills its best allowed host that much. VMs with no allowed host are left out (the
    instance is infeasible; conflicts report them).
    """
    compat = compat if compat is not None else compatibility(instance)
    usable = np.array([h.is_usable for h in instance.hosts], dtype=np.bool_)
    demand, cap = instance.balance_columns(resource)
    total_cap = float(cap[usable].sum())
    if total_cap <= 0 or instance.num_vms == 0:
        return 0.0
    fluid = float(demand.sum()) / total_cap
    # allowed already excludes maintenance / down hosts; the best host of a VM is its largest allowed one.
    best_cap = np.where(compat.allowed, cap[np.newaxis, :], 0).max(axis=1) if instance.num_hosts else None
    single = 0.0
    if best_cap is not None:
        ok = best_cap > 0
        if ok.any():
            single = float((demand[ok] / best_cap[ok]).max())
    return max(fluid, single)


def compat_fluid_max_utilization_bound(
    instance: Instance, resource: Resource, compat: Compatibility | None = None
) -> float:
    """The fluid bound on the highest host utilization, with compatibility respected.

    The plain fluid bound lets load flow anywhere; CPU generations, storage and networks cut a
    cluster into islands, and then the average is out of reach. Here VMs are grouped by their row
    of ``allowed`` (their compatibility class k, demand D_k) and load may be split only among a
    class's allowed hosts:

        min U  s.t.  Σ_h y[k,h] = D_k,  Σ_k y[k,h] ≤ U · C_h,  y ≥ 0,  y[k,h] = 0 where not allowed

    a linear program (HiGHS) whose optimum is a valid lower bound for every integral placement;
    the single-VM term of ``fluid_max_utilization_bound`` still applies on top.
    """
    compat = compat if compat is not None else compatibility(instance)
    demand, cap = instance.balance_columns(resource)
    simple = fluid_max_utilization_bound(instance, resource, compat)
    return max(simple, least_peak_of(compat.allowed, demand, cap))


def least_peak_of(allowed: npt.NDArray[np.bool_], demand: npt.ArrayLike, capacity: npt.ArrayLike) -> float:
    """``compat_fluid_max_utilization_bound`` on arrays (``allowed[vm, host]``, ``demand[vm]``,
    ``capacity[host]`` over the hosts that count), with the single-VM term: each VM alone fills
    the largest host it may use that much. VMs with no allowed host among them are left out."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    cap = np.asarray(capacity, dtype=np.float64)
    demand = np.asarray(demand, dtype=np.float64)
    placeable = allowed.any(axis=1)
    if not placeable.any() or len(cap) == 0 or np.any(cap <= 0):
        return 0.0
    allowed = allowed[placeable]
    demand = demand[placeable]
    single = float((demand / np.where(allowed, cap[None, :], 0).max(axis=1)).max())
    rows, klass = distinct_rows(allowed)
    scale = max(float(cap.mean()), 1.0)  # keep the LP well conditioned (loads in "hosts")
    class_demand = np.bincount(klass, demand, len(rows)) / scale
    ks, hs = np.nonzero(rows)
    n_pairs, n_hosts = len(ks), len(cap)
    u_col = n_pairs  # the last variable is U
    equality = coo_matrix((np.ones(n_pairs), (ks, np.arange(n_pairs))), shape=(len(rows), n_pairs + 1))
    capacity_rows = coo_matrix(
        (
            np.concatenate([np.ones(n_pairs), -cap / scale]),
            (
                np.concatenate([hs, np.arange(n_hosts)]),
                np.concatenate([np.arange(n_pairs), np.full(n_hosts, u_col)]),
            ),
        ),
        shape=(n_hosts, n_pairs + 1),
    )
    objective = np.zeros(n_pairs + 1)
    objective[u_col] = 1.0
    result = linprog(
        objective,
        A_ub=capacity_rows,
        b_ub=np.zeros(n_hosts),
        A_eq=equality,
        b_eq=class_demand,
        bounds=(0, None),
        method="highs",
    )
    if result.status != 0:
        return single
    return max(single, float(result.fun) * (1 - 1e-9))


def imbalance_hosts(instance: Instance) -> npt.NDArray[np.bool_]:
    """The hosts ``imbalance_floor`` counts by default: those a plan's imbalance is measured on.

    A plan's imbalance is the std-dev over the hosts up *after* it, and a floor bounds only plans
    on its own host set (an empty host added to the set, or one taken away, moves the mean). With
    DPM off no plan changes power (``solver.problem.host_power``), so the set is the hosts up now
    and the floor binds every plan. With DPM on the set is the plan's choice; no single set bounds
    every choice, so the floor is taken with every usable host on: it binds the plans that end
    with all of them up, which a reader can tell from the host count alone (the hosts up after any
    plan are a subset of the usable ones).
    """
    if instance.policy.dpm.enabled:
        return np.array([h.is_usable for h in instance.hosts], dtype=np.bool_)
    return np.array([h.state is HostState.UP for h in instance.hosts], dtype=np.bool_)


def imbalance_floor(
    instance: Instance,
    resource: Resource,
    compat: Compatibility | None = None,
    on_mask: npt.NDArray[np.bool_] | None = None,
) -> float:
    """A lower bound on the DRS imbalance (std-dev of host utilization) any placement reaches.

    When compatibility cuts the cluster into islands (a VM on a newer CPU generation cannot go
    back to an older host without IMC; storage or networks seen by some hosts only), perfect
    balance may be out of reach for every placement. With load divisible within each
    compatibility class k (demand D_k, the VMs of one row of ``allowed``), the least variance is

        min (1/N) Σ_h (u_h − c)²  s.t.  u_h = Σ_k y[k,h] / C_h,  Σ_h y[k,h] = D_k,  y ≥ 0,
                                         y[k,h] = 0 where k may not use h,  c free,

    over the N hosts of ``on_mask`` (default: ``imbalance_hosts``); c is the mean at the optimum.
    Squares are replaced by tangent lines (a cutting-plane loop adds the tangent at each host's
    deviation), so every LP optimum underestimates the variance and the square root of the best
    one is a valid bound on the standard deviation.
    """
    compat = compat if compat is not None else compatibility(instance)
    on = on_mask if on_mask is not None else imbalance_hosts(instance)
    demand, capacity = instance.balance_columns(resource)
    hosts = np.flatnonzero(on)
    return imbalance_floor_of(compat.allowed[:, hosts], demand, capacity[hosts])


def imbalance_floor_of(
    allowed: npt.NDArray[np.bool_], demand: npt.ArrayLike, capacity: npt.ArrayLike
) -> float:
    """``imbalance_floor`` on arrays: ``allowed[vm, host]``, ``demand[vm]`` and ``capacity[host]``
    over the hosts that count. VMs with no allowed host among them are left out."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    cap = np.asarray(capacity, dtype=np.float64)
    demand = np.asarray(demand, dtype=np.float64)
    n_hosts = len(cap)
    placeable = allowed.any(axis=1) & (demand > 0)
    if n_hosts < 2 or not placeable.any() or np.any(cap <= 0):
        return 0.0
    rows, klass = distinct_rows(allowed[placeable])
    scale = float(cap.mean())  # loads in "average hosts" keep the LP well conditioned
    class_demand = np.bincount(klass, demand[placeable], len(rows)) / scale
    # Hosts with the same capacity that the same classes may use are interchangeable: averaging
    # any split over them keeps it feasible and (convexity) no worse, so one variable per group of
    # such hosts is exact, and far smaller on clusters bought in batches.
    group_of = _host_groups(rows, cap)
    n_groups = int(group_of.max()) + 1
    size = np.bincount(group_of, minlength=n_groups).astype(np.float64)
    group_cap = np.zeros(n_groups)
    group_cap[group_of] = cap
    reach = np.zeros((len(rows), n_groups), dtype=np.bool_)
    reach[:, group_of] = rows
    ks, gs = np.nonzero(reach)
    n_pairs = len(ks)
    # Variables: y[pair] (load of a class on a group), t[group] (epigraph of the squared deviation
    # of one of its hosts), c (the mean). u_g = Σ_k y[k,g]·scale/(size_g·C_g).
    per_unit = scale / (size[gs] * group_cap[gs])
    t_col, c_col = n_pairs + np.arange(n_groups), n_pairs + n_groups
    n_vars = n_pairs + n_groups + 1
    equality = coo_matrix((np.ones(n_pairs), (ks, np.arange(n_pairs))), shape=(len(rows), n_vars))
    objective = np.zeros(n_vars)
    objective[t_col] = size / n_hosts
    bounds = [(0.0, None)] * (n_pairs + n_groups) + [(None, None)]
    util = coo_matrix((per_unit, (gs, np.arange(n_pairs))), shape=(n_groups, n_pairs)).tocsr()
    # Perfect balance (every group at the mean) as a plain feasibility LP first: the common case
    # without islands, settled in one small solve.
    level = float(class_demand.sum()) * scale / float(cap.sum())
    even = linprog(
        np.zeros(n_pairs),
        A_eq=coo_matrix(
            (
                np.concatenate([np.ones(n_pairs), per_unit]),
                (np.concatenate([ks, len(rows) + gs]), np.tile(np.arange(n_pairs), 2)),
            ),
            shape=(len(rows) + n_groups, n_pairs),
        ).tocsr(),
        b_eq=np.concatenate([class_demand, np.full(n_groups, level)]),
        bounds=(0.0, None),
        method="highs",
    )
    if even.status == 0:
        return 0.0
    # Tangent of s² at s0: s² ≥ 2·s0·s − s0², so 2·s0·(u_g − c) − t_g ≤ s0² for each cut s0[g].
    cuts = [np.tile(np.linspace(-1.0, 1.0, 41)[:, None], (1, n_groups))]
    best = 0.0
    for _ in range(_FLOOR_ROUNDS):
        s0 = np.vstack(cuts)  # [cut, group]
        n_cuts = len(s0)
        first_row = np.arange(n_cuts)[:, None] * n_groups
        y_rows = (first_row + gs[None, :]).ravel()
        y_vals = (2.0 * s0[:, gs] * per_unit[None, :]).ravel()
        y_cols = np.tile(np.arange(n_pairs), n_cuts)
        g_rows = (first_row + np.arange(n_groups)[None, :]).ravel()
        a_ub = coo_matrix(
            (
                np.concatenate([y_vals, -np.ones(g_rows.size), -2.0 * s0.ravel()]),
                (
                    np.concatenate([y_rows, g_rows, g_rows]),
                    np.concatenate([y_cols, np.tile(t_col, n_cuts), np.full(g_rows.size, c_col)]),
                ),
            ),
            shape=(n_cuts * n_groups, n_vars),
        )
        result = linprog(
            objective,
            A_ub=a_ub.tocsr(),
            b_ub=(s0**2).ravel(),
            A_eq=equality,
            b_eq=class_demand,
            bounds=bounds,
            method="highs",
        )
        if result.status != 0:
            break
        best = max(best, float(result.fun))
        deviation = util @ result.x[:n_pairs] - result.x[c_col]
        found = float(np.sqrt(np.sum(size * deviation**2) / n_hosts))  # what the LP's own split reaches
        if found - np.sqrt(best) <= max(_FLOOR_RTOL * found, _FLOOR_ATOL):
            break
        cuts.append(deviation[None, :])
    # Tangents only underestimate, so the LP value is a valid floor; shave float round-off.
    return float(np.sqrt(max(best, 0.0))) * (1 - 1e-6)


def _host_groups(rows: npt.NDArray[np.bool_], cap: FloatArray) -> npt.NDArray[np.intp]:
    """Group index of each host: hosts with the same capacity open to the same classes share one."""
    _, pattern = distinct_rows(rows.T)
    _, group_of = np.unique(np.stack([pattern.astype(np.float64), cap]), axis=1, return_inverse=True)
    return np.asarray(group_of.ravel(), dtype=np.intp)


def distinct_rows(allowed: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp]]:
    """Distinct rows of ``allowed`` and each VM's row (packed bits: far faster than
    ``np.unique(axis=0)`` on a wide boolean matrix)."""
    packed = np.ascontiguousarray(np.packbits(allowed, axis=1))  # a void view needs C order
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, klass = np.unique(keys, return_index=True, return_inverse=True)
    return allowed[first], klass.ravel()


def _dimensions(instance: Instance, dpm_target: bool) -> list[tuple[str, FloatArray, FloatArray]]:
    """(name, VM sizes, usable host capacities) per packing dimension.

    With ``dpm_target`` the demand dimensions are packed to DPM's high target utilization (the
    bin is target × capacity), and configured memory still to its hard admission limit.
    """
    usable = np.array([h.is_usable for h in instance.hosts], dtype=np.bool_)
    cpu_cap = instance.host_cpu_mhz[usable].astype(np.float64)
    adm = instance.host_memory_admission_mib[usable].astype(np.float64)
    dims = [("memory", instance.vm_memory_mib.astype(np.float64), adm)]
    if dpm_target:
        high = float(instance.policy.dpm.target_utilization[1])
        mem_cap = instance.host_memory_mib[usable].astype(np.float64)
        dims.append(("cpu", instance.vm_cpu_demand_mhz.astype(np.float64), high * cpu_cap))
        dims.append(("memory_demand", instance.vm_memory_demand_mib.astype(np.float64), high * mem_cap))
    else:
        dims.append(("cpu", instance.vm_cpu_demand_mhz.astype(np.float64), cpu_cap))
    return dims


def l1_bound(sizes: FloatArray, capacities: FloatArray) -> int:
    """Continuous bound with heterogeneous bins: the fewest bins whose capacities can hold the total.

        L1 = min { k : sum of the k largest capacities ≥ Σ sizes }

    With identical capacities C this is Martello–Toth's ceil(Σ w / C). Returns len(capacities) + 1
    when even all bins cannot hold the total (the load does not fit).
    """
    total = float(sizes.sum())
    if total <= 0:
        return 0
    cum = np.cumsum(np.sort(capacities)[::-1])
    k = int(np.searchsorted(cum, total * (1 - _EPS), side="left"))
    return k + 1 if k < cum.size else cum.size + 1


def l2_bound(sizes: FloatArray, capacity: float) -> int:
    """Martello–Toth L2 for one dimension with bins of one capacity C.

    For 0 ≤ α ≤ C/2: J1 = {w > C − α}, J2 = {C − α ≥ w > C/2}, J3 = {C/2 ≥ w ≥ α},
        L(α) = |J1| + |J2| + max(0, ceil((Σ_{J3} w − (|J2|·C − Σ_{J2} w)) / C)),
    L2 = max over α ∈ {0} ∪ {item sizes ≤ C/2}. Items of J1 ∪ J2 need a bin each (no two fit
    together); J3 items fit only in the room J2 leaves or in new bins. O(n log n), vectorized
    over α with prefix sums.
    """
    w = np.sort(sizes[sizes > 0])
    if w.size == 0:
        return 0
    if capacity <= 0:
        return int(w.size)
    c, half = float(capacity), float(capacity) / 2
    prefix = np.concatenate(([0.0], np.cumsum(w)))
    alphas = np.unique(np.concatenate(([0.0], w[w <= half])))
    i_half = int(np.searchsorted(w, half, side="right"))
    i_big = np.searchsorted(w, c - alphas, side="right")  # items ≤ C − α
    i_alpha = np.searchsorted(w, alphas, side="left")  # first item ≥ α
    n1 = w.size - i_big
    n2 = np.maximum(i_big - i_half, 0)
    s2 = prefix[np.maximum(i_big, i_half)] - prefix[i_half]
    s3 = prefix[i_half] - prefix[np.minimum(i_alpha, i_half)]
    rest = (s3 - (n2 * c - s2)) / c
    extra = np.maximum(0, np.ceil(rest - _EPS))
    return int((n1 + n2 + extra).max())


def l1_hosts_bound(instance: Instance, dpm_target: bool = False) -> int:
    """Fewest hosts any placement needs by the continuous bound, the max over dimensions of ``l1_bound``.

    ``dpm_target`` packs demand to DPM's high target utilization instead of full capacity.
    """
    return max((l1_bound(sizes, caps) for _, sizes, caps in _dimensions(instance, dpm_target)), default=0)


def l2_hosts_bound(instance: Instance, dpm_target: bool = False) -> int:
    """Fewest hosts any placement needs by Martello–Toth L2, the max over dimensions.

    Hosts differ, so each dimension uses the largest usable capacity as every bin's capacity:
    a packing into the real hosts is also a packing into bins that large, so the bound stays
    valid (weaker than with identical hosts; the max over dimensions is valid but weak for
    vector packing).
    """
    best = 0
    for _, sizes, caps in _dimensions(instance, dpm_target):
        if caps.size:
            best = max(best, l2_bound(sizes, float(caps.max())))
    return best


def anti_affinity_hosts_bound(instance: Instance, compat: Compatibility | None = None) -> int:
    """The most VMs of one anti-affinity rule that can run on distinct hosts, each on one it may
    use (compatibility, priority-1 rules, immobility) and fits alone: a plan keeping the rule as
    far as those allow keeps that many hosts on.

    Valid for plans that keep the anti-affinity rules, which the objective does unless they
    contradict priority 1 or capacity (the priority-2 level comes before DPM). Counting the
    rule's VMs alone claimed 4 hosts where a must rule holds all four VMs to one host, and a
    valid plan kept 1 on. A plan that breaks the rule for no such reason can use fewer.
    """
    rules = sorted(
        (r for r in instance.rules if r.kind is RuleKind.ANTI_AFFINITY),
        key=lambda r: len(r.vms),
        reverse=True,
    )
    if not rules:
        return 0
    allowed = (compat if compat is not None else compatibility(instance)).allowed
    fits = (instance.vm_cpu_demand_mhz[:, None] <= instance.host_cpu_mhz[None, :]) & (
        instance.vm_memory_mib[:, None] <= np.floor(instance.host_memory_admission_mib)[None, :]
    )
    best = 0
    for rule in rules:
        if len(rule.vms) <= best:
            break  # sorted by size: no later rule can spread wider
        rows = [instance.vm_index[name] for name in rule.vms]
        best = max(best, distinct_hosts(allowed[rows] & fits[rows]))
    return best


def distinct_hosts(options: npt.NDArray[np.bool_]) -> int:
    """The most rows of ``options`` (VMs) that can each take a different column (host): a
    maximum bipartite matching by augmenting paths, for the few VMs of one rule."""
    vm_of_host: dict[int, int] = {}

    def place(v: int, seen: set[int]) -> bool:
        for h in np.flatnonzero(options[v]).tolist():
            if h in seen:
                continue
            seen.add(h)
            if h not in vm_of_host or place(vm_of_host[h], seen):
                vm_of_host[h] = v
                return True
        return False

    return sum(place(v, set()) for v in range(options.shape[0]))


def immobile_hosts_bound(instance: Instance) -> int:
    """Distinct usable hosts holding an immobile VM: each of them must stay up."""
    hosts = {
        v.host
        for v in instance.vms
        if v.host is not None and v.immobility_reasons() and instance.host(v.host).is_usable
    }
    return len(hosts)


def watts_lower_bound(instance: Instance, hosts_on: int) -> float:
    """A lower bound on the power of the usable hosts when at least ``hosts_on`` of them are up.

        W ≥ (sum of the hosts_on smallest idle_w) + Σ_v cpu_demand_v × min_h (max_w − idle_w) / cpu_mhz

    Every host on draws its idle power; within capacity the dynamic part of host h is
    (max_w − idle_w) × load / cpu_mhz, at least the cheapest slope times the load.
    """
    usable = [h for h in instance.hosts if h.is_usable]
    if not usable:
        return 0.0
    idle = sorted(h.power.idle_w for h in usable)[: max(0, hosts_on)]
    slope = min(((h.power.max_w - h.power.idle_w) / h.cpu_mhz for h in usable if h.cpu_mhz > 0), default=0.0)
    return float(sum(idle) + slope * float(instance.vm_cpu_demand_mhz.sum()))


def dpm_hosts_bound(instance: Instance, allowed: npt.NDArray[np.bool_]) -> int:
    """The fewest hosts any placement keeps on within DPM's high target, whatever the soft rules:
    L1, L2 and the compatibility-aware program with demand packed to the target, the hosts that
    hold immobile VMs, and ``min_hosts_on``. The largest anti-affinity rule is left out: it
    binds only while that rule holds, and priority-2 rules may yield to priority 1 or capacity.
    The DPM level of the optimizer starts from it, so a warm start that reaches it is proven."""
    from scheduler.check.host_bound import least_hosts_on  # it builds on distinct_rows, below

    dpm = instance.policy.dpm
    return max(
        l1_hosts_bound(instance, dpm_target=True),
        l2_hosts_bound(instance, dpm_target=True),
        least_hosts_on(instance, allowed, dpm.target_utilization[1]),
        immobile_hosts_bound(instance),
        dpm.min_hosts_on,
    )


def lower_bounds(instance: Instance, compat: Compatibility | None = None) -> dict[str, Any]:
    """All lower bounds, JSON-ready, for plan.metrics.lower_bounds.

    ``hosts.best`` is the max of the host-count bounds (``min_hosts_on`` counts only with DPM;
    ``compat`` is ``host_bound.least_hosts_on``, which respects compatibility);
    ``hosts_dpm_target`` repeats L1/L2/compat with demand packed to DPM's high target utilization.
    ``imbalance`` is the floor over the ``imbalance_hosts`` hosts (their count: with DPM off the
    hosts up now, with DPM on every usable host); it binds a plan that ends with that many up.
    """
    from scheduler.check.host_bound import least_hosts_on  # it builds on distinct_rows, below

    compat = compat if compat is not None else compatibility(instance)
    dpm = instance.policy.dpm
    hosts = {
        "l1": l1_hosts_bound(instance),
        "l2": l2_hosts_bound(instance),
        "compat": least_hosts_on(instance, compat.allowed),
        "anti_affinity": anti_affinity_hosts_bound(instance, compat),
        "immobile": immobile_hosts_bound(instance),
        "min_hosts_on": dpm.min_hosts_on if dpm.enabled else 0,
    }
    hosts["best"] = max(hosts.values())
    target = {
        "l1": l1_hosts_bound(instance, dpm_target=True),
        "l2": l2_hosts_bound(instance, dpm_target=True),
        # Packing to less than full capacity never needs fewer hosts; and where the program
        # proves nothing at the target (0: no placement fits it, or no proof in time), the
        # full-capacity figure still holds.
        "compat": max(least_hosts_on(instance, compat.allowed, dpm.target_utilization[1]), hosts["compat"]),
    }
    target["best"] = max(*target.values(), *(hosts[k] for k in ("anti_affinity", "immobile", "min_hosts_on")))
    num_new = int((instance.current_host == NO_HOST).sum())
    measured = imbalance_hosts(instance)
    return {
        "imbalance": {
            "cpu": imbalance_floor(instance, "cpu", compat, measured),
            "memory": imbalance_floor(instance, "memory", compat, measured),
        },
        "imbalance_hosts": int(measured.sum()),
        "max_utilization": {
            "cpu": fluid_max_utilization_bound(instance, "cpu", compat),
            "memory": fluid_max_utilization_bound(instance, "memory", compat),
        },
        "max_utilization_compat": {
            "cpu": compat_fluid_max_utilization_bound(instance, "cpu", compat),
            "memory": compat_fluid_max_utilization_bound(instance, "memory", compat),
        },
        "hosts": hosts,
        "hosts_dpm_target": target,
        "watts": watts_lower_bound(instance, hosts["best"]),
        "usable_hosts": sum(1 for h in instance.hosts if h.is_usable),
        "new_vms": num_new,
    }

"""The fewest hosts any placement can keep on, with compatibility respected.

Description
    L1 and L2 pour every VM into the largest hosts, wherever it may run. Compatibility says
    otherwise: VMs of an older CPU generation island, or on storage only some hosts see, can only
    fill their own hosts, and hosts holding a VM that cannot move stay on. Group the movable VMs
    into compatibility classes (the distinct rows of ``allowed``) and let a class's load split
    freely over the hosts it allows, each dimension on its own, while each host either is on
    (taking up to its capacity) or is off (taking nothing):

        min Σ_h y_h  s.t.  Σ_k f_{k,h,d} + F_{h,d} ≤ C_{h,d}·y_h,   Σ_h f_{k,h,d} = D_{k,d},
                           f ≥ 0 (allowed hosts only),   y_h ∈ {0, 1},   y_h = 1 under an immobile VM,

    with dimensions configured memory (against the admission limit), CPU demand and, against
    DPM's high target, memory demand. Every placement is a point of it (y its hosts on, f its
    VMs' loads summed by class), so its optimum is a lower bound. It is a small mixed-integer
    program (one binary per host, a few thousand flows): HiGHS proves it in a tenth of a second
    on 128 hosts × 10,000 VMs, where it gives 102 hosts against L1's 99 and L2's 81.
Requirements
    ``scipy`` (HiGHS ``milp``). ``allowed`` already excludes hosts that cannot run VMs.
Limitations
    VMs split across hosts, and each dimension splits on its own, so the bound is optimistic
    where a few large VMs, not totals, decide. Past ``time_limit_s`` the solver's proven dual
    bound is used: still a valid bound, possibly weaker.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt

from scheduler.check.bounds import distinct_rows
from scheduler.model import NO_HOST, Instance

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

TIME_LIMIT_S = 5.0
MILP_INFEASIBLE = 2  # scipy.optimize.milp's status for a program with no feasible point


def least_hosts_on(
    instance: Instance,
    allowed: BoolArray,
    high_target: float | None = None,
    time_limit_s: float = TIME_LIMIT_S,
) -> int:
    """The fewest powered-on hosts any placement needs (0 when the program proves nothing, e.g.
    a VM allowed nowhere). ``high_target``: pack CPU and memory demand to DPM's high target
    utilization instead of CPU to full capacity."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix, vstack

    n_hosts = instance.num_hosts
    movable = np.array([not vm.immobility_reasons() for vm in instance.vms], dtype=np.bool_)
    current = instance.current_host
    usable = np.array([h.is_usable for h in instance.hosts], dtype=np.bool_)
    placed = current != NO_HOST
    held = ~movable & placed & usable[np.maximum(current, 0)]
    # An immobile VM on a host that cannot run it makes every plan infeasible: it counts nowhere.
    free = np.flatnonzero(movable | ~placed)
    if n_hosts == 0 or not bool(allowed[free].any(axis=1).all()):
        return 0
    classes, klass = distinct_rows(allowed[free])
    ks, hs = np.nonzero(classes)
    n_pairs = len(ks)
    dimensions = _dimensions(instance, high_target)
    # Variables: y[h] (n_hosts), then per dimension the flows f[pair] (n_pairs).
    n_vars = n_hosts + len(dimensions) * n_pairs
    blocks, lower_rows, upper_rows = [], [], []
    for i, (demand, capacity) in enumerate(dimensions):
        unit = max(float(capacity.mean()), 1.0)  # in "average hosts": a well-conditioned program
        f0 = n_hosts + i * n_pairs
        totals = np.bincount(klass, demand[free], len(classes)) / unit
        blocks.append(
            coo_matrix((np.ones(n_pairs), (ks, f0 + np.arange(n_pairs))), shape=(len(classes), n_vars))
        )
        lower_rows.append(totals)
        upper_rows.append(totals)
        fixed = np.bincount(current[held], demand[held], n_hosts) / unit
        # A host's immobile VMs may already exceed the target: the host then takes no more.
        room = np.maximum(capacity / unit, fixed)
        rows = np.concatenate([hs, np.arange(n_hosts)])
        cols = np.concatenate([f0 + np.arange(n_pairs), np.arange(n_hosts)])
        vals = np.concatenate([np.ones(n_pairs), -room])
        blocks.append(coo_matrix((vals, (rows, cols)), shape=(n_hosts, n_vars)))
        lower_rows.append(np.full(n_hosts, -np.inf))
        upper_rows.append(-fixed)
    objective = np.zeros(n_vars)
    objective[:n_hosts] = 1.0
    integrality = np.zeros(n_vars)
    integrality[:n_hosts] = 1
    lower = np.zeros(n_vars)
    upper = np.full(n_vars, np.inf)
    upper[:n_hosts] = 1.0
    lower[:n_hosts] = np.bincount(current[held], minlength=n_hosts) > 0
    with _native_stdout_silenced():
        result = milp(
            objective,
            constraints=LinearConstraint(
                vstack(blocks).tocsr(), np.concatenate(lower_rows), np.concatenate(upper_rows)
            ),
            integrality=integrality,
            bounds=Bounds(lower, upper),
            options={"time_limit": time_limit_s},
        )
    if result.status == MILP_INFEASIBLE:
        return 0  # no placement fits at all (demand above the target on every host): no claim
    bound = getattr(result, "mip_dual_bound", None)
    if bound is None or not math.isfinite(bound):
        return 0  # nothing proven in time
    return max(0, math.ceil(float(bound) - 1e-6))


def _dimensions(instance: Instance, high_target: float | None) -> list[tuple[FloatArray, FloatArray]]:
    """(VM sizes, host capacities) per packing dimension, as ``bounds._dimensions`` packs them,
    with capacity 0 on hosts that cannot run VMs."""
    usable = np.array([h.is_usable for h in instance.hosts], dtype=np.float64)
    dims = [
        (
            instance.vm_memory_mib.astype(np.float64),
            instance.host_memory_admission_mib.astype(np.float64) * usable,
        )
    ]
    cpu = instance.vm_cpu_demand_mhz.astype(np.float64)
    cpu_cap = instance.host_cpu_mhz.astype(np.float64) * usable
    if high_target is None:
        dims.append((cpu, cpu_cap))
    else:
        dims.append((cpu, high_target * cpu_cap))
        dims.append(
            (
                instance.vm_memory_demand_mib.astype(np.float64),
                high_target * instance.host_memory_mib.astype(np.float64) * usable,
            )
        )
    return dims


@contextmanager
def _native_stdout_silenced() -> Iterator[None]:
    """Send what native code writes to standard output to /dev/null for the block.

    The HiGHS inside SciPy prints "HighsMipSolverData::transformNewIntegerFeasibleSolution
    tmpSolver.run();" straight to file descriptor 1 now and then, whatever its output options
    (ERGO-Code/HiGHS#2783, fixed in later HiGHS releases); ``scheduler plan`` must not show it.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


__all__ = ["least_hosts_on"]

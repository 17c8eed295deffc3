"""Plan every cluster of a data centre, one independent DRS domain each, serially or on dask.

Clusters share nothing (no VM moves between them), so a data centre is planned as one task per
cluster. On dask the task carries the inventory mapping (docs/inventory.md shape) rather than the
instance, and returns the plan document: both are plain data, cheap to ship and independent of
the worker's code layout.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scheduler.io import atomic_write_text, inventory_to_dict, parse_inventory, plan_to_dict
from scheduler.model import Instance
from scheduler.pipeline import make_plan
from scheduler.solver.options import SolveOptions


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    """One cluster's verified plan document and the figures of its run."""

    cluster: str
    status: str
    plan: dict[str, Any]
    migrations: int
    solve_time_s: float
    wall_s: float


def plan_cluster(inventory: dict[str, Any], options: SolveOptions) -> ClusterPlan:
    """Plan one cluster from its inventory mapping (what a dask task runs)."""
    started = time.monotonic()
    instance = parse_inventory(inventory, f"cluster {inventory.get('name', '?')}")
    outcome = make_plan(instance, options)
    document = plan_to_dict(outcome.plan)
    return ClusterPlan(
        cluster=instance.name,
        status=outcome.plan.status.value,
        plan=document,
        migrations=len(outcome.plan.migrations),
        solve_time_s=outcome.result.solve_time_s,
        wall_s=time.monotonic() - started,
    )


def plan_datacenter(
    clusters: Sequence[Instance],
    options: SolveOptions,
    *,
    executor: str = "serial",
    scheduler_address: str | None = None,
    workers: int = 2,
) -> list[ClusterPlan]:
    """Plan every cluster (results in the clusters' order); ``executor`` is ``serial`` or ``dask``.

    With dask and no ``scheduler_address`` a LocalCluster of ``workers`` single-threaded worker
    processes is started for the call; with an address the running cluster is used. ``options``
    must not carry a progress callback (it would not travel to another process).
    """
    inventories = [inventory_to_dict(c) for c in clusters]
    if executor == "serial":
        return [plan_cluster(inv, options) for inv in inventories]
    if executor != "dask":
        raise ValueError(f"unknown executor {executor!r}")
    from scheduler.bench.runner import dask_client

    with dask_client(scheduler_address, workers) as client:
        futures = client.map(plan_cluster, inventories, options=options, pure=False)
        results: list[ClusterPlan] = client.gather(futures)
    return results


def write_datacenter_plans(plans: Sequence[ClusterPlan], out_dir: str | Path) -> list[Path]:
    """Write ``<cluster>-plan.json`` per cluster (atomically); returns the paths."""
    import json

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for p in plans:
        path = folder / f"{p.cluster}-plan.json"
        atomic_write_text(path, json.dumps(p.plan, indent=1) + "\n")
        paths.append(path)
    return paths

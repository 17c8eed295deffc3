"""``scheduler analyze``: the cluster's state before anything is optimized."""

from __future__ import annotations

import json
import math
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from scheduler.check.bounds import lower_bounds
from scheduler.check.metrics import cluster_metrics
from scheduler.check.rules import rule_status
from scheduler.compat import compatibility, unmovable
from scheduler.io import read_inventory
from scheduler.model import Instance


def analysis(instance: Instance) -> dict[str, Any]:
    """Everything ``analyze`` reports, JSON-ready."""
    compat = compatibility(instance)
    placement = instance.current_placement()
    metrics = cluster_metrics(instance, placement, {h.name: h.state.value for h in instance.hosts})
    broken = [s for s in rule_status(instance, placement) if not s.satisfied]
    return {
        "cluster": instance.name,
        "hosts": instance.num_hosts,
        "vms": instance.num_vms,
        "rules": len(instance.rules),
        "metrics": metrics.to_dict(),
        "broken_rules": [
            {"rule": s.rule, "priority": s.priority, "vms": list(s.violating_vms), "detail": s.detail}
            for s in broken
        ],
        "unmovable": [{"vm": u.vm, "reasons": list(u.reasons)} for u in unmovable(instance, compat)],
        "lower_bounds": lower_bounds(instance, compat),
    }


def _print(report: dict[str, Any], console: Console, max_rows: int) -> None:
    m = report["metrics"]
    console.print(
        f"[bold]{report['cluster']}[/]: {report['hosts']} hosts, {report['vms']} VMs, {report['rules']} rules"
    )
    table = Table(title="Hosts (utilization on demand; allocation = configured memory / admitted)")
    for column in ("host", "state", "vms", "cpu %", "memory %", "allocated %", "watts"):
        table.add_column(column, justify="left" if column in ("host", "state") else "right")
    hosts = m["hosts"]
    for h in hosts[:max_rows]:
        table.add_row(
            h["name"],
            h["state"],
            str(h["num_vms"]),
            f"{100 * h['cpu_utilization']:.1f}",
            f"{100 * h['memory_utilization']:.1f}",
            f"{100 * h['memory_allocation']:.1f}",
            f"{h['watts']:.0f}",
        )
    if len(hosts) > max_rows:
        table.caption = f"{len(hosts) - max_rows} more hosts not shown (--max-rows, or --json)"
    console.print(table)
    tolerance = m["drs_tolerance"]
    console.print(
        "Imbalance (std-dev of utilization over up hosts): "
        + ", ".join(f"{r} {v:.4f}" for r, v in m["imbalance"].items())
        + f"; DRS tolerance {'none (threshold 1)' if tolerance is None else f'{tolerance:.4f}'}"
        + f" → {'balanced' if m['drs_balanced'] else 'imbalanced'}"
    )
    bounds = report["lower_bounds"]
    floor = {r: v for r, v in bounds["imbalance"].items() if v > 0}
    if floor:
        reach = "out of reach" if tolerance is not None and max(floor.values()) > tolerance else "reachable"
        console.print(
            "Imbalance floor (compatibility islands; no placement does better): "
            + ", ".join(f"{r} {v:.4f}" for r, v in floor.items())
            + f" → the DRS tolerance is {reach}"
        )
    console.print(f"Hosts up {m['hosts_up']}, power drawn {m['total_watts']:.0f} W")
    console.print(
        f"Fewest hosts any placement keeps on (compatibility included): {bounds['hosts']['best']} at "
        f"full capacity, {bounds['hosts_dpm_target']['best']} within DPM's high target"
    )
    console.print(
        "Lower bounds: "
        + ", ".join(
            f"{k} {v:.4f}" if isinstance(v, float) and not math.isinf(v) else f"{k} {v}"
            for k, v in bounds.items()
            if not isinstance(v, dict)
        )
    )
    if report["broken_rules"]:
        rules = Table(title="Rules broken now")
        for column in ("rule", "priority", "VMs", "detail"):
            rules.add_column(column)
        for r in report["broken_rules"][:max_rows]:
            rules.add_row(r["rule"], str(r["priority"]), ", ".join(r["vms"][:6]), r["detail"])
        console.print(rules)
    else:
        console.print("Rules broken now: none")
    if report["unmovable"]:
        stuck = Table(title="VMs that cannot move")
        stuck.add_column("VM")
        stuck.add_column("why")
        for u in report["unmovable"][:max_rows]:
            stuck.add_row(u["vm"], "; ".join(u["reasons"]))
        if len(report["unmovable"]) > max_rows:
            stuck.caption = f"{len(report['unmovable']) - max_rows} more"
        console.print(stuck)


@click.command("analyze")
@click.argument("inventory", type=click.Path(exists=True, dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON.")
@click.option("--max-rows", default=40, show_default=True, help="Rows per table.")
def command(inventory: str, as_json: bool, max_rows: int) -> int:
    """Show a cluster's state: utilization, imbalance, broken rules, unmovable VMs, lower bounds."""
    instance = read_inventory(inventory)
    report = analysis(instance)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=_json_default))
    else:
        _print(report, Console(), max_rows)
    return 0


def _json_default(value: object) -> object:
    if isinstance(value, float) and math.isinf(value):
        return None
    raise TypeError(f"not JSON serializable: {type(value).__name__}")

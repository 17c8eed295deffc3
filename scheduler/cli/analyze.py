"""``scheduler analyze``: the cluster's state before anything is optimized."""

from __future__ import annotations

import json
import math
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scheduler.check.bounds import lower_bounds
from scheduler.check.metrics import cluster_metrics, drs_tolerance
from scheduler.check.rules import rule_status
from scheduler.cli.console import make_console
from scheduler.cli.params import InputPath
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
        "drs_threshold": instance.policy.drs.threshold,
        "dpm": instance.policy.dpm.enabled,
        "drs_measure": list(instance.policy.drs.measure.resources),
        "metrics": metrics.to_dict(),
        "broken_rules": [
            {"rule": s.rule, "priority": s.priority, "vms": list(s.violating_vms), "detail": s.detail}
            for s in broken
        ],
        "unmovable": [{"vm": u.vm, "reasons": list(u.reasons)} for u in unmovable(instance, compat)],
        "lower_bounds": lower_bounds(instance, compat),
    }


_VMS_PER_RULE = 6  # VM names shown per broken rule; the rest are counted (all are in --json)


def _print(report: dict[str, Any], console: Console, max_rows: int) -> None:
    # Names, states, rule details and reasons come from the inventory: rich would read a "[...]" in
    # them as markup and drop it, so each is escaped before it reaches the console.
    m = report["metrics"]
    console.print(
        f"[bold]{escape(report['cluster'])}[/]: "
        f"{report['hosts']} hosts, {report['vms']} VMs, {report['rules']} rules"
    )
    table = Table(title="Hosts (utilization on demand; allocation = configured memory / admitted)")
    for column in ("host", "state", "vms", "cpu %", "memory %", "allocated %", "watts"):
        table.add_column(column, justify="left" if column in ("host", "state") else "right")
    hosts = m["hosts"]
    for h in hosts[:max_rows]:
        table.add_row(
            escape(h["name"]),
            escape(h["state"]),
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
    _print_floor(report, console)
    console.print(f"Hosts up {m['hosts_up']}, power drawn {m['total_watts']:.0f} W")
    console.print(
        f"Fewest hosts any placement keeps on (compatibility included): {bounds['hosts']['best']} at "
        f"full capacity, {bounds['hosts_dpm_target']['best']} within DPM's high target"
    )
    peak = bounds["max_utilization_compat"]
    console.print(
        f"Lower bounds: power ≥ {bounds['watts']:.0f} W (at least {bounds['hosts']['best']} hosts on); "
        + "highest host utilization ≥ "
        + ", ".join(f"{r} {100 * v:.1f} %" for r, v in peak.items())
    )
    standby = sum(1 for h in m["hosts"] if h["state"] == "standby")
    # The bounds count standby hosts as usable (DPM could wake them); with DPM off they stay off.
    stays_off = f", of which {standby} in standby stay off (DPM off)" if standby and not report["dpm"] else ""
    console.print(
        f"Usable hosts (up or standby): {bounds['usable_hosts']}{stays_off}; "
        f"new VMs to place: {bounds['new_vms']}"
        + "".join(
            f"; {k.replace('_', ' ')}: {_scalar(v)}"
            for k, v in bounds.items()
            if k not in _SHOWN and not isinstance(v, dict)
        )
    )
    broken = report["broken_rules"]
    if broken:
        rules = Table(title="Rules broken now")
        for column in ("rule", "priority", "VMs", "detail"):
            rules.add_column(column)
        for r in broken[:max_rows]:
            vms = ", ".join(escape(v) for v in r["vms"][:_VMS_PER_RULE])
            if len(r["vms"]) > _VMS_PER_RULE:
                vms += f" +{len(r['vms']) - _VMS_PER_RULE} more"
            rules.add_row(escape(r["rule"]), str(r["priority"]), vms, escape(r["detail"]))
        if len(broken) > max_rows:
            rules.caption = f"{len(broken) - max_rows} more broken rules not shown (--max-rows, or --json)"
        console.print(rules)
    else:
        console.print("Rules broken now: none")
    if report["unmovable"]:
        stuck = Table(title="VMs that cannot move")
        stuck.add_column("VM")
        stuck.add_column("why")
        for u in report["unmovable"][:max_rows]:
            stuck.add_row(escape(u["vm"]), escape("; ".join(u["reasons"])))
        if len(report["unmovable"]) > max_rows:
            stuck.caption = (
                f"{len(report['unmovable']) - max_rows} more VMs not shown (--max-rows, or --json)"
            )
        console.print(stuck)


# Lower-bound entries printed with their own wording; any other number is printed by its key.
_SHOWN = frozenset(
    {"imbalance", "imbalance_hosts", "max_utilization_compat", "watts", "usable_hosts", "new_vms"}
)


def _scalar(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) and math.isfinite(value) else str(value)


def _print_floor(report: dict[str, Any], console: Console) -> None:
    """The imbalance floor, over the hosts it is a floor for (``check.bounds.imbalance_hosts``).

    Compared with the tolerance of that many hosts: the tolerance shrinks with √N, and with DPM
    on the floor's hosts (every usable one) may be more than are up now.
    """
    m, bounds = report["metrics"], report["lower_bounds"]
    floor = {r: v for r, v in bounds["imbalance"].items() if v > 0}
    if not floor:
        return
    n = int(bounds["imbalance_hosts"])
    tolerance = drs_tolerance(int(report["drs_threshold"]), max(1, n))
    # The counts differ only with DPM on and a standby host: the floor is then over more hosts
    # than the imbalance above, and so is the tolerance it is held against.
    same_hosts = n == m["hosts_up"]
    where = f"over the {n} hosts up" if same_hosts else f"with all {n} usable hosts on"
    against = "" if same_hosts or math.isinf(tolerance) else f" ({tolerance:.4f} over {n} hosts)"
    caveat = "; DPM may power hosts on or off, and other hosts have another floor" if report["dpm"] else ""
    # Only the resources DRS balances decide whether its tolerance is reachable.
    measured = [v for r, v in floor.items() if r in report["drs_measure"]]
    reach = "out of reach" if measured and max(measured) > tolerance else "reachable"
    console.print(
        f"Imbalance floor {where} (compatibility islands; no placement on these hosts does better{caveat}): "
        + ", ".join(f"{r} {v:.4f}" for r, v in floor.items())
        + f" → the DRS tolerance{against} is {reach}"
    )


@click.command("analyze")
@click.argument("inventory", type=InputPath(dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON.")
@click.option("--max-rows", type=click.IntRange(min=1), default=40, show_default=True, help="Rows per table.")
def command(inventory: str, as_json: bool, max_rows: int) -> int:
    """Show a cluster's state: utilization, imbalance, broken rules, unmovable VMs, lower bounds."""
    instance = read_inventory(inventory)
    report = analysis(instance)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=_json_default))
    else:
        _print(report, make_console(), max_rows)
    return 0


def _json_default(value: object) -> object:
    if isinstance(value, float) and math.isinf(value):
        return None
    raise TypeError(f"not JSON serializable: {type(value).__name__}")

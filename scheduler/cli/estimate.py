"""``scheduler estimate``: the pre-copy estimate of one migration, a parameter sweep and its plot.

Why a command of its own: operators want to see why a move is expensive (or never converges)
before trusting a plan, and to see how the answer moves with the dirty rate, size or link.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.table import Table

from scheduler.cli.console import make_console
from scheduler.cli.paths import check_output_file, naming_option
from scheduler.errors import InputError, Problem
from scheduler.io.atomic import atomic_write_figure
from scheduler.io.inventory import (
    MAX_DIRTY_RATE_MIBPS,
    MAX_DOWNTIME_LIMIT_MS,
    MAX_MEMORY_MIB,
    MAX_MIGRATION_TIMEOUT_S,
    MAX_NETWORK_GBPS,
    MIN_NETWORK_GBPS,
)
from scheduler.io.validate import show_bound
from scheduler.migration.precopy import (
    MIBPS_PER_GBPS,
    MigrationEstimate,
    MigrationInput,
    WorkingSet,
    estimate,
)
from scheduler.migration.presets import PRESETS, HypervisorPreset, preset_for

SWEEP_UNITS = {"dirty-rate": "dirty rate (MiB/s)", "memory": "memory (MiB)", "bandwidth": "link (Gbit/s)"}
# An inventory's bounds on each swept quantity (docs/inventory.md): past them the figures of an
# estimate overflow, and every plan's migrations stay within them anyway.
_SWEEP_BOUNDS = {
    "dirty-rate": (0.0, float(MAX_DIRTY_RATE_MIBPS)),
    "memory": (0.0, float(MAX_MEMORY_MIB)),
    "bandwidth": (MIN_NETWORK_GBPS, MAX_NETWORK_GBPS),
}
MAX_LINK_MIBPS = MAX_NETWORK_GBPS * MIBPS_PER_GBPS
MAX_SWEEP_STEPS = 1_000  # a point is one full estimate; more points only slow the table and plot


def _problem(flag: str, message: str) -> Problem:
    return Problem(file="command line", entry="", field=flag, message=message)


def _check(
    problems: list[Problem],
    flag: str,
    value: float | None,
    *,
    positive: bool = False,
    maximum: float | None = None,
    minimum: float | None = None,
) -> None:
    """``value`` finite, at least 0 (above 0 if ``positive``), within ``minimum``..``maximum``:
    the bounds an inventory's field has, past which figures overflow to infinity."""
    if value is None:
        return
    if not math.isfinite(value):
        problems.append(_problem(flag, f"must be a finite number, got {value}"))
    elif positive and value <= 0:
        problems.append(_problem(flag, f"must be > 0, got {value}"))
    elif value < 0:
        problems.append(_problem(flag, f"must be >= 0, got {value}"))
    elif maximum is not None and value > maximum:
        problems.append(_problem(flag, f"must be at most {show_bound(maximum)}, got {value:g}"))
    elif minimum is not None and value < minimum:
        problems.append(_problem(flag, f"must be at least {show_bound(minimum)}, got {value:g}"))


def _row(est: MigrationEstimate) -> dict[str, Any]:
    record = est.to_record()
    return {
        "total_s": round(record.total_s, 3),
        "downtime_ms": round(record.downtime_ms, 3),
        "transferred_mib": round(record.transferred_mib, 3),
        "iterations": record.iterations,
        "converges": record.converges,
        **record.extra,
    }


def plot_sweep(
    xs: list[float], estimates: list[MigrationEstimate], parameter: str, title: str, ax: Any = None
) -> Any:
    """Plot total time and downtime against the swept parameter; non-converging points shaded.

    An aborted run is no result: the VM never switched over. Its time lost is a cross, apart from
    the line of the runs that finish, and it has no downtime point (0 ms would read as a perfect
    switchover). The legend sits outside the axes, where it hides no point.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if ax is None:
        _fig, ax = plt.subplots(figsize=(10, 4.8))
    aborted = [e.outcome == "aborted" for e in estimates]
    # NaN breaks a line: aborted points are never joined to the finished ones next to them.
    totals = [math.nan if a else e.total_s for e, a in zip(estimates, aborted, strict=True)]
    downtimes = [math.nan if a else e.downtime_ms for e, a in zip(estimates, aborted, strict=True)]
    ax.plot(xs, totals, "o-", color="tab:blue", label="total time (s)")
    if any(aborted):
        ax.plot(
            [x for x, a in zip(xs, aborted, strict=True) if a],
            [e.total_s for e, a in zip(estimates, aborted, strict=True) if a],
            "x",
            color="tab:blue",
            ms=9,
            mew=2,
            ls="",
            label="aborted: time lost, no downtime",
        )
    ax.set_xlabel(SWEEP_UNITS[parameter])
    ax.set_ylabel("total migration time (s)")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    ax2.plot(xs, downtimes, "s--", color="tab:red", label="downtime (ms)")
    ax2.set_ylabel("downtime (ms)")
    ax2.set_ylim(bottom=0)
    step = (xs[1] - xs[0]) / 2 if len(xs) > 1 else 0.5
    shaded = False
    for x, est in zip(xs, estimates, strict=True):
        if not est.converges:
            ax.axvspan(
                x - step,
                x + step,
                color="grey",
                alpha=0.25,
                lw=0,
                label=None if shaded else "does not converge",
            )
            shaded = True
    ax.set_xlim(xs[0] - step, xs[-1] + step)
    lines, labels = ax.get_legend_handles_labels()
    lines2, labels2 = ax2.get_legend_handles_labels()
    ax.legend(lines + lines2, labels + labels2, loc="upper left", bbox_to_anchor=(1.12, 1.0), frameon=False)
    ax.set_title(title)
    return ax


def sweep_title(base: MigrationInput, parameter: str, preset: HypervisorPreset) -> str:
    """The sweep plot's title: what is swept, the hypervisor, and the inputs held fixed (memory size,
    link speed, dirty rate, link share), so that a plot read alone says what move it is about."""
    fixed = [preset.name]
    if parameter != "memory":
        fixed.append(f"{base.memory_mib / 1024:g} GiB VM")
    if parameter != "bandwidth":
        fixed.append(
            f"{base.network_gbps:g} Gbit/s link" + (f" at {base.share:.0%}" if base.share < 1 else "")
        )
    if parameter != "dirty-rate":
        fixed.append(
            "working set" if base.working_set is not None else f"{base.dirty_rate_mibps:g} MiB/s dirtied"
        )
    return f"Pre-copy estimate vs {SWEEP_UNITS[parameter]} ({', '.join(fixed)})"


@click.command("estimate")
@click.option("--memory-mib", type=float, required=True, help="Configured guest memory (MiB).")
@click.option(
    "--dirty-rate-mibps", type=float, default=0.0, show_default=True, help="Constant dirty rate (MiB/s)."
)
@click.option("--network-gbps", type=float, default=10.0, show_default=True, help="Link speed (Gbit/s).")
@click.option(
    "--hypervisor", type=str, default="qemu", show_default=True, help=f"One of {', '.join(PRESETS)}."
)
@click.option("--nonzero-mib", type=float, default=None, help="Memory holding non-zero pages (MiB).")
@click.option("--bandwidth-cap-mibps", type=float, default=None, help="Pre-copy rate cap (MiB/s).")
@click.option("--downtime-limit-ms", type=float, default=None, help="Downtime budget (ms), > 0.")
@click.option("--max-rounds", type=int, default=None, help="Stop after this many pre-copy passes.")
@click.option("--timeout-s", type=float, default=None, help="Abort after this many seconds.")
@click.option("--auto-converge/--no-auto-converge", default=None, help="QEMU auto-converge throttling.")
@click.option("--hot-set-mib", type=float, default=None, help="Working set: hot set size (MiB).")
@click.option("--hot-period-s", type=float, default=None, help="Working set: hot set rewrite period (s).")
@click.option(
    "--cold-dirty-rate-mibps", type=float, default=None, help="Working set: cold dirty rate (MiB/s)."
)
@click.option(
    "--compression-ratio", type=float, default=1.0, show_default=True, help="Ratio for passes >= 1."
)
@click.option("--share", type=float, default=1.0, show_default=True, help="Share of the link (0, 1].")
@click.option("--json", "as_json", is_flag=True, help="Print the plan's estimate object as JSON.")
@click.option("--sweep", type=click.Choice(sorted(SWEEP_UNITS)), default=None, help="Parameter to sweep.")
@click.option("--sweep-from", type=float, default=None, help="First value of the sweep.")
@click.option("--sweep-to", type=float, default=None, help="Last value of the sweep.")
@click.option(
    "--sweep-steps",
    type=int,
    default=11,
    show_default=True,
    help=f"Number of sweep points, 2 .. {MAX_SWEEP_STEPS:,}.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Plot of the sweep; the suffix names the format (.png, .svg, .pdf...).",
)
def command(
    memory_mib: float,
    dirty_rate_mibps: float,
    network_gbps: float,
    hypervisor: str,
    nonzero_mib: float | None,
    bandwidth_cap_mibps: float | None,
    downtime_limit_ms: float | None,
    max_rounds: int | None,
    timeout_s: float | None,
    auto_converge: bool | None,
    hot_set_mib: float | None,
    hot_period_s: float | None,
    cold_dirty_rate_mibps: float | None,
    compression_ratio: float,
    share: float,
    as_json: bool,
    sweep: str | None,
    sweep_from: float | None,
    sweep_to: float | None,
    sweep_steps: int,
    plot_path: Path | None,
) -> int:
    """Estimate one pre-copy live migration (time, downtime, data, convergence)."""
    problems: list[Problem] = []
    memory, rate, gbps = _SWEEP_BOUNDS["memory"], _SWEEP_BOUNDS["dirty-rate"], _SWEEP_BOUNDS["bandwidth"]
    _check(problems, "--memory-mib", memory_mib, positive=True, maximum=memory[1])
    _check(problems, "--dirty-rate-mibps", dirty_rate_mibps, maximum=rate[1])
    _check(problems, "--network-gbps", network_gbps, positive=True, minimum=gbps[0], maximum=gbps[1])
    _check(problems, "--nonzero-mib", nonzero_mib, maximum=memory[1])
    _check(problems, "--bandwidth-cap-mibps", bandwidth_cap_mibps, positive=True, maximum=MAX_LINK_MIBPS)
    # Positive, as an inventory's migration.downtime_limit_ms must be: no copy stops in 0 ms.
    _check(problems, "--downtime-limit-ms", downtime_limit_ms, positive=True, maximum=MAX_DOWNTIME_LIMIT_MS)
    _check(problems, "--timeout-s", timeout_s, positive=True, maximum=MAX_MIGRATION_TIMEOUT_S)
    _check(problems, "--hot-set-mib", hot_set_mib, maximum=memory[1])
    _check(problems, "--hot-period-s", hot_period_s, positive=True, maximum=MAX_MIGRATION_TIMEOUT_S)
    _check(problems, "--cold-dirty-rate-mibps", cold_dirty_rate_mibps, maximum=rate[1])
    if max_rounds is not None and max_rounds < 1:
        problems.append(_problem("--max-rounds", f"must be >= 1, got {max_rounds}"))
    if not 0 < compression_ratio <= 1:
        problems.append(_problem("--compression-ratio", f"must be in (0, 1], got {compression_ratio}"))
    if not 0 < share <= 1:
        problems.append(_problem("--share", f"must be in (0, 1], got {share}"))
    if nonzero_mib is not None and memory_mib > 0 and nonzero_mib > memory_mib:
        problems.append(_problem("--nonzero-mib", "must not exceed --memory-mib"))
    if hypervisor not in PRESETS:
        problems.append(
            _problem("--hypervisor", f"unknown hypervisor {hypervisor!r} (known: {', '.join(PRESETS)})")
        )
    if (hot_set_mib is None) != (hot_period_s is None):
        problems.append(_problem("--hot-set-mib", "--hot-set-mib and --hot-period-s go together"))
    if sweep is not None:
        if sweep_from is None or sweep_to is None:
            problems.append(_problem("--sweep", "needs --sweep-from and --sweep-to"))
        else:
            low, high = _SWEEP_BOUNDS[sweep]
            for flag, value in (("--sweep-from", sweep_from), ("--sweep-to", sweep_to)):
                _check(problems, flag, value, positive=sweep != "dirty-rate", minimum=low, maximum=high)
            if sweep_from == sweep_to:
                problems.append(_problem("--sweep-to", f"must differ from --sweep-from ({sweep_from:g})"))
        if not 2 <= sweep_steps <= MAX_SWEEP_STEPS:
            problems.append(_problem("--sweep-steps", f"must be in 2..{MAX_SWEEP_STEPS}, got {sweep_steps}"))
    if plot_path is not None and sweep is None:
        problems.append(_problem("--plot", "needs --sweep"))
    if plot_path is not None:
        try:
            check_output_file(plot_path, "--plot")
        except InputError as exc:
            problems += exc.problems
        unknown = _unknown_plot_format(plot_path)
        if unknown:
            problems.append(_problem("--plot", unknown))
    if problems:
        raise InputError(problems)

    preset: HypervisorPreset = preset_for(
        hypervisor,
        bandwidth_cap_mibps=bandwidth_cap_mibps,
        downtime_limit_ms=downtime_limit_ms,
        max_rounds=max_rounds,
        timeout_s=timeout_s,
        auto_converge=auto_converge,
    )
    working_set = None
    if hot_set_mib is not None and hot_period_s is not None:
        working_set = WorkingSet(hot_set_mib, hot_period_s, cold_dirty_rate_mibps or 0.0)
    base = MigrationInput(
        memory_mib=memory_mib,
        dirty_rate_mibps=dirty_rate_mibps,
        network_gbps=network_gbps,
        nonzero_mib=nonzero_mib,
        working_set=working_set,
        share=share,
        compression_ratio=compression_ratio,
    )
    console = make_console()

    if sweep is None:
        result = estimate(base, preset)
        if as_json:
            click.echo(json.dumps(_row(result), indent=2))
            return 0
        table = Table(title=f"pre-copy estimate ({preset.name})")
        table.add_column("quantity")
        table.add_column("value", justify="right")
        for key, value in _row(result).items():
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
        console.print(table)
        return 0

    assert sweep_from is not None  # checked above
    assert sweep_to is not None
    xs = [float(x) for x in np.linspace(sweep_from, sweep_to, sweep_steps)]
    estimates: list[MigrationEstimate] = []
    for x in xs:
        if sweep == "dirty-rate":
            # A dirty-rate sweep is over constant rates; a working set, if given, is replaced.
            inp = dataclasses.replace(base, dirty_rate_mibps=x, working_set=None)
        elif sweep == "memory":
            nz = None if nonzero_mib is None else min(nonzero_mib, x)
            inp = dataclasses.replace(base, memory_mib=x, nonzero_mib=nz)
        else:
            inp = dataclasses.replace(base, network_gbps=x)
        estimates.append(estimate(inp, preset))
    if as_json:
        click.echo(json.dumps([{"x": x, **_row(e)} for x, e in zip(xs, estimates, strict=True)], indent=2))
    else:
        table = Table(title=f"sweep of {SWEEP_UNITS[sweep]} ({preset.name})")
        for name in (
            SWEEP_UNITS[sweep],
            "total (s)",
            "downtime (ms)",
            "data (MiB)",
            "passes",
            "outcome",
            "margin",
        ):
            table.add_column(name, justify="right")
        for x, e in zip(xs, estimates, strict=True):
            table.add_row(
                f"{x:g}",
                f"{e.total_s:.2f}",
                # No switchover, no downtime: a 0 would read as a perfect one.
                "–" if e.outcome == "aborted" else f"{e.downtime_ms:.1f}",
                f"{e.transferred_mib:.0f}",
                str(e.iterations),
                e.outcome + (" (high risk)" if e.high_risk else ""),
                f"{e.margin:.3f}",
            )
        console.print(table)
    if plot_path is not None:
        import matplotlib.pyplot as plt

        ax = plot_sweep(xs, estimates, sweep, sweep_title(base, sweep, preset))
        ax.figure.tight_layout()
        try:
            with naming_option("--plot"):
                atomic_write_figure(plot_path, ax.figure, dpi=120)
        finally:
            plt.close(ax.figure)
        console.print(f"plot written to {plot_path}")
    return 0


def _unknown_plot_format(path: Path) -> str | None:
    """Why matplotlib cannot write ``path``'s format, or ``None`` (no suffix means PNG)."""
    from matplotlib.backend_bases import FigureCanvasBase  # only when a plot is asked for

    suffix = path.suffix.lstrip(".").lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if not suffix or suffix in formats:
        return None
    return f"cannot write a plot as .{suffix}; use one of " + ", ".join(f".{f}" for f in sorted(formats))

"""The registry of subcommands (explicit, no discovery magic)."""

from __future__ import annotations

import click


def all_commands() -> list[click.Command]:
    from scheduler.cli import analyze, bench, estimate, plan, report, schedule, synth, verify

    return [
        analyze.command,
        plan.command,
        verify.command,
        schedule.command,
        estimate.command,
        synth.command,
        report.command,
        bench.command,
    ]

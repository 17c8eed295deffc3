"""The registry of subcommands (explicit, no discovery magic)."""

from __future__ import annotations

import click


def all_commands() -> list[click.Command]:
    commands: list[click.Command] = []
    return commands

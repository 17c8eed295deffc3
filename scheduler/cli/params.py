"""Click parameter types shared by the commands: what a value must be is checked while parsing,
so a bad one is a usage error (exit status 2) before any work starts."""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable
from typing import Any, TypeVar

import click


class InputPath(click.Path):
    """An existing regular file, or a folder where ``dir_okay`` (a CSV folder inventory).

    Use as an argument's or option's ``type``; anything else (FIFO, socket, device) is a usage
    error, exit status 2.
    """

    def __init__(self, *, dir_okay: bool = False) -> None:
        super().__init__(exists=True, file_okay=True, dir_okay=dir_okay, readable=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        checked = super().convert(value, param, ctx)
        try:
            mode = os.stat(checked).st_mode
        except OSError as exc:
            self.fail(f"{click.format_filename(checked)!r}: {exc.strerror or exc}", param, ctx)
        if not (stat.S_ISREG(mode) or (self.dir_okay and stat.S_ISDIR(mode))):
            what = "a regular file or a folder" if self.dir_okay else "a regular file"
            self.fail(f"{click.format_filename(checked)!r} is not {what}.", param, ctx)
        return checked


class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that also refuses ``nan`` and ``inf``.

    Why: every comparison with ``nan`` is false, so ``FloatRange`` lets it through, and the code
    below then runs with a limit or size that means nothing.
    """

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


F = TypeVar("F", bound=Callable[..., Any])


def maintenance_option(made_from: str) -> Callable[[F], F]:
    """``--maintenance HOST`` (repeatable) for the commands that read a plan or target made with
    ``plan --maintenance``: the inventory must be read as it was then (``what_if.with_what_if``)."""
    return click.option(
        "--maintenance",
        multiple=True,
        metavar="HOST",
        help=f"Put HOST in maintenance first, as the {made_from} was made with (repeat).",
    )

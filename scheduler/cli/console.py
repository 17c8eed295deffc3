"""The consoles every command prints through.

Why one factory: rich wraps at 80 columns when it cannot ask a terminal for its width, which splits
summary lines and error messages in logs and pipes and breaks ``grep``. Off a terminal nothing is
wrapped; on one, rich fits the output to the window as usual.
"""

from __future__ import annotations

from rich.console import Console

UNWRAPPED_WIDTH = 10_000
"""Width given to a console that is not a terminal: wide enough that no table cell wraps."""


def make_console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) without syntax highlighting that never wraps off a terminal."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.soft_wrap = True
        console.width = UNWRAPPED_WIDTH
    return console

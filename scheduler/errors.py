"""Errors that cross module borders."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Characters a terminal would act on or could not encode (a NUL, a line break, a lone surrogate):
# names may not hold them (``io.validate``), and messages quoting the input show them escaped, an
# entry being labelled by the name it gives.
UNPRINTABLE_CHARS = r"\x00-\x1f\x7f-\x9f\ud800-\udfff"  # C0, DEL, C1 (U+009B is a terminal CSI), surrogates
UNPRINTABLE = re.compile(f"[{UNPRINTABLE_CHARS}]")


def _visible(text: str) -> str:
    return UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)


@dataclass(frozen=True, slots=True)
class Problem:
    """One input problem: where it is (file, entry, field) and what is wrong."""

    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        where = _visible(self.file)
        if self.entry:
            where += f": {_visible(self.entry)}"
        if self.field:
            where += f": {_visible(self.field)}"
        return f"{where}: {_visible(self.message)}"


class InputError(Exception):
    """Bad input (inventory, plan, target, flags). The CLI exits with status 2 and writes nothing."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class InconsistentSolutionError(RuntimeError):
    """A result of the library failed its own checker: a bug, never shipped."""

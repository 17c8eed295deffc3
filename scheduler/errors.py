"""Errors that cross module borders."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One input problem: where it is (file, entry, field) and what is wrong."""

    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.entry:
            where += f": {self.entry}"
        if self.field:
            where += f": {self.field}"
        return f"{where}: {self.message}"


class InputError(Exception):
    """Bad input (inventory, plan, target, flags). The CLI exits with status 2 and writes nothing."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class InconsistentSolutionError(RuntimeError):
    """A result of the library failed its own checker: a bug, never shipped."""

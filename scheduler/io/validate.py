"""Typed reads of raw input fields that collect every problem instead of stopping at the first.

Readers call these helpers on plain mappings (from YAML, JSON or converted CSV rows). A helper
that finds a problem records it and returns a harmless placeholder, so that one run reports every
problem of a file at once; ``Problems.raise_if_any`` then raises a single ``InputError``.
The fast path (the value has the right type and range) is a type check and a comparison: a
100,000-VM inventory runs through these helpers about 1.5 million times.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from scheduler.errors import UNPRINTABLE, UNPRINTABLE_CHARS, InputError, Problem

REQUIRED: Final = object()  # default meaning "the key must be present"

# Integers from this size on are shown by their number of digits in messages.
_LONG_INT: Final = 10**24
# A range at most this wide (a threshold 1..5) is reported as a range, a wider one by its limit.
_SHORT_SCALE: Final = 10

# Names are CSV list items (";"-separated) and are compared verbatim, so a ";", a control
# character (a line break inside a CSV cell) or stray surrounding whitespace would not survive
# a round trip through the CSV form, and would be invisible in messages anyway. A lone surrogate
# (JSON's "\udc80") is no character at all: no file, terminal or report could encode it.
_BAD_NAME = re.compile(rf"^\s|\s$|[;{UNPRINTABLE_CHARS}]")


class Problems:
    """The problems found in one input (a file or a CSV folder), reported together."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[Problem] = []

    def add(self, entry: str, field: str, message: str) -> None:
        self.items.append(Problem(self.file, entry, field, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise InputError(self.items)


def describe(value: Any) -> str:
    """A short rendering of a wrong value for a message: its type when that is the surprise."""
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def show_number(value: float) -> str:
    """A number for a message; a huge integer by its length, which says more than its digits."""
    if type(value) is int and abs(value) >= _LONG_INT:
        # Counted without str(): Python refuses to print integers of more than 4,300 digits.
        digits = max(1, int((abs(value).bit_length() - 1) * math.log10(2)))
        while 10**digits <= abs(value):
            digits += 1
        return f"a {digits:,}-digit integer"
    return repr(value)


def show_bound(bound: float) -> str:
    """A documented bound as the docs write it: ``10,000,000``, ``0.01``."""
    if float(bound).is_integer():
        return f"{int(bound):,}"
    return repr(bound)


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a near miss, else an empty string: most typos are one edit away."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_keys(
    p: Problems, entry: str, m: Mapping[str, Any], allowed: frozenset[str], prefix: str = ""
) -> None:
    """Report every key of ``m`` outside ``allowed``: a typo must not silently become a default."""
    if allowed.issuperset(m):
        return
    for key in m:
        if key not in allowed:
            shown = key if isinstance(key, str) else repr(key)
            hint = suggest(key, allowed) if isinstance(key, str) else ""
            p.add(entry, prefix + shown, "unknown key" + hint)


def get_mapping(
    p: Problems, entry: str, m: Mapping[str, Any], key: str, field: str
) -> Mapping[str, Any] | None:
    """An optional nested mapping; ``None`` when absent, null, or not a mapping (reported)."""
    v = m.get(key)
    if v is None or isinstance(v, Mapping):
        return v
    p.add(entry, field, f"expected a mapping, got {describe(v)}")
    return None


def get_int(
    p: Problems,
    entry: str,
    m: Mapping[str, Any],
    key: str,
    default: Any = REQUIRED,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    field: str | None = None,
) -> int:
    """An integer field; an integral float (``64000.0``) is accepted, a string or ``1.5`` is not.

    On a problem the result is ``default`` when that is an integer, else 0 (a placeholder).
    """
    v = m.get(key, default)
    if type(v) is int and (minimum is None or v >= minimum) and (maximum is None or v <= maximum):
        return v
    name = field or key
    fallback = default if type(default) is int else 0
    if v is REQUIRED:
        p.add(entry, name, "missing (required)")
        return fallback
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        n = int(v)
    elif not isinstance(v, int) or isinstance(v, bool):
        p.add(entry, name, f"expected an integer, got {describe(v)}")
        return fallback
    else:
        n = v
    if (
        minimum is not None
        and maximum is not None
        and maximum - minimum <= _SHORT_SCALE
        and not minimum <= n <= maximum
    ):
        # A short scale (a threshold 1..5, a priority 1..3) reads best as the whole range.
        p.add(entry, name, f"{show_number(v)} is outside {minimum}..{maximum}")
        return fallback
    problem = _out_of_bounds(n, v, minimum, maximum)
    if problem:
        p.add(entry, name, problem)
        return fallback
    return n


def get_number(
    p: Problems,
    entry: str,
    m: Mapping[str, Any],
    key: str,
    default: Any = REQUIRED,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    field: str | None = None,
) -> float:
    """A finite number (integer or float), returned as a float; ``positive`` means ``> 0``.

    On a problem the result is ``default`` when that is a number, else 0.0 (a placeholder).
    """
    v = m.get(key, default)
    name = field or key
    fallback = float(default) if isinstance(default, int | float) else 0.0
    if v is REQUIRED:
        p.add(entry, name, "missing (required)")
        return fallback
    if not isinstance(v, int | float) or isinstance(v, bool):
        p.add(entry, name, f"expected a number, got {describe(v)}")
        return fallback
    if isinstance(v, float) and not math.isfinite(v):
        p.add(entry, name, f"expected a finite number, got {v!r}")
        return fallback
    # The bounds are compared before converting: Python compares an int with a float exactly,
    # while float() of a 400-digit integer raises OverflowError.
    if positive and v <= 0:
        p.add(entry, name, f"must be positive, got {show_number(v)}")
        return fallback
    problem = _out_of_bounds(v, v, minimum, maximum)
    if problem:
        p.add(entry, name, problem)
        return fallback
    try:
        return float(v)
    except OverflowError:  # only reachable without a maximum
        p.add(entry, name, f"too large, got {show_number(v)}")
        return fallback


def _out_of_bounds(n: float, shown: float, minimum: float | None, maximum: float | None) -> str:
    """Why ``n`` is outside [minimum, maximum] ("" when it is not), quoting the value as given
    (``shown``: ``64000.0`` for an integer field read from a float)."""
    if minimum is not None and n < minimum:
        return _below(minimum, shown)
    if maximum is not None and n > maximum:
        return f"must be at most {show_bound(maximum)}, got {show_number(shown)}"
    return ""


def _below(minimum: float, v: float) -> str:
    if minimum == 1 and type(minimum) is int:
        return f"must be positive, got {show_number(v)}"
    if minimum == 0:
        return f"must not be negative, got {show_number(v)}"
    return f"must be at least {minimum!r}, got {show_number(v)}"


def get_bool(
    p: Problems, entry: str, m: Mapping[str, Any], key: str, default: bool, field: str | None = None
) -> bool:
    """A boolean field (``true`` / ``false``); ``0`` or ``"yes"`` are reported, not guessed."""
    v = m.get(key, default)
    if v is True or v is False:
        return v
    p.add(entry, field or key, f"expected true or false, got {describe(v)}")
    return default


def get_str(
    p: Problems,
    entry: str,
    m: Mapping[str, Any],
    key: str,
    default: Any = REQUIRED,
    *,
    choices: tuple[str, ...] | None = None,
    what: str = "value",
    field: str | None = None,
    allow_empty: bool = False,
) -> str:
    """A non-empty string field; with ``choices`` it must be one of them (``what`` names the set)."""
    v = m.get(key, default)
    name = field or key
    if type(v) is str and (v or allow_empty):
        if choices is None or v in choices:
            return v
        p.add(
            entry, name, f"unknown {what} {v!r}{suggest(v, choices)}; expected one of: {', '.join(choices)}"
        )
        return ""
    if v is REQUIRED:
        p.add(entry, name, "missing (required)")
    elif isinstance(v, str):
        p.add(entry, name, "must not be empty")
    else:
        p.add(entry, name, f"expected a string, got {describe(v)}")
    return ""


def name_problem(v: str) -> str | None:
    """What is wrong with ``v`` as the name of a host, VM, rule, group, datastore or network."""
    if not v:
        return "name must not be empty"
    if _BAD_NAME.search(v):
        return (
            f"name {v!r} must not contain ';', control characters or lone surrogates, nor start or "
            "end with a space"
        )
    return None


def cluster_name_problem(v: str) -> str | None:
    """What is wrong with ``v`` as a cluster's name (free text on one line)."""
    if not v:
        return "must not be empty"
    if UNPRINTABLE.search(v):
        return f"{v!r} must not contain control characters or lone surrogates"
    return None


def check_name(p: Problems, entry: str, field: str, v: Any) -> str | None:
    """``v`` as a name (``name_problem``), else ``None``."""
    if type(v) is str:
        problem = name_problem(v)
        if problem is None:
            return v
        p.add(entry, field, problem)
    else:
        p.add(entry, field, f"expected a name (string), got {describe(v)}")
    return None


def get_names(
    p: Problems, entry: str, m: Mapping[str, Any], key: str, field: str | None = None
) -> tuple[str, ...]:
    """A list of names (absent means empty); a name listed twice is reported, once kept."""
    v = m.get(key)
    if v is None:
        return ()
    name = field or key
    if not isinstance(v, list | tuple):
        p.add(entry, name, f"expected a list of names, got {describe(v)}")
        return ()
    out: list[str] = []
    for item in v:
        checked = check_name(p, entry, name, item)
        if checked is not None:
            out.append(checked)
    if len(set(out)) != len(out):
        seen: set[str] = set()
        unique: list[str] = []
        for item in out:
            if item in seen:
                p.add(entry, name, f"{item!r} listed twice")
            else:
                seen.add(item)
                unique.append(item)
        out = unique
    return tuple(out)

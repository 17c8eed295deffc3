"""Loading YAML and JSON documents with located syntax errors, and writing them one entry a line.

Loading uses libyaml's ``CSafeLoader`` when PyYAML was built with it (about ten times faster than
the pure-Python loader, which matters for 100,000-VM inventories). Both loaders report duplicate
mapping keys, which YAML and JSON otherwise resolve silently by keeping the last value.
The writers emit flow-style entries, one host, VM or rule a line, which keeps large inventories
diffable and fast to write; the output is valid YAML 1.1 and, for JSON, strict JSON.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from scheduler.errors import InputError, Problem

try:
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A safe loader that records duplicate keys (with their line) instead of dropping them."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                # What "<<" merges in may be overridden by the mapping's own keys: only those
                # are checked against each other.
                continue
            key = key_node.value
            if isinstance(key, str):
                if key in seen:
                    self.duplicates.append((key_node.start_mark.line + 1, key))
                seen.add(key)
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except UNREADABLE_SCALAR as exc:  # a date like 2024-13-45: located, as in the fast builder
            raise yaml.constructor.ConstructorError(
                None, None, _unreadable(str(node.value), exc), node.start_mark
            ) from None


# What PyYAML's constructors raise on a scalar their tag cannot read: ValueError ("!!int 12x"),
# KeyError ("!!bool maybe"), AttributeError ("!!timestamp soon"), TypeError, OverflowError.
UNREADABLE_SCALAR = (ValueError, KeyError, AttributeError, TypeError, OverflowError)


def _unreadable(text: str, exc: Exception) -> str:
    """Why a scalar that looks like a number or a date has no value: ``2024-13-45``, or an
    integer longer than Python converts (4,300 digits unless configured otherwise)."""
    digits = text.lstrip("+-").replace("_", "")
    limit = sys.get_int_max_str_digits()
    if digits.isdigit() and 0 < limit < len(digits):
        return f"an integer of {len(digits):,} digits is too long to read"
    shown = text if len(text) <= 40 else text[:40] + "..."
    if not isinstance(exc, ValueError):  # PyYAML's message is its internals ('cna-04', NoneType)
        return f"cannot read {shown!r} as the value its tag names"
    return f"cannot read {shown!r}: {exc}"


def decode_utf8(data: bytes) -> str | tuple[int, int, int]:
    """The text of a file's bytes (a byte-order mark dropped), or, when they are not UTF-8, the
    line and column of the first bad byte and its value: decoding the whole file at once gives
    that offset exactly, where a stream decoder fails a whole buffer ahead."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        # Everything before the first bad byte decodes, so the column counts characters.
        column = len(data[line_start : exc.start].decode("utf-8")) + 1
        return data.count(b"\n", 0, exc.start) + 1, column, data[exc.start]


def _read_text(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError([Problem(shown, "", "", "no such file")]) from None
    except UnicodeDecodeError:
        # The stream decoder's offset is into its buffer, not the file: locate the byte again.
        place = decode_utf8(path.read_bytes())
        if isinstance(place, str):  # the file changed under us
            raise InputError([Problem(shown, "", "", "cannot read: not UTF-8")]) from None
        line, column, byte = place
        where = f"line {line}, column {column}"
        raise InputError(
            [Problem(shown, where, "", f"not UTF-8: byte 0x{byte:02x} (save the file as UTF-8)")]
        ) from None
    except OSError as exc:
        raise InputError([Problem(shown, "", "", f"cannot read: {exc}")]) from None


class _NeedFullLoaderError(Exception):
    """The document uses a YAML feature the fast builder leaves to PyYAML (merge keys, custom tags)."""


# YAML 1.1 plain scalars that are not strings (PyYAML's resolver), and fast patterns for the
# common numbers; anything else whose first character could start a non-string goes through
# PyYAML's own resolver and constructor, so the result always equals ``yaml.safe_load``'s.
_LITERALS: dict[str, Any] = {
    **dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
}
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"[-+]?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?\Z")
_SPECIAL_FIRST = frozenset(k for k in yaml.resolver.Resolver.yaml_implicit_resolvers if k)
_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")


def _build(loader: Any) -> tuple[Any, list[tuple[int, str]]]:
    """The document's value built straight from parser events, and its duplicate keys (line, key).

    PyYAML's own path composes a node graph and walks it through a generic constructor and a
    regex resolver per scalar; building from events skips both and is about ten times faster on
    large inventories. Only the features inventories use are handled here (mappings, sequences,
    plain and quoted scalars, anchors); the rest raises ``_NeedFullLoaderError``.
    """
    scalar_event, alias_event = yaml.events.ScalarEvent, yaml.events.AliasEvent
    map_start, seq_start = yaml.events.MappingStartEvent, yaml.events.SequenceStartEvent
    map_end, seq_end = yaml.events.MappingEndEvent, yaml.events.SequenceEndEvent
    get = loader.get_event
    duplicates: list[tuple[int, str]] = []
    anchors: dict[str, Any] = {}
    resolved: dict[str, Any] = {}  # plain scalars already through the resolver ("name", "no-op")
    stack: list[tuple[Any, Any, bool]] = []  # (container, pending key, expecting a key)
    container: Any = None
    key: Any = None
    expect_key = False
    result: Any = None
    get()  # StreamStartEvent
    event = get()
    if isinstance(event, yaml.events.StreamEndEvent):
        return None, duplicates
    event = get()  # the first event after DocumentStartEvent
    while True:
        kind = type(event)
        if kind is scalar_event:
            value: Any = event.value
            if event.tag is None and event.implicit[0]:
                if value[:1] in _SPECIAL_FIRST or not value:
                    if value in _LITERALS:
                        value = _LITERALS[value]
                    elif _INT.match(value):
                        try:
                            value = int(value)
                        except ValueError as exc:  # longer than Python converts
                            raise yaml.MarkedYAMLError(
                                None, None, _unreadable(value, exc), event.start_mark
                            ) from None
                    elif _FLOAT.match(value):
                        value = float(value)
                    elif value in resolved:
                        value = resolved[value]
                    else:
                        text = value
                        tag = loader.resolve(yaml.ScalarNode, text, event.implicit)
                        if tag == _MERGE_TAG:
                            raise _NeedFullLoaderError
                        if tag != _STR_TAG:
                            try:
                                value = loader.construct_object(
                                    yaml.ScalarNode(tag, text, event.start_mark, event.end_mark)
                                )
                            except UNREADABLE_SCALAR as exc:  # a date like 2024-13-45
                                raise yaml.MarkedYAMLError(
                                    None, None, _unreadable(text, exc), event.start_mark
                                ) from None
                        resolved[text] = value
            elif event.tag not in (None, "!"):
                try:
                    value = loader.construct_object(
                        yaml.ScalarNode(event.tag, value, event.start_mark, event.end_mark, event.style)
                    )
                except UNREADABLE_SCALAR as exc:  # "!!int 12x", "!!bool maybe"
                    raise yaml.MarkedYAMLError(
                        None, None, _unreadable(value, exc), event.start_mark
                    ) from None
            if event.anchor is not None:
                anchors[event.anchor] = value
        elif kind is map_start or kind is seq_start:
            is_map = kind is map_start
            if event.tag not in (_MAP_TAGS if is_map else _SEQ_TAGS):
                raise _NeedFullLoaderError
            stack.append((container, key, expect_key))
            container = {} if is_map else []
            expect_key = is_map
            if event.anchor is not None:
                anchors[event.anchor] = container
            event = get()
            continue
        elif kind is map_end or kind is seq_end:
            value = container
            container, key, expect_key = stack.pop()
        elif kind is alias_event:
            if event.anchor not in anchors:
                raise yaml.MarkedYAMLError(
                    None, None, f"found undefined alias {event.anchor!r}", event.start_mark
                )
            value = anchors[event.anchor]
        else:
            raise _NeedFullLoaderError  # an event this builder does not expect
        # Place the finished value into its parent.
        if container is None:
            result = value
            break
        if type(container) is list:
            container.append(value)
        elif expect_key:
            if isinstance(value, list | dict):
                raise _NeedFullLoaderError  # a collection as a key: let PyYAML report it
            key = value
            expect_key = False
        else:
            if key in container:
                duplicates.append((event.start_mark.line + 1, str(key)))
            container[key] = value
            expect_key = True
        event = get()
    get()  # DocumentEndEvent
    if not isinstance(get(), yaml.events.StreamEndEvent):
        raise yaml.MarkedYAMLError(None, None, "expected a single document in the stream", event.end_mark)
    return result, duplicates


def _load_full(text: str) -> tuple[Any, list[tuple[int, str]]]:
    """PyYAML's complete loader, for documents the fast builder hands over."""
    loader = _Loader(text)
    try:
        return loader.get_single_data(), loader.duplicates
    finally:
        loader.dispose()


def load_yaml(path: Path, shown: str) -> Any:
    """Parse a YAML file; syntax errors and duplicate keys become one ``InputError`` with lines."""
    text = _read_text(path, shown)
    try:
        loader = _BaseLoader(text)
        try:
            data, duplicates = _build(loader)
        except _NeedFullLoaderError:
            data, duplicates = _load_full(text)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = exc.problem or exc.context or "malformed YAML"
        raise InputError([Problem(shown, where, "", f"malformed YAML: {what}")]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: at an offset
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        what = f"character U+{code:04X} is not allowed (YAML allows no control characters)"
        raise InputError(
            [Problem(shown, _line_column(text, exc.position), "", f"malformed YAML: {what}")]
        ) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(shown, "", "", f"malformed YAML: {exc}")]) from None
    if duplicates:
        raise InputError(
            [
                Problem(shown, f"line {line}", key, "duplicate key (the earlier value would be lost)")
                for line, key in duplicates
            ]
        )
    return data


def load_json(path: Path, shown: str) -> Any:
    """Parse a JSON file; syntax errors and duplicate keys become one ``InputError`` with lines."""
    text = _read_text(path, shown)
    duplicates: list[tuple[dict[str, Any], str]] = []  # (the object, its repeated key)

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) != len(items):
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    duplicates.append((out, key))
                seen.add(key)
        return out

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InputError([Problem(shown, where, "", f"malformed JSON: {exc.msg}")]) from None
    except ValueError as exc:  # the decoder's one other failure: an integer too long to convert
        raise InputError([_long_integer(text, shown, exc)]) from None
    except RecursionError:
        # The decoder recurses once per level; YAML stops at its own depth limit with a message.
        depth, index = _deepest(text)
        raise InputError(
            [
                Problem(
                    shown,
                    _line_column(text, index),
                    "",
                    f"malformed JSON: nested {depth:,} levels deep, too deep to read",
                )
            ]
        ) from None
    if duplicates:
        places = _paths(data)
        raise InputError(
            [
                Problem(
                    shown, places.get(id(obj), ""), key, "duplicate key (the earlier value would be lost)"
                )
                for obj, key in duplicates
            ]
        )
    return data


def _paths(data: Any) -> dict[int, str]:
    """Where each object of a parsed JSON document sits (``vms[1]``, ``policy.drs``; the top is
    ``top level``), by identity: the decoder's hook sees an object's keys but not its place."""
    out: dict[int, str] = {}
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, at = stack.pop()
        if isinstance(value, dict):
            out[id(value)] = at or "top level"
            stack.extend((v, f"{at}.{k}" if at else str(k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(value))
    return out


def _line_column(text: str, index: int) -> str:
    """``line L, column C`` (from 1) of a character offset, as the JSON decoder reports places."""
    line_start = text.rfind("\n", 0, index) + 1
    return f"line {text.count(chr(10), 0, index) + 1}, column {index - line_start + 1}"


def _long_integer(text: str, shown: str, exc: ValueError) -> Problem:
    limit = sys.get_int_max_str_digits()
    found = re.search(rf"\d{{{limit + 1},}}", text) if limit > 0 else None
    if found is None:
        return Problem(shown, "", "", f"malformed JSON: {exc}")
    where = _line_column(text, found.start())
    return Problem(
        shown, where, "", f"malformed JSON: an integer of {len(found.group()):,} digits is too long to read"
    )


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _deepest(text: str) -> tuple[int, int]:
    """The deepest nesting of a JSON text and where it is first reached (brackets in strings
    skipped); only asked after the decoder gave up, so its speed does not matter."""
    depth = deepest = where = 0
    for token in _JSON_TOKEN.finditer(text):
        char = token.group()[0]
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest, where = depth, token.start()
        elif char in "]}":
            depth -= 1
    return deepest, where


def load_document(path: Path, shown: str) -> Any:
    """Parse a ``.json`` file as JSON and anything else as YAML (a superset of JSON)."""
    if path.suffix.lower() == ".json":
        return load_json(path, shown)
    return load_yaml(path, shown)


# -- writing ----------------------------------------------------------------------------------

# Strings of these characters that the YAML resolver reads back as strings need no quotes; a
# cache keeps repeated names (hosts, datastores) from going through the resolver again.
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*\Z")
_resolver = yaml.resolver.Resolver()
_plain_cache: dict[str, bool] = {}


def _yaml_str(s: str) -> str:
    plain = _plain_cache.get(s)
    if plain is None:
        plain = bool(_PLAIN.match(s)) and _resolver.resolve(yaml.ScalarNode, s, (True, False)) == _STR_TAG  # type: ignore[no-untyped-call]
        if len(_plain_cache) < 100_000:
            _plain_cache[s] = plain
    if plain:
        return s
    # A JSON string literal is a valid YAML double-quoted scalar (same escapes), except that YAML
    # wants astral characters as \U escapes, not surrogate pairs, and line separators escaped.
    return _YAML_UNSAFE.sub(_yaml_escape, json.dumps(s, ensure_ascii=False))


# Characters a YAML double-quoted scalar may not hold verbatim: non-printables, the BOM and the
# Unicode line breaks (which YAML would fold); json.dumps already escaped the C0 controls.
_YAML_UNSAFE = re.compile(
    "[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)


def _yaml_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _yaml_float(f: float) -> str:
    if math.isnan(f):
        return ".nan"
    if math.isinf(f):
        return ".inf" if f > 0 else "-.inf"
    text = repr(f)
    if "e" in text and "." not in text:
        # YAML 1.1 needs a dot in a float: "1e-05" would read back as a string.
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def yaml_flow(value: Any) -> str:
    """One value as YAML flow style, on one line."""
    if isinstance(value, str):
        return _yaml_str(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _yaml_float(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_yaml_str(str(k))}: {yaml_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_flow(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def dump_yaml(doc: Mapping[str, Any], entry_lists: frozenset[str] = frozenset()) -> str:
    """A block-style document whose nested values are flow style; ``entry_lists`` one item a line."""
    lines: list[str] = []
    for key, value in doc.items():
        if key in entry_lists and isinstance(value, list | tuple) and value:
            lines.append(f"{key}:")
            lines.extend(f"  - {yaml_flow(item)}" for item in value)
        elif isinstance(value, Mapping) and value:
            lines.append(f"{key}:")
            lines.extend(f"  {_yaml_str(str(k))}: {yaml_flow(v)}" for k, v in value.items())
        else:
            lines.append(f"{key}: {yaml_flow(value)}")
    return "\n".join(lines) + "\n"


def dump_json(doc: Mapping[str, Any], entry_lists: frozenset[str] = frozenset()) -> str:
    """JSON laid out like ``dump_yaml``: one nested key, or one item of ``entry_lists``, a line."""
    parts: list[str] = []
    for key, value in doc.items():
        if key in entry_lists and isinstance(value, list | tuple) and value:
            items = ",\n    ".join(json.dumps(item, allow_nan=False) for item in value)
            parts.append(f"  {json.dumps(key)}: [\n    {items}\n  ]")
        elif isinstance(value, Mapping) and value:
            items = ",\n    ".join(
                f"{json.dumps(k)}: {json.dumps(v, allow_nan=False)}" for k, v in value.items()
            )
            parts.append(f"  {json.dumps(key)}: {{\n    {items}\n  }}")
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value, allow_nan=False)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"

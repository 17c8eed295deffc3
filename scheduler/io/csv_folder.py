"""The CSV folder form of an inventory: ``hosts.csv``, ``vms.csv``, ``rules.csv``, ``policy.yaml``.

Each CSV row becomes the same mapping the YAML form has, so one validator serves both: dotted
columns (``cpu.vendor``) become nested mappings, ``;``-separated cells become lists, and typed
columns are converted. A cell that does not convert is kept as its string, so the validator
reports it with the same "expected an integer, got string 'x'" message as in YAML. An empty cell
means "not given" (the default applies). ``policy.yaml`` holds the policy keys at its top level
plus optional ``name``, ``vm_groups`` and ``host_groups``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from scheduler.io.atomic import atomic_folder
from scheduler.io.validate import Problems
from scheduler.io.yaml_json import decode_utf8, dump_yaml, load_yaml

LIST_SEPARATOR = ";"

HOSTS_CSV = "hosts.csv"
VMS_CSV = "vms.csv"
RULES_CSV = "rules.csv"
POLICY_YAML = "policy.yaml"
FILES = frozenset({HOSTS_CSV, VMS_CSV, RULES_CSV, POLICY_YAML})

# Keys of policy.yaml that are not policy settings but inventory-level fields.
POLICY_YAML_EXTRA_KEYS = ("name", "vm_groups", "host_groups")


_DIGITS = re.compile(r"\s*[+-]?\d+\s*")


def _to_int(cell: str) -> Any:
    try:
        return int(cell)
    except ValueError:
        if _DIGITS.fullmatch(cell):
            # More digits than Python converts (4,300): every bound refuses it, and the message
            # names it by its length, so an integer of as many digits stands in for it.
            digits = sum(ch.isdigit() for ch in cell)
            return (-1 if "-" in cell else 1) * 10 ** (digits - 1)
        try:
            return float(cell)  # "64000.0" converts; the validator rejects "1.5" by its type
        except ValueError:
            return cell


def _to_float(cell: str) -> Any:
    try:
        return float(cell)
    except ValueError:
        return cell


_BOOLS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def _to_bool(cell: str) -> Any:
    return _BOOLS.get(cell.strip().lower(), cell)


def _to_list(cell: str) -> Any:
    return [item.strip() for item in cell.split(LIST_SEPARATOR) if item.strip()]


def _to_str(cell: str) -> Any:
    return cell


_Convert = Callable[[str], Any]

# Column name -> cell converter, in the order the writer emits them.
HOST_COLUMNS: dict[str, _Convert] = {
    "name": _to_str,
    "cpu_mhz": _to_int,
    "memory_mib": _to_int,
    "cpu.vendor": _to_str,
    "cpu.generation": _to_int,
    "datastores": _to_list,
    "networks": _to_list,
    "state": _to_str,
    "power.idle_w": _to_float,
    "power.max_w": _to_float,
    "power.boot_s": _to_float,
}
VM_COLUMNS: dict[str, _Convert] = {
    "name": _to_str,
    "host": _to_str,
    "vcpus": _to_int,
    "memory_mib": _to_int,
    "cpu_demand_mhz": _to_int,
    "memory_demand_mib": _to_int,
    "dirty_rate_mibps": _to_float,
    "datastores": _to_list,
    "networks": _to_list,
    "drs_enabled": _to_bool,
    "pinned": _to_bool,
    "devices": _to_list,
    "linked_clone": _to_bool,
    "nonzero_mib": _to_int,
}
RULE_COLUMNS: dict[str, _Convert] = {
    "name": _to_str,
    "kind": _to_str,
    "mode": _to_str,
    "vms": _to_list,
    "vm_group": _to_str,
    "host_group": _to_str,
    "hosts": _to_list,
}

_SECTIONS = (
    ("hosts", HOSTS_CSV, HOST_COLUMNS),
    ("vms", VMS_CSV, VM_COLUMNS),
    ("rules", RULES_CSV, RULE_COLUMNS),
)


def _read_text(path: Path, file_name: str, p: Problems) -> str | None:
    """The text of a CSV file, or ``None`` with the problem recorded (unreadable, not UTF-8)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        p.add(file_name, "", f"cannot read: {exc}")
        return None
    text = decode_utf8(data)
    if isinstance(text, tuple):
        line, column, byte = text
        p.add(
            f"{file_name} line {line}",
            "",
            f"not UTF-8: byte 0x{byte:02x} at column {column} (save the file as UTF-8)",
        )
        return None
    return text


def _read_rows(
    path: Path, file_name: str, columns: Mapping[str, _Convert], p: Problems
) -> tuple[list[dict[str, Any]], list[int], bool]:
    """The rows of one CSV file as nested mappings, with the line number each row starts on, and
    whether the rows mean anything (``False`` after a problem that would make every row wrong)."""
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    text = _read_text(path, file_name, p)
    if text is None:
        return rows, lines, False  # every name defined in the file would be reported as unknown
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1  # the line the row being read starts on
    ragged = False
    try:
        header = next(reader, None)
        if header is None:
            p.add(file_name, "", "empty file: expected a header line")
            return rows, lines, True
        header = [h.strip() for h in header]
        plan: list[tuple[int, str, str | None, _Convert]] = []  # (cell index, key, subkey, convert)
        first_at: dict[str, int] = {}
        repeated = False
        for i, column in enumerate(header):
            convert = columns.get(column)
            if convert is None:
                p.add(f"{file_name} line 1", column, "unknown column; expected: " + ", ".join(columns))
                continue
            if column in first_at:
                # Which of the two cells holds the value is anyone's guess; reading on would bury
                # this under a message per row about whichever cell lost.
                p.add(
                    f"{file_name} line 1",
                    column,
                    f"duplicate column (columns {first_at[column] + 1} and {i + 1})",
                )
                repeated = True
                continue
            first_at[column] = i
            top, _, nested = column.partition(".")
            plan.append((i, top, nested or None, convert))
        if repeated:
            return rows, lines, False
        if "name" not in header:
            p.add(f"{file_name} line 1", "name", "missing column (required)")
        width = len(header)
        start = reader.line_num + 1
        for cells in reader:
            line = start
            start = reader.line_num + 1
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # a blank line
            if len(cells) != width:
                p.add(f"{file_name} line {line}", "", f"{len(cells)} cells, the header has {width}")
                ragged = True
                continue
            row: dict[str, Any] = {}
            for i, key, sub, convert in plan:
                cell = cells[i]
                if not cell or cell.isspace():
                    continue
                value = convert(cell)
                if sub is None:
                    row[key] = value
                else:
                    row.setdefault(key, {})[sub] = value
            rows.append(row)
            lines.append(line)
    except csv.Error as exc:
        # An unclosed quote reads on to the end of the file: name the line the row started on.
        read_to = f" (read on to line {reader.line_num})" if reader.line_num > start else ""
        p.add(f"{file_name} line {start}", "", f"malformed CSV: {exc}{read_to}")
        return rows, lines, False  # the rows after it are lost, so their names would be "unknown"
    # A row dropped for its cell count takes its name with it: every reference to it elsewhere
    # would be reported as unknown, burying the one real problem.
    return rows, lines, not ragged


def read_csv_folder(folder: Path, p: Problems) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """The inventory mapping of a CSV folder, and per section the line number of each row.

    Structural problems (missing files, unknown columns, ragged rows) go to ``p``; the caller
    validates the mapping with the same ``p`` so that all problems are reported together. A file
    that cannot be read, a header naming a column twice, a malformed row or one with the wrong number
    of cells raises here instead: rows of the file would be missing or suspect, and the validator
    would bury the cause under references to them.
    """
    data: dict[str, Any] = {}
    lines: dict[str, list[int]] = {}
    unusable = False
    policy_path = folder / POLICY_YAML
    if policy_path.exists():
        policy = load_yaml(policy_path, str(folder / POLICY_YAML))
        if isinstance(policy, Mapping):
            settings = {k: v for k, v in policy.items() if k not in POLICY_YAML_EXTRA_KEYS}
            data.update({k: policy[k] for k in POLICY_YAML_EXTRA_KEYS if k in policy})
            data["policy"] = settings
        elif policy is not None:
            p.add(POLICY_YAML, "", "expected a mapping of policy settings")
    if "name" not in data:
        data["name"] = folder.resolve().name
    for section, file_name, columns in _SECTIONS:
        path = folder / file_name
        if not path.exists():
            if section != "rules":  # no rules.csv simply means no rules
                p.add(file_name, "", "missing file (required)")
            data[section] = []
            lines[section] = []
            continue
        data[section], lines[section], usable = _read_rows(path, file_name, columns, p)
        unusable = unusable or not usable
    if unusable:
        # Validating the other files against a missing or suspect one would only add noise.
        p.raise_if_any()
    return data, lines


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(value)
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    return str(value)


def _csv_text(entries: list[Mapping[str, Any]], columns: Mapping[str, _Convert]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    split = [(column, *column.partition(".")[::2]) for column in columns]
    for entry in entries:
        row = []
        for _, key, sub in split:
            value = entry.get(key)
            if sub and isinstance(value, Mapping):
                value = value.get(sub)
            row.append(_cell(value))
        writer.writerow(row)
    return out.getvalue()


def write_csv_folder(doc: Mapping[str, Any], folder: Path) -> None:
    """Write an inventory mapping (``inventory_to_dict``'s shape) as a CSV folder, atomically."""
    policy_doc: dict[str, Any] = {"name": doc["name"]}
    policy_doc.update(doc.get("policy") or {})
    policy_doc["vm_groups"] = dict(doc.get("vm_groups") or {})
    policy_doc["host_groups"] = dict(doc.get("host_groups") or {})
    with atomic_folder(folder, FILES) as tmp:
        (tmp / POLICY_YAML).write_text(dump_yaml(policy_doc), encoding="utf-8")
        for section, file_name, columns in _SECTIONS:
            (tmp / file_name).write_text(_csv_text(list(doc.get(section) or []), columns), encoding="utf-8")

"""Output paths given on the command line, checked before any work starts.

Why before: a plan is written after a solve of up to minutes, and a missing output folder found
only then wastes it (and, raised as a traceback, reads as a crash).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from scheduler.errors import InputError, Problem
from scheduler.io.atomic import WriteError

WHERE = "command line"


def _problem(option: str, message: str) -> InputError:
    return InputError([Problem(WHERE, "", option, message)])


def _same_path(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def _check_parent(path: Path, option: str) -> None:
    parent = path.parent
    if not parent.exists():
        raise _problem(option, f"cannot write {path}: no folder {parent}")
    if not parent.is_dir():
        raise _problem(option, f"cannot write {path}: {parent} is not a folder")
    # A real file is the only reliable test: access() says yes to root on /proc or a read-only
    # mount, and the write would then fail after all the work.
    probe = parent / f".probe-{uuid.uuid4().hex[:12]}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise _problem(option, f"cannot write {path}: cannot create a file in {parent} ({reason})") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        probe.unlink()


def _check_name_length(path: Path, option: str) -> None:
    """Before anything asks the system about ``path``: a name too long fails every call on it."""
    folder = path.parent if path.parent.is_dir() else Path(".")
    longest = _name_max(folder)
    if len(os.fsencode(path.name)) > longest:
        raise _problem(
            option, f"cannot write {path}: its name is longer than the {longest} bytes a file name may have"
        )


def _name_max(folder: Path) -> int:
    """The longest file name ``folder`` takes, in bytes (255 where the system does not say)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _check_not_an_input(path: Path, option: str, inputs: Mapping[str, str]) -> None:
    for what, given in inputs.items():
        source = Path(given)
        if _same_path(path, source):
            raise _problem(option, f"{path} is the {what}; writing there would replace it")
        # An inventory may be a folder of CSV files: a file written into it could replace one.
        if source.is_dir() and source.resolve() in path.resolve().parents:
            raise _problem(option, f"{path} is inside the {what} folder {source}; write it elsewhere")


def _check_regular(path: Path, option: str) -> None:
    """Outputs are written to a new file renamed over ``path``: that would replace a device or a
    pipe (``/dev/null`` run as root) with a plain file, so only plain files may be overwritten."""
    if path.exists() and not path.is_file():
        raise _problem(
            option, f"{path} is not a regular file (a device or a pipe); outputs are written as new files"
        )


def check_output_file(path: str | Path, option: str, inputs: Mapping[str, str] | None = None) -> None:
    """Raise ``InputError`` naming ``option`` unless a file can be written at ``path``.

    The folder must exist and take new files, ``path`` must not be a folder, a device or a pipe,
    and it must not be one of ``inputs`` (what it is -> the path given) or inside one that is a
    folder, which the output would silently replace.
    """
    target = Path(path)
    _check_name_length(target, option)
    if target.is_dir():
        raise _problem(option, f"{target} is a folder; name a file")
    _check_regular(target, option)
    _check_parent(target, option)
    _check_not_an_input(target, option, inputs or {})


def check_output_folder(
    path: str | Path,
    option: str,
    inputs: Mapping[str, str] | None = None,
    owned_names: frozenset[str] | None = None,
) -> None:
    """Raise ``InputError`` naming ``option`` unless a folder can be written (or replaced) at ``path``.

    Its parent must exist: missing parents are not created, so that a mistyped path is reported
    instead of leaving a trail of new folders. With ``owned_names``, an existing folder holding
    other files is refused now, not after the work (``atomic_folder`` would refuse it then).
    """
    target = Path(path)
    _check_name_length(target, option)
    if target.exists() and not target.is_dir():
        raise _problem(option, f"{target} exists and is not a folder")
    _check_parent(target, option)
    for what, given in (inputs or {}).items():
        source = Path(given)
        if _same_path(target, source) or target.resolve() in source.resolve().parents:
            raise _problem(option, f"{target} holds the {what}; writing there would replace it")
    if owned_names is not None and target.is_dir():
        foreign = sorted(p.name for p in target.iterdir() if p.name not in owned_names)
        if foreign:
            raise _problem(option, f"{target} holds other files, not replacing it: {', '.join(foreign)}")


@contextlib.contextmanager
def naming_option(option: str) -> Iterator[None]:
    """Report a failed write (disk full, permissions changed since the check) under ``option``."""
    try:
        yield
    except WriteError as exc:
        raise _problem(option, f"cannot write {exc.path}: {exc.reason}") from exc

"""Atomic writes: a reader sees the old file or the new one, never a half-written one.

A plan or inventory is written to a temporary file in the destination folder (so that the final
``os.replace`` stays on one file system and is atomic) and renamed over the destination only once
it is complete and flushed to disk.

An ``OSError`` while writing (no such folder, no permission, disk full) becomes a ``WriteError``,
an ``InputError`` naming the destination, so that a command reports it like any bad path it was
given rather than with a traceback; the destination is left as it was and no temporary file stays.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from scheduler.errors import InputError, Problem


class WriteError(InputError):
    """An output could not be written; ``path`` is unchanged and no temporary file is left.

    ``path`` and ``reason`` are kept apart so that a command can say which of its options named it.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__([Problem(self.path, "", "", f"cannot write: {reason}")])


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


TEMP_STEM_CHARS = 64  # of the final name kept in a temporary one: a long valid name stays valid


def _temp_sibling(path: Path, tag: str) -> Path:
    """A fresh hidden name next to ``path``: same folder, so the final rename is atomic. Only the
    start of the final name is kept, so the temporary name fits wherever the final one does."""
    return path.with_name(f".{path.name[:TEMP_STEM_CHARS]}.{tag}-{uuid.uuid4().hex[:12]}")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, flushed to disk, then
    renamed over ``path``. A failure leaves ``path`` as it was and no temporary file behind; an
    ``OSError`` is raised as ``WriteError``.

    The temporary file is created with mode 0o666 filtered by the umask, like a plain ``open``,
    so the result has the permissions users expect rather than a temp file's 0o600.
    """
    target = Path(path)
    tmp = _temp_sibling(target, "tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise WriteError(target, _reason(exc)) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise WriteError(target, _reason(exc)) from exc
        raise
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries to disk, so that a rename into it survives a crash too.

    Best effort: the file is complete and in place either way, and some systems (Windows, some
    network file systems) cannot open or sync a folder."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8, line ends as given) to ``path`` atomically (``atomic_write_bytes``)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_figure(path: str | Path, figure: Any, **savefig: Any) -> None:
    """Save a matplotlib ``figure`` to ``path`` atomically: rendered into memory in the format
    ``path``'s suffix names (``savefig``'s keywords pass through), then ``atomic_write_bytes``.
    Saved straight to ``path``, a figure is a half-written file while it renders, and a failed
    render leaves a truncated one behind."""
    target = Path(path)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=target.suffix.lstrip(".") or "png", **savefig)
    atomic_write_bytes(target, buffer.getvalue())


def atomic_write_csv(
    path: str | Path,
    fieldnames: Sequence[str],
    rows: Iterable[Mapping[str, object]],
    *,
    ignore_extra: bool = False,
) -> None:
    """Write ``rows`` as CSV to ``path`` atomically (``atomic_write_text``): a header of
    ``fieldnames``, then one line per row, every line ended by ``\n``. A row key outside
    ``fieldnames`` is an error unless ``ignore_extra``. No fieldnames give an empty file (a
    header of no columns says nothing)."""
    buffer = io.StringIO()
    if fieldnames:
        extras: Literal["raise", "ignore"] = "ignore" if ignore_extra else "raise"
        writer = csv.DictWriter(buffer, fieldnames=list(fieldnames), extrasaction=extras, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


@contextlib.contextmanager
def atomic_folder(path: str | Path, owned_names: frozenset[str]) -> Iterator[Path]:
    """Yield a temporary folder to fill; on success it replaces ``path``, on failure it vanishes.

    Only a folder holding nothing but ``owned_names`` (files this writer produces) is replaced:
    anything else in it belongs to the user, and silently deleting it would be worse than refusing.
    Between moving the old folder aside and renaming the new one in, ``path`` briefly does not
    exist; it never holds a mix of old and new files. An ``OSError`` while filling or renaming
    the folder is raised as ``WriteError``.
    """
    target = Path(path)
    if target.exists():
        if not target.is_dir():
            raise InputError([Problem(str(target), "", "", "exists and is not a folder")])
        foreign = sorted(p.name for p in target.iterdir() if p.name not in owned_names)
        if foreign:
            raise InputError(
                [
                    Problem(
                        str(target),
                        "",
                        "",
                        "folder holds other files, not replacing it: " + ", ".join(foreign),
                    )
                ]
            )
    tmp = _temp_sibling(target, "tmp")
    try:
        tmp.mkdir()
    except OSError as exc:
        raise WriteError(target, _reason(exc)) from exc
    try:
        yield tmp
        old: Path | None = None
        if target.exists():
            old = _temp_sibling(target, "old")
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except OSError as failed:
            if old is not None:
                try:
                    os.replace(old, target)  # put the previous folder back rather than leave none
                except OSError as restore:
                    reason = (
                        f"{_reason(failed)}; the previous folder could not be put back "
                        f"({_reason(restore)}) and is kept as {old}"
                    )
                    raise WriteError(target, reason) from failed
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise WriteError(target, _reason(exc)) from exc
        raise

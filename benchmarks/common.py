"""What the benchmark scripts share: a parser built from the script's docstring, and where they write.

Outputs go next to the scripts (``benchmarks/results``), found from this file rather than from the
working directory, so that a script run from elsewhere writes where the README says. They are
checked before the work: a measurement can take half an hour, and a folder found unwritable only
then would throw all of it away.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from scheduler.cli.paths import check_output_file
from scheduler.errors import InputError

RESULTS = Path(__file__).resolve().parent / "results"


def make_parser(doc: str | None, paragraphs: int | None = None) -> argparse.ArgumentParser:
    """A parser whose ``--help`` prints the script's docstring (its first ``paragraphs`` paragraphs,
    all when None) as written: what it measures, what it writes, how long it takes."""
    text = (doc or "").strip()
    if paragraphs is not None:
        text = "\n\n".join(text.split("\n\n")[:paragraphs])
    return argparse.ArgumentParser(description=text, formatter_class=argparse.RawDescriptionHelpFormatter)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a count of hosts, VMs, moves, runs)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_cluster_size(parser: argparse.ArgumentParser, hosts: int, vms: int) -> None:
    """``--hosts`` and ``--vms`` of the synthetic cluster a script measures on."""
    parser.add_argument(
        "--hosts", type=positive_int, default=hosts, help=f"hosts of the synthetic cluster (default {hosts})"
    )
    parser.add_argument(
        "--vms", type=positive_int, default=vms, help=f"VMs of the synthetic cluster (default {vms})"
    )


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above 0 (a time limit)."""
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text}")
    return value


def add_out_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--out DIR``: the folder for ``what``; default ``benchmarks/results``."""
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        metavar="DIR",
        help=f"folder for {what}; it must exist (default: benchmarks/results next to the scripts)",
    )


def checked_outputs(parser: argparse.ArgumentParser, out: Path, names: Iterable[str]) -> list[Path]:
    """The files ``names`` in ``out``, each checked writable now; exit 2 with the reason if not.

    The default results folder is created when missing (it is part of the repository's layout); a
    folder given with ``--out`` is not, so that a mistyped path is reported instead of created.
    """
    if out == RESULTS:
        RESULTS.mkdir(exist_ok=True)
    paths = [out / name for name in names]
    try:
        for path in paths:
            check_output_file(path, "--out")
    except InputError as exc:
        parser.error(str(exc))
    return paths

"""The runner: one row per key, resumable, crashes recorded, dask equal to serial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scheduler.bench import runner
from scheduler.bench.contenders import contender
from scheduler.bench.families import FamilyCase, Suite
from scheduler.bench.metrics import RESULT_COLUMNS
from scheduler.bench.runner import RunSpec, read_rows, run_suite
from scheduler.errors import InputError

DETERMINISTIC = ["greedy-drs", "greedy-drs-costaware", "ffd-dpm"]


def tiny_suite(case: FamilyCase, names: list[str], seeds: tuple[int, ...] = (0,)) -> Suite:
    runs = tuple((case, contender(n), s) for s in seeds for n in names)
    return Suite("tiny", runs, 1.0, "test sweep", ("S",))


def result_view(rows: list[dict[str, str]]) -> dict[tuple[str, str, str], tuple[str, ...]]:
    return {(r["instance"], r["contender"], r["seed"]): tuple(r[c] for c in RESULT_COLUMNS) for r in rows}


def test_second_run_computes_nothing(tmp_path: Path, tiny_case: FamilyCase) -> None:
    """Resume: rows already in the CSV are not recomputed; --fresh recomputes them."""
    sweep = tiny_suite(tiny_case, ["greedy-drs", "ffd-dpm"], seeds=(0, 1))
    first = run_suite(sweep, tmp_path, progress=False)
    assert (first.computed, first.reused) == (4, 0)
    rows = read_rows(tmp_path / "tiny.csv")
    assert [(r["contender"], r["seed"]) for r in rows] == [
        ("greedy-drs", "0"),
        ("ffd-dpm", "0"),
        ("greedy-drs", "1"),
        ("ffd-dpm", "1"),
    ]
    second = run_suite(sweep, tmp_path, progress=False)
    assert (second.computed, second.reused) == (0, 4)
    assert read_rows(tmp_path / "tiny.csv") == rows
    assert (tmp_path / "tiny-manifest.json").exists()
    again = run_suite(sweep, tmp_path, progress=False, fresh=True)
    assert again.computed == 4


def test_adding_a_contender_computes_only_its_rows(tmp_path: Path, tiny_case: FamilyCase) -> None:
    run_suite(tiny_suite(tiny_case, ["greedy-drs"]), tmp_path, progress=False)
    grown = run_suite(tiny_suite(tiny_case, ["greedy-drs", "ffd-dpm"]), tmp_path, progress=False)
    assert (grown.computed, grown.reused) == (1, 1)


def test_rows_made_under_another_time_limit_or_worker_count_are_recomputed(
    tmp_path: Path, tiny_case: FamilyCase
) -> None:
    """A row answers the run it was made for: other options, other rows (they were reused, and
    the summary then named options its rows never ran under)."""
    sweep = tiny_suite(tiny_case, ["greedy-drs", "ffd-dpm"])
    run_suite(sweep, tmp_path, progress=False)
    longer = run_suite(sweep, tmp_path, progress=False, time_limit_s=2.0)
    assert (longer.computed, longer.reused) == (2, 0)
    assert {r["time_limit_s"] for r in read_rows(tmp_path / "tiny.csv")} == {"2.0"}
    assert run_suite(sweep, tmp_path, progress=False, time_limit_s=2.0, cp_workers=1).computed == 2


@pytest.mark.parametrize(
    ("damage", "where"),
    [
        (lambda lines: [*lines[:2], ",".join(lines[2].split(",")[:5])], "line 3"),
        (lambda lines: ["a,b", "1,2"], "line 1"),
        (lambda lines: [*lines[:2], "," + lines[2].split(",", 1)[1]], "line 3"),
    ],
    ids=["cut-short", "other-header", "no-instance"],
)
def test_a_damaged_results_file_is_an_input_error_naming_the_line(
    tmp_path: Path, tiny_case: FamilyCase, damage: Any, where: str
) -> None:
    """Rows are reused as finished runs: a damaged one is reported, never reused half-read."""
    sweep = tiny_suite(tiny_case, ["greedy-drs", "ffd-dpm"])
    run_suite(sweep, tmp_path, progress=False)
    path = tmp_path / "tiny.csv"
    path.write_text("\n".join(damage(path.read_text().splitlines())) + "\n")
    with pytest.raises(InputError) as info:
        run_suite(sweep, tmp_path, progress=False)
    (problem,) = info.value.problems
    assert (problem.file, problem.entry) == (str(path), where)
    assert problem.message.endswith("remove the file or run with --fresh")
    (tmp_path / "tiny-hosts.json").write_text("{bad")
    path.unlink()
    with pytest.raises(InputError, match=r"tiny-hosts\.json: not JSON"):
        run_suite(sweep, tmp_path, progress=False)


def test_a_crashing_run_is_an_error_row_and_the_sweep_goes_on(
    tmp_path: Path, tiny_case: FamilyCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose process dies (here: exits hard) becomes status error; later runs still run."""
    real = runner.execute

    def dying(spec: RunSpec) -> tuple[dict[str, object], None]:
        if spec.contender.name == "greedy-drs":
            import os

            os._exit(3)
        return real(spec)  # type: ignore[return-value]

    monkeypatch.setattr(runner, "execute", dying)
    result = run_suite(tiny_suite(tiny_case, ["greedy-drs", "ffd-dpm"]), tmp_path, progress=False)
    by_name = {r["contender"]: r for r in result.rows}
    assert by_name["greedy-drs"]["status"] == "error"
    assert "exit code 3" in str(by_name["greedy-drs"]["note"])
    assert by_name["ffd-dpm"]["status"] == "feasible"


def test_an_exception_in_a_contender_is_an_error_row(
    tiny_case: FamilyCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("contender blew up")

    monkeypatch.setattr(runner, "run_contender", boom)
    row, detail = runner.execute(RunSpec(tiny_case, contender("greedy-drs"), 0, 1.0))
    assert row["status"] == "error"
    assert "contender blew up" in str(row["note"])
    assert detail is None
    assert row["instance"] == tiny_case.name


def test_dask_local_cluster_equals_serial(tmp_path: Path, tiny_case: FamilyCase) -> None:
    """A small sweep on a LocalCluster with 2 workers gives the serial run's results."""
    pytest.importorskip("distributed")
    sweep = tiny_suite(tiny_case, DETERMINISTIC, seeds=(0, 1))
    serial = run_suite(sweep, tmp_path / "serial", progress=False)
    dask = run_suite(
        sweep, tmp_path / "dask", executor="dask", workers=2, dask_processes=False, progress=False
    )
    assert dask.computed == serial.computed == len(sweep.runs)
    a = read_rows(tmp_path / "serial" / "tiny.csv")
    b = read_rows(tmp_path / "dask" / "tiny.csv")
    assert [(r["instance"], r["contender"], r["seed"]) for r in a] == [
        (r["instance"], r["contender"], r["seed"]) for r in b
    ]
    assert result_view(a) == result_view(b)
    assert all(r["status"] in ("feasible", "unchanged") for r in b)


def test_no_thread_runs_when_a_run_is_forked(
    tmp_path: Path, tiny_case: FamilyCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child forked beside a running thread inherits whatever lock that thread held (rich's
    refresh thread holds the console's while it draws) and can hang on it: with the progress bar
    shown, the serial runner forks without starting a thread of its own."""
    import io
    import os
    import threading

    from rich.console import Console

    real_fork = os.fork
    threads_at_fork: list[int] = []

    def counting_fork() -> int:
        threads_at_fork.append(threading.active_count())
        return real_fork()

    monkeypatch.setattr(os, "fork", counting_fork)
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    before = threading.active_count()  # other tests in this process may have left threads
    result = run_suite(tiny_suite(tiny_case, ["greedy-drs", "ffd-dpm"]), tmp_path, console=console)
    assert [r["status"] for r in result.rows] == ["feasible", "feasible"]
    assert threads_at_fork == [before, before]
    assert "tiny" in console.file.getvalue()  # the bar was drawn all the same

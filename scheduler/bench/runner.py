"""Run a suite: every (instance, contender, seed) once, serially or on dask, resumable, one CSV.

Results go to ``<out>/<suite>.csv``, one row per run keyed by (instance, contender, seed). The
file is rewritten atomically after every finished run, in suite order, so an interrupted sweep
loses at most the runs in flight and a second invocation computes only the missing keys.
Per-host utilization of each plan goes to ``<out>/<suite>-hosts.json`` for the before/after plot.

Isolation: the serial executor runs each run in a forked child process, so a crash (even a
segfault or the out-of-memory killer) becomes an ``error`` row, and the child's peak memory is the
run's own. No thread runs in this process when it forks (a child would inherit any lock such a
thread held, the console's mid-write say, and hang on it): the progress bar is then redrawn by the
wait loop, not by rich's refresh thread. The dask executor runs each run as a task; an exception
or a lost worker becomes an ``error`` row too. Instances are never shipped: a task carries the
small generator spec and builds its instance where it runs.
"""

from __future__ import annotations

import csv
import importlib
import json
import multiprocessing
import os
import resource
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from scheduler.bench.contenders import Contender, run_contender
from scheduler.bench.families import FamilyCase, Suite, build_instance, manifest_rows, write_manifest
from scheduler.bench.metrics import COLUMNS, error_row, host_detail, run_row
from scheduler.errors import InputError, Problem
from scheduler.io import atomic_write_csv, atomic_write_text

Executor = Literal["serial", "dask"]
Key = tuple[str, str, int]
Row = dict[str, Any]

CHILD_GRACE_S = 600.0  # beyond the time limit: planning and verifying an XL plan take minutes
TICK_S = 0.5  # how often the wait for a forked run redraws the progress bar (elapsed time)


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One run, small and picklable: what a worker needs to build the instance and run."""

    case: FamilyCase
    contender: Contender
    seed: int
    time_limit_s: float
    cp_workers: int = 0

    @property
    def key(self) -> Key:
        return (self.case.name, self.contender.name, self.seed)

    def key_columns(self) -> dict[str, Any]:
        spec = self.case.spec
        return {
            "instance": self.case.name,
            "contender": self.contender.name,
            "seed": self.seed,
            "family": self.case.family,
            "hosts": spec.hosts,
            "vms": spec.vms,
            "load": spec.load,
            "threshold": self.contender.threshold,
            "dpm": self.contender.dpm,
            "time_limit_s": self.time_limit_s,
            "cp_workers": self.cp_workers,
        }


def execute(spec: RunSpec) -> tuple[Row, dict[str, Any] | None]:
    """Run one spec in this process: the results row and the per-host detail (never raises)."""
    started = time.monotonic()
    rss_start = _max_rss_mib()
    try:
        instance = build_instance(spec.case, spec.seed)
        key = spec.key_columns() | {"rules": len(instance.rules)}
        outcome = run_contender(
            spec.contender,
            instance,
            seed=spec.seed,
            time_limit_s=spec.time_limit_s,
            num_workers=spec.cp_workers,
        )
        peak = _max_rss_mib()
        row = run_row(
            key,
            outcome,
            wall_s=time.monotonic() - started,
            peak_rss_mib=peak,
            peak_rss_delta_mib=peak - rss_start,
        )
        return row, host_detail(outcome)
    except Exception as exc:
        tail = traceback.format_exc(limit=3).strip().splitlines()
        message = f"{type(exc).__name__}: {exc}" + (f" (at {tail[-3].strip()})" if len(tail) >= 3 else "")
        return error_row(spec.key_columns(), message, wall_s=time.monotonic() - started), None


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


# -- result store -----------------------------------------------------------------------------------


@dataclass
class ResultStore:
    """The rows of ``<suite>.csv`` by key, and the per-host sidecar; written atomically."""

    csv_path: Path
    hosts_path: Path
    rows: dict[Key, Row] = field(default_factory=dict)
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(cls, out_dir: Path, suite_name: str, *, fresh: bool = False) -> ResultStore:
        store = cls(*result_paths(out_dir, suite_name))
        if not fresh:
            store.rows = {_row_key(r): r for r in read_rows(store.csv_path)}
            if store.hosts_path.exists():
                try:
                    store.hosts = json.loads(store.hosts_path.read_text(encoding="utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise _damaged(store.hosts_path, "", f"not JSON ({exc})") from None
        return store

    def add(self, row: Row, detail: dict[str, Any] | None) -> None:
        key = _row_key(row)
        self.rows[key] = row
        if detail is not None:
            self.hosts[_key_text(key)] = detail
        else:
            self.hosts.pop(_key_text(key), None)

    def write(self, order: Sequence[Key]) -> None:
        """Rewrite both files atomically: the suite's keys in order, then any older keys."""
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        rank = {k: i for i, k in enumerate(order)}
        keys = sorted(self.rows, key=lambda k: (rank.get(k, len(rank)), k))
        atomic_write_csv(self.csv_path, COLUMNS, (self.rows[k] for k in keys), ignore_extra=True)
        atomic_write_text(self.hosts_path, json.dumps(self.hosts, separators=(",", ":")) + "\n")


def result_paths(out_dir: Path, suite_name: str) -> tuple[Path, Path]:
    """Where a suite's rows (CSV) and its per-host sidecar (JSON) are stored."""
    return out_dir / f"{suite_name}.csv", out_dir / f"{suite_name}-hosts.json"


def read_rows(path: Path) -> list[Row]:
    """The rows of a results CSV (strings, as written); empty when the file does not exist.

    Rows are reused as finished runs, so a damaged file (cut short, edited, not text) is an
    input error naming the file and line, never a row read half."""
    if not path.exists():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise _damaged(path, "line 1", f"columns missing: {', '.join(missing)}")
            rows = []
            for row in reader:
                where = f"line {reader.line_num}"
                if None in row.values() or None in row:
                    raise _damaged(
                        path,
                        where,
                        f"{sum(v is not None for v in row.values())} fields, "
                        f"the header has {len(reader.fieldnames or [])}",
                    )
                if not row["instance"] or not row["contender"] or not row["seed"].isdigit():
                    raise _damaged(path, where, "no instance, contender or seed")
                rows.append(dict(row))
            return rows
    except UnicodeDecodeError as exc:
        raise _damaged(path, "", f"not text ({exc.reason})") from None


def _damaged(path: Path, where: str, what: str) -> InputError:
    """A results file that cannot be reused: say where, and how to start over."""
    return InputError([Problem(str(path), where, "", f"{what}; remove the file or run with --fresh")])


def _reusable(row: Row | None, spec: RunSpec) -> bool:
    """A stored row answers ``spec`` only if it ran under the same time limit and CP-SAT workers."""
    if row is None:
        return False
    try:
        return (
            float(row["time_limit_s"]) == spec.time_limit_s and int(row["cp_workers"] or 0) == spec.cp_workers
        )
    except ValueError:
        return False


def _row_key(row: Row) -> Key:
    return (str(row["instance"]), str(row["contender"]), int(row["seed"]))


def _key_text(key: Key) -> str:
    return f"{key[0]}|{key[1]}|{key[2]}"


# -- the sweep --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SuiteRun:
    """What a sweep did: rows of the suite (in suite order), how many were computed, how long."""

    rows: list[Row]
    computed: int
    reused: int
    wall_s: float
    csv_path: Path
    hosts: dict[str, dict[str, Any]]


def run_suite(
    suite: Suite,
    out_dir: str | Path,
    *,
    executor: Executor = "serial",
    scheduler_address: str | None = None,
    workers: int = 2,
    time_limit_s: float | None = None,
    cp_workers: int = 0,
    fresh: bool = False,
    isolate: bool = True,
    dask_processes: bool = True,
    progress: bool = True,
    console: Console | None = None,
) -> SuiteRun:
    """Run every missing (instance, contender, seed) of ``suite``; write CSV, sidecar and manifest.

    ``time_limit_s`` overrides the suite's limit for every contender; ``cp_workers`` is CP-SAT's
    worker count for ours (0 = ``default_workers()``: the cores, 2 to 8). ``workers`` sizes the
    dask LocalCluster when no ``scheduler_address`` is given. ``isolate=False`` runs serial runs
    in this process (faster start, no crash isolation, peak memory then means this process's
    peak so far); ``dask_processes=False`` makes the LocalCluster's workers threads of this
    process.
    """
    started = time.monotonic()
    out = Path(out_dir)
    limit = time_limit_s if time_limit_s is not None else suite.time_limit_s
    specs = [RunSpec(case, who, seed, limit, cp_workers) for case, who, seed in suite.runs]
    order = [s.key for s in specs]
    store = ResultStore.open(out, suite.name, fresh=fresh)
    todo = [s for s in specs if not _reusable(store.rows.get(s.key), s)]
    reused = len(specs) - len(todo)
    write_manifest(manifest_rows(suite.cases()), out, suite.name)

    console = console or Console(stderr=True)
    forks = executor == "serial" and isolate
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
        console=console,
        disable=not progress or not todo,  # nothing to run: no empty bar, the summary line says it
        transient=False,
        auto_refresh=not forks,  # no refresh thread where this process forks; the wait loop redraws
    ) as bar:
        task = bar.add_task(f"{suite.name} ({reused} reused)", total=len(todo), current="")

        def done(row: Row, detail: dict[str, Any] | None) -> None:
            store.add(row, detail)
            store.write(order)
            bar.update(task, advance=1, current=f"{row['instance']} {row['contender']} → {row['status']}")
            bar.refresh()

        def starting(spec: RunSpec) -> None:
            bar.update(task, current=f"{spec.key[0]} {spec.key[1]}")
            bar.refresh()

        if executor == "serial":
            _run_serial(todo, done, isolate, starting, bar.refresh)
        elif executor == "dask":
            _run_dask(todo, done, scheduler_address, workers, dask_processes)
        else:
            raise ValueError(f"unknown executor {executor!r}")
    if not todo:
        store.write(order)
    rows = [store.rows[k] for k in order if k in store.rows]
    return SuiteRun(rows, len(todo), reused, time.monotonic() - started, store.csv_path, store.hosts)


def _run_serial(
    specs: Iterable[RunSpec],
    done: Callable[[Row, dict[str, Any] | None], None],
    isolate: bool,
    starting: Callable[[RunSpec], None],
    tick: Callable[[], None],
) -> None:
    for spec in specs:
        starting(spec)
        if isolate:
            row, detail = _execute_isolated(spec, tick)
        else:
            row, detail = execute(spec)
        done(row, detail)


def _child(spec: RunSpec, conn: Any) -> None:
    conn.send(execute(spec))
    conn.close()


def _execute_isolated(spec: RunSpec, tick: Callable[[], None]) -> tuple[Row, dict[str, Any] | None]:
    """``execute`` in a forked child: a crash or a hang becomes an ``error`` row, not a lost sweep.

    The instance is built here first so the child inherits it instead of regenerating it. ``tick``
    is called every ``TICK_S`` while the child runs (the caller's redraw, so it needs no thread).
    """
    started = time.monotonic()
    try:
        build_instance(spec.case, spec.seed)
    except Exception as exc:
        return error_row(spec.key_columns(), f"{type(exc).__name__}: {exc}"), None
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(spec, send), daemon=True)
    child.start()
    send.close()
    deadline = spec.time_limit_s + CHILD_GRACE_S
    until = time.monotonic() + deadline
    try:
        while (left := until - time.monotonic()) > 0:
            if receive.poll(min(TICK_S, left)):
                result: tuple[Row, dict[str, Any] | None] = receive.recv()
                child.join(10)
                return result
            tick()
        message = f"no result within {deadline:.0f} s; run stopped"
    except EOFError:
        child.join(10)
        message = f"run process died (exit code {child.exitcode})"
    finally:
        if child.is_alive():
            child.kill()
            child.join(10)
        receive.close()
    return error_row(spec.key_columns(), message, wall_s=time.monotonic() - started), None


def _run_dask(
    specs: Sequence[RunSpec],
    done: Callable[[Row, dict[str, Any] | None], None],
    scheduler_address: str | None,
    workers: int,
    processes: bool = True,
) -> None:
    """Fan the runs out on dask.distributed: a LocalCluster of ``workers`` processes, or an address.

    One thread per worker process, so runs do not share a CPU-bound interpreter; each CP-SAT
    search still uses its own threads.
    """
    distributed = importlib.import_module("distributed")
    with dask_client(scheduler_address, workers, processes) as client:
        futures = {
            client.submit(execute, spec, pure=False, key=f"bench-{os.getpid()}-{i}"): spec
            for i, spec in enumerate(specs)
        }
        for future in distributed.as_completed(futures):
            spec = futures[future]
            try:
                row, detail = future.result()
            except Exception as exc:  # a lost worker (KilledWorker) or a task that could not run
                row, detail = error_row(spec.key_columns(), f"{type(exc).__name__}: {exc}"), None
            done(row, detail)


@contextmanager
def dask_client(scheduler_address: str | None, workers: int, processes: bool = True) -> Iterator[Any]:
    """A dask.distributed client: to the scheduler at ``scheduler_address``, or to a LocalCluster.

    The LocalCluster (``workers`` workers of one thread each, processes unless ``processes`` is
    False, no dashboard) lives as long as the context. dask is imported here, so that it is
    needed only by those who fan out.
    """
    distributed = importlib.import_module("distributed")
    cluster = None
    if scheduler_address is None:
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=None
        )
        client = distributed.Client(cluster)
    else:
        client = distributed.Client(scheduler_address)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

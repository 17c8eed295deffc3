"""The benchmark suite: seeded instance families, contenders, metrics, a resumable runner and plots.

One run = one instance × one contender × one seed, recorded as one CSV row. Every contender's
target goes through the same planner and the same checker (``scheduler verify``), so rows compare
like with like; a run that fails, crashes or yields an invalid plan is recorded, never dropped.
"""

from scheduler.bench.contenders import (
    CONTENDER_KINDS,
    Contender,
    RunOutcome,
    Target,
    contender,
    finish_target,
    run_contender,
    verify_document,
)
from scheduler.bench.families import (
    FAMILY_SIZES,
    FamilyCase,
    Suite,
    build_instance,
    datacenter_cases,
    manifest_rows,
    suite,
    write_manifest,
)
from scheduler.bench.metrics import COLUMNS, RESULT_COLUMNS, run_row
from scheduler.bench.runner import RunSpec, SuiteRun, run_suite

__all__ = [
    "COLUMNS",
    "CONTENDER_KINDS",
    "FAMILY_SIZES",
    "RESULT_COLUMNS",
    "Contender",
    "FamilyCase",
    "RunOutcome",
    "RunSpec",
    "Suite",
    "SuiteRun",
    "Target",
    "build_instance",
    "contender",
    "datacenter_cases",
    "finish_target",
    "manifest_rows",
    "run_contender",
    "run_row",
    "run_suite",
    "suite",
    "verify_document",
    "write_manifest",
]

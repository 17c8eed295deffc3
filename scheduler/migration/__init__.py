"""Pre-copy live-migration cost: hypervisor presets, the estimator and shared-link simulation.

Pure domain code: no solver import (the project's style rule 1).
"""

from scheduler.migration.links import MoveSpec, SharedLinkSimulation, max_min_fair_rates
from scheduler.migration.precopy import (
    LINK_EFFICIENCY,
    FastEstimates,
    MigrationEstimate,
    MigrationInput,
    PrecopyRun,
    WorkingSet,
    estimate,
    estimate_fast,
    estimate_vm,
    migration_input_for,
    preset_for_policy,
    simulate,
)
from scheduler.migration.presets import PRESETS, HypervisorPreset, preset_for

__all__ = [
    "LINK_EFFICIENCY",
    "PRESETS",
    "FastEstimates",
    "HypervisorPreset",
    "MigrationEstimate",
    "MigrationInput",
    "MoveSpec",
    "PrecopyRun",
    "SharedLinkSimulation",
    "WorkingSet",
    "estimate",
    "estimate_fast",
    "estimate_vm",
    "max_min_fair_rates",
    "migration_input_for",
    "preset_for",
    "preset_for_policy",
    "simulate",
]

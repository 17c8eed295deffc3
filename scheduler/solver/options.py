"""Options of one optimization run, with their units and defaults."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

ProgressCallback = Callable[[str, str], None]  # (level name, message)


def default_workers() -> int:
    """CP-SAT workers: the machine's cores, at least 2 (portfolio + LNS), at most 8."""
    return max(2, min(8, os.cpu_count() or 2))


@dataclass(frozen=True, slots=True)
class SolveOptions:
    """How hard and how long to search.

    Attributes:
        time_limit_s: wall-clock budget for all levels together; the best plan found is returned.
        seed: CP-SAT and local-search random seed.
        num_workers: CP-SAT search workers.
        max_migrations: budget of optional moves (DRS, DPM, priority-2/3 rules). Not counted:
            moves a VM cannot avoid (maintenance evacuation, priority-1 repair; placing a new
            VM is no move), nor the fewest moves any placement needs to bring hosts within
            capacity and, with DPM on, its high target (an over-full host must shed some VM,
            whichever): every level may make up to this many optional moves beyond those
            (docs/optimizer.md, the move budget).
        candidate_hosts: hosts offered to each free VM besides its current host.
        max_free_vms: VMs given variables in repair mode before the scope is widened.
        progress: called with (level, message) while solving.
        host_symmetry: keep one arrangement of interchangeable hosts (``symmetry.py``); off
            only to measure what that buys (``benchmarks/symmetry_speed.py``).
        reproducible: run CP-SAT's workers interleaved instead of racing (``sat.new_solver``),
            and the local search of large clusters in rounds of sub-solves bounded in
            deterministic time, with a neighbourhood budget the time limit and workers fix
            (``lns.reproducible_budget``): the same inventory, options and seed then give the
            same plan whenever every level ends on its proof, and the local search on its
            budget, before the time limit. Slower, and at large scale a little costlier; a
            level the clock stops still depends on how far the machine got.
    """

    time_limit_s: float = 30.0
    seed: int = 0
    num_workers: int = 0  # 0 = default_workers()
    max_migrations: int | None = None
    candidate_hosts: int = 12
    max_free_vms: int = 3000
    progress: ProgressCallback | None = None
    host_symmetry: bool = True
    reproducible: bool = False

    @property
    def workers(self) -> int:
        return self.num_workers if self.num_workers > 0 else default_workers()

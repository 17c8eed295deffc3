"""Large-neighbourhood search for the DRS and migration-cost levels of big clusters.

At 10,000 VMs one CP model over every free VM spends most of its time in presolve and LP. But
both late levels are separable: the balance penalty is a sum over hosts (``balance.py``) and the
migration cost a sum over VMs. So a small CP over a few hosts — every movable VM on them free,
every other VM fixed — optimizes its part exactly, and any improvement there is an improvement of
the whole (BtrPlace's repair idea, run as a loop).

Neighbourhoods
    balance: the hosts with the largest penalty above and below the mean (sampled in proportion
    to their penalty) plus a few random powered-on hosts; first minimize the hosts' penalty, then,
    with the penalty fixed, the migration seconds of their VMs.
    cost: the targets of today's moves and the hosts those VMs came from; minimize migration
    seconds with the hosts' penalty not allowed to grow.
Between the phases, and after every ``DROP_EVERY`` cost improvements (and at least one
neighbourhood per ``MOVES_PER_NEIGHBOURHOOD`` moves), the moves the balance reached does not need
are sent home (``revert.py``): one pass over the moved VMs finds what
neighbourhoods of a few hosts find one at a time (on 128 hosts × 10,000 VMs in 30 s: 2,458 s →
2,331 s of migration).
A phase ends after ``STALL_ROUNDS`` neighbourhoods in a row without improvement, but only at the
largest size: before that, a stall doubles the free VMs and the sub-solve time (up to
``MAX_GROWTH``), so a longer time limit buys larger moves rather than idle time.
Earlier levels cannot get worse: VMs in priority-2/3 rules stay where the staged solver put
them, host power is fixed, and capacity, DPM targets, compatibility and the move budget hold in
every neighbourhood.

Parallel sub-solves
    Each sub-solve runs on one CP-SAT worker, and CP-SAT releases the interpreter lock while it
    searches: so with ``workers`` > 1 that many neighbourhoods on disjoint hosts are solved at
    once, in threads, each from the assignment of when it started. A sub-solve changes only VMs
    of its own hosts, so when it ends its changes apply to the assignment of now; the balance
    level and the move budget are global, so the result is kept only if the whole, evaluated
    exactly, still improves and keeps them. Sub-solves end at different times (many well within
    their 0.2 s), and the next one starts as each ends.

Reproducible rounds (``--reproducible``)
    Which sub-solve ends first, and how far each gets in 0.2 s, depends on the machine. With a
    neighbourhood budget the search runs in rounds instead: up to ``workers`` sub-solves drawn
    on disjoint hosts, each bounded in CP-SAT's deterministic time, the round settled in the
    order drawn once all have ended, until the budget (fixed by the time limit and workers) is
    spent. The same options and seed then give the same search wherever the budget fits in the
    time limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from scheduler.interrupt import stop_requested
from scheduler.model import NO_HOST
from scheduler.solver.balance import BalancePenalty, DrsBand, PenaltyVars
from scheduler.solver.problem import Problem
from scheduler.solver.revert import drop_unneeded_moves
from scheduler.solver.sat import new_solver
from scheduler.solver.scaling import cost_units

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Small neighbourhoods solved fast beat large ones solved slowly (measured on 128 hosts × 10,000
# VMs: 60 free VMs on 3 hosts in 0.2 s improve ~4× more per second than 300 VMs on 5 hosts).
HOT_HOSTS = 1
COLD_HOSTS = 1
RANDOM_HOSTS = 1
MAX_FREE_VMS = 60
SUB_SOLVE_S = 0.2
# Reproducible rounds (``neighbourhood_budget``): a sub-solve's limit in CP-SAT's deterministic time,
# which depends on the work done, not on the machine. On 128 hosts × 10,000 VMs sub-solves cut by
# the 0.2 s clock had used 0.1-0.2 units (0.5 units a second at the median); a wall-clock limit
# this many times the usual one stays behind as a guard.
SUB_SOLVE_DETERMINISTIC = 0.1
WALL_GUARD = 20.0
# Reproducible rounds get this many neighbourhoods per worker and second of the time limit: a
# round waits for its slowest sub-solve, and what is left of the limit once the earlier levels
# are done depends on the machine, so the budget is set below what it fits (on 128 hosts ×
# 10,000 VMs the streaming search solves about 6 per worker and second).
REPRODUCIBLE_RATE = 2.5
STALL_ROUNDS = 200  # neighbourhoods in a row without improvement before the neighbourhoods grow
# A phase whose small neighbourhoods stall is at a local optimum of them, not of the problem: the
# neighbourhoods then double (free VMs and sub-solve time) up to this factor before the phase ends,
# so time left after a stall buys larger moves instead of nothing. On 128 hosts × 10,000 VMs (one
# CPU generation, seed 2) the 60-VM search stalled within 30 s whatever the time limit (1,813 s
# of migration at 120 s); growing, it reached 1,764 s at 120 s and 1,732 s at 300 s.
MAX_GROWTH = 8
DROP_EVERY = 5  # cost-phase improvements between passes that send unneeded moves home
# A pass tries every moved VM in turn while no sub-solve runs, so on big plans it is not cheap:
# on 512 hosts × 40,000 VMs (4,600 moves) each took 0.4-0.5 s, 5.5 s of a 29 s search. A pass is
# due only after at least one neighbourhood per this many moved VMs (about what a pass costs ten
# times over: 0.05 s a pass for 700 moves on 128 × 10,000 against about 0.045 s a
# neighbourhood), so the passes keep to about a tenth of the search; small plans still drop every
# DROP_EVERY gains.
MOVES_PER_NEIGHBOURHOOD = 64
BALANCE_SHARE = 0.6  # of the remaining time, the rest goes to the cost phase
DISJOINT_TRIES = 4  # draws for a neighbourhood whose hosts no running one uses


def reproducible_budget(time_limit_s: float, workers: int) -> int:
    """The neighbourhoods of a reproducible search (``LocalSearch(neighbourhood_budget=...)``):
    fixed by the options, never by the clock."""
    return max(1, int(REPRODUCIBLE_RATE * max(1, workers) * time_limit_s))


@dataclass
class SearchStats:
    neighbourhoods: int = 0
    improvements: int = 0
    growth: int = 1  # the largest neighbourhood reached, in multiples of the first one


class LocalSearch:
    """Improve balance, then migration cost, of an assignment on fixed host power."""

    def __init__(
        self,
        problem: Problem,
        on_mask: BoolArray,
        band: DrsBand | None,
        locked: BoolArray,
        max_migrations: int | None,
        seed: int,
        workers: int = 1,
        neighbourhood_budget: int | None = None,
    ) -> None:
        """``neighbourhood_budget``: run reproducibly (``_rounds``), with at most this many
        neighbourhoods in all; None streams sub-solves until the deadline."""
        inst = problem.instance
        self.problem = problem
        self.instance = inst
        self.on_mask = on_mask
        self.band = band
        self.penalty = (
            BalancePenalty.build(inst, problem.resources, on_mask, band) if band is not None else None
        )
        self.locked = locked
        self.max_migrations = max_migrations
        self.units = cost_units(problem.cost_s)
        self.origin = inst.current_host
        self.rng = np.random.default_rng(seed)
        self.workers = max(1, workers)
        self.neighbourhood_budget = neighbourhood_budget
        self.stats = SearchStats()
        self._since_drop = SearchStats()  # neighbourhoods and improvements since the last pass
        self.best: IntArray = problem.warm
        self.interrupted = False
        self.allowed = problem.allowed & on_mask[None, :]
        # Migration seconds per unit of measured load a VM carries: what may stand in for an
        # expensive move is whatever moves the same load for less, not merely the cheapest VM.
        load = self.penalty.demand.sum(axis=0) if self.penalty is not None else np.ones(inst.num_vms)
        self._cost_per_load = self.units / np.maximum(load, 1)

    # -- values ---------------------------------------------------------------------------------

    def balance_value(self, assignment: IntArray) -> int:
        return 0 if self.penalty is None else self.penalty.excess(assignment)

    def cost_value(self, assignment: IntArray) -> int:
        moved = (self.origin != NO_HOST) & (assignment != self.origin)
        return int(self.units[moved].sum())

    # -- the loop -------------------------------------------------------------------------------

    def run(self, assignment: IntArray, deadline: float) -> IntArray:
        """Balance phase, then cost phase, until ``deadline`` (a ``time.monotonic()`` instant).

        In the cost phase every neighbourhood keeps the DRS level's excess at most what the
        balance phase reached (the level is fixed before the next one). Ctrl-C ends the search
        with the best assignment so far (``interrupted`` is then set).
        """
        self.best = assignment
        pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        try:
            now = time.monotonic()
            if self.neighbourhood_budget is not None:
                budget = self.neighbourhood_budget
                if self.penalty is not None:
                    self._rounds(self.best, deadline, pool, int(BALANCE_SHARE * budget), balance=True)
                    self.best = self._drop_unneeded(self.best)
                self._rounds(self.best, deadline, pool, budget - self.stats.neighbourhoods, balance=False)
                return self.best
            if self.penalty is not None:
                split = now + BALANCE_SHARE * max(deadline - now, 0.0)
                self._phase(self.best, split, pool, balance=True)
                self.best = self._drop_unneeded(self.best)
            self._phase(self.best, deadline, pool, balance=False)
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        return self.best

    def _phase(
        self, assignment: IntArray, deadline: float, pool: Executor | None, *, balance: bool
    ) -> IntArray:
        """Neighbourhoods until the deadline, or until ``STALL_ROUNDS`` in a row without
        improvement at the largest size (``_grow``).

        With a pool, ``workers`` sub-solves are in flight at once on disjoint hosts, each from
        the assignment of when it started; as each ends, its changes (on its own hosts only) are
        applied to the assignment of now if the whole still improves (``_accepts``), and the
        next one starts. Sub-solves end at different times, so none waits for a slower one."""
        stall, growth = 0, 1
        running: dict[Future[IntArray | None], tuple[IntArray, IntArray]] = {}  # → (base, hosts)
        while True:
            open_slots = self.workers - len(running)
            while open_slots > 0 and self._may_start(assignment, deadline, stall, balance=balance):
                hosts = self._disjoint_hosts(assignment, running, balance=balance)
                if hosts is None:
                    break
                budget = min(SUB_SOLVE_S * growth, deadline - time.monotonic())
                seed = int(self.rng.integers(1 << 30))
                job = self._submit(pool, assignment, hosts, budget, seed, growth, balance)
                running[job] = (assignment, hosts)
                open_slots -= 1
            if not running:
                return assignment
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            assignment, stall, drop_due = self._settle(done, running, assignment, stall, balance=balance)
            stall, growth = self._grow(stall, growth)
            if drop_due:
                # Sending moves home touches any host, so the running sub-solves end first and are
                # settled on the assignment they were disjoint in; then the moves go home.
                assignment, stall, _ = self._settle(
                    set(wait(running).done), running, assignment, stall, balance=balance
                )
                assignment = self.best = self._drop_unneeded(assignment)

    def _rounds(
        self, assignment: IntArray, deadline: float, pool: Executor | None, budget: int, *, balance: bool
    ) -> IntArray:
        """``_phase`` made reproducible: rounds of up to ``workers`` sub-solves on disjoint hosts,
        each bounded in CP-SAT's deterministic time, settled in the order they were drawn once all
        of the round have ended; at most ``budget`` neighbourhoods of the first size (a grown one
        counts as many as it is times larger, so the budget still fits the time limit). Nothing then
        depends on which thread ends first or how fast the machine is, unless ``deadline`` comes
        first."""
        stall, growth = 0, 1
        while budget >= growth and self._may_start(assignment, deadline, stall, balance=balance):
            running: dict[Future[IntArray | None], tuple[IntArray, IntArray]] = {}
            drawn: list[Future[IntArray | None]] = []
            while len(drawn) < min(self.workers, budget // growth):
                hosts = self._disjoint_hosts(assignment, running, balance=balance)
                if hosts is None:
                    break
                seed = int(self.rng.integers(1 << 30))
                job = self._submit(pool, assignment, hosts, SUB_SOLVE_S * growth, seed, growth, balance)
                running[job] = (assignment, hosts)
                drawn.append(job)
            if not drawn:
                break
            wait(drawn)
            budget -= growth * len(drawn)
            assignment, stall, drop_due = self._settle(drawn, running, assignment, stall, balance=balance)
            stall, growth = self._grow(stall, growth)
            if drop_due:
                assignment = self.best = self._drop_unneeded(assignment)
        return assignment

    def _settle(
        self,
        done: Iterable[Future[IntArray | None]],
        running: dict[Future[IntArray | None], tuple[IntArray, IntArray]],
        assignment: IntArray,
        stall: int,
        *,
        balance: bool,
    ) -> tuple[IntArray, int, bool]:
        """Apply the ended sub-solves of ``done`` that improve the assignment, one after another;
        returns (assignment, stall count, whether a pass sending moves home is due)."""
        for job in done:
            base, _ = running.pop(job)
            self.stats.neighbourhoods += 1
            self._since_drop.neighbourhoods += 1
            found = job.result()
            candidate = None if found is None else self._applied(assignment, base, found)
            if candidate is None or not self._accepts(candidate, assignment, balance=balance):
                stall += 1
                continue
            assignment, stall = candidate, 0
            self.stats.improvements += 1
            self._since_drop.improvements += 1
            self.best = assignment
        return assignment, stall, not balance and self._drop_due(assignment)

    def _drop_due(self, assignment: IntArray) -> bool:
        """Whether the cost phase has gained enough since the last pass sending moves home
        (``DROP_EVERY`` improvements) and solved enough neighbourhoods for the pass to be a small
        part of its time (``MOVES_PER_NEIGHBOURHOOD``)."""
        if self.penalty is None or self._since_drop.improvements < DROP_EVERY:
            return False
        moved = int(((self.origin != NO_HOST) & (assignment != self.origin)).sum())
        return self._since_drop.neighbourhoods * MOVES_PER_NEIGHBOURHOOD >= moved

    def _grow(self, stall: int, growth: int) -> tuple[int, int]:
        """After ``STALL_ROUNDS`` neighbourhoods in a row without improvement, double their size
        (up to ``MAX_GROWTH``) and count the stall afresh; at the largest size the stall stands and
        ends the phase."""
        if stall < STALL_ROUNDS or growth >= MAX_GROWTH:
            return stall, growth
        growth *= 2
        self.stats.growth = max(self.stats.growth, growth)
        return 0, growth

    def _may_start(self, assignment: IntArray, deadline: float, stall: int, *, balance: bool) -> bool:
        if stall >= STALL_ROUNDS or deadline - time.monotonic() <= 0.1:
            return False
        if stop_requested():
            self.interrupted = True
            return False
        # Within tolerance: nothing left for the balance phase.
        return not (balance and self.balance_value(assignment) == 0)

    def _submit(
        self,
        pool: Executor | None,
        assignment: IntArray,
        hosts: IntArray,
        budget: float,
        seed: int,
        growth: int,
        balance: bool,
    ) -> Future[IntArray | None]:
        if pool is not None:
            return pool.submit(self._solve, assignment, hosts, budget, seed, growth, balance=balance)
        solved: Future[IntArray | None] = Future()
        solved.set_result(self._solve(assignment, hosts, budget, seed, growth, balance=balance))
        return solved

    def _disjoint_hosts(
        self,
        assignment: IntArray,
        running: dict[Future[IntArray | None], tuple[IntArray, IntArray]],
        *,
        balance: bool,
    ) -> IntArray | None:
        """A neighbourhood sharing no host with the running ones (a few draws), or None."""
        draw = self._balance_hosts if balance else self._cost_hosts
        busy = {int(h) for _, hosts in running.values() for h in hosts}
        for _ in range(DISJOINT_TRIES if busy else 1):
            hosts = draw(assignment)
            if hosts is None:
                return None
            if busy.isdisjoint(hosts.tolist()):
                return hosts
        return None

    @staticmethod
    def _applied(assignment: IntArray, base: IntArray, found: IntArray) -> IntArray:
        """``assignment`` with the sub-solve's changes from ``base``: they move only VMs of its
        hosts, which no other running sub-solve touches, so they apply to the assignment of now."""
        changed = found != base
        out = assignment.copy()
        out[changed] = found[changed]
        return out

    def _accepts(self, candidate: IntArray, current: IntArray, *, balance: bool) -> bool:
        """Balance phase: (balance level, migration cost) falls, in that order. Cost phase: the
        cost falls and the balance level does not rise (another sub-solve may have spent the
        room under the tolerance this one counted on). The move budget holds in both."""
        new, now = self._key(candidate), self._key(current)
        improves = new < now if balance else new[1] < now[1] and new[0] <= now[0]
        return improves and self._within_budget(candidate)

    def _key(self, assignment: IntArray) -> tuple[int, int]:
        """Balance level first, then migration cost: the order the levels are solved in."""
        return self.balance_value(assignment), self.cost_value(assignment)

    def _within_budget(self, assignment: IntArray) -> bool:
        if self.max_migrations is None:
            return True
        optional = (self.origin != NO_HOST) & (assignment != self.origin) & ~self.problem.mandatory
        return int(optional.sum()) <= self.max_migrations

    def _drop_unneeded(self, assignment: IntArray) -> IntArray:
        """Send home the moves the balance reached does not need (``revert.py``) before the cost
        phase: each one dropped is a move no neighbourhood has to find a way to undo."""
        assert self.penalty is not None
        self._since_drop = SearchStats()
        movable = ~self.locked & ~self.problem.mandatory
        return drop_unneeded_moves(self.problem, assignment, self.on_mask, self.penalty, movable)

    # -- neighbourhoods -------------------------------------------------------------------------

    def _balance_hosts(self, assignment: IntArray) -> IntArray | None:
        """Hot hosts (sampled by penalty) and the cold hosts most of their VMs may move to."""
        assert self.penalty is not None
        loads = self.penalty.loads(assignment)
        over = self.penalty.overshoot_of_raw(self.penalty.raw_loads(assignment))
        per_host = self.penalty.penalty_of_loads(loads) + over
        signed = np.sign(loads - self.penalty.target)
        hot_score = (per_host * (signed > 0)).sum(axis=0).astype(np.float64)
        cold_score = (per_host * (signed < 0)).sum(axis=0).astype(np.float64)
        if hot_score.sum() + cold_score.sum() == 0:
            return None  # every host within the band
        hot = self._sample(hot_score, HOT_HOSTS)
        if hot:
            # Weight cold hosts by the share of the hot hosts' movable VMs allowed there, so the
            # neighbourhood can actually move load (CPU generations and storage make islands).
            residents = np.flatnonzero(np.isin(assignment, hot) & ~self.locked)
            reach = self.allowed[residents].mean(axis=0) if len(residents) else np.ones(len(cold_score))
            cold_score = cold_score * reach
        cold = self._sample(cold_score, COLD_HOSTS)
        if not hot and cold:
            # Only cold hosts: bring in the hosts whose VMs may reach them.
            senders = self.allowed[:, cold].any(axis=1) & ~self.locked & (assignment != NO_HOST)
            donors = np.bincount(assignment[senders], minlength=len(cold_score)).astype(np.float64)
            donors[cold] = 0
            hot = self._sample(donors * self.on_mask, HOT_HOSTS)
        on = np.flatnonzero(self.on_mask)
        chosen = set(hot) | set(cold)
        chosen |= set(self.rng.choice(on, size=min(RANDOM_HOSTS, len(on)), replace=False).tolist())
        return np.array(sorted(chosen), dtype=np.int64)

    def _cost_hosts(self, assignment: IntArray) -> IntArray | None:
        moved = np.flatnonzero((self.origin != NO_HOST) & (assignment != self.origin) & ~self.locked)
        if len(moved) == 0:
            return None
        # Expensive moves first: they are where a cheaper way to the same balance pays most.
        weights = self.units[moved].astype(np.float64)
        picks = self.rng.choice(moved, size=min(3, len(moved)), replace=False, p=weights / weights.sum())
        hosts = set(assignment[picks].tolist()) | set(self.origin[picks].tolist())
        hosts = {h for h in hosts if self.on_mask[h]}
        on = np.flatnonzero(self.on_mask)
        hosts |= set(self.rng.choice(on, size=min(RANDOM_HOSTS, len(on)), replace=False).tolist())
        return np.array(sorted(hosts), dtype=np.int64)

    def _sample(self, score: npt.NDArray[np.float64], k: int) -> list[int]:
        candidates = np.flatnonzero(score > 0)
        if len(candidates) == 0:
            return []
        weights = score[candidates] / score[candidates].sum()
        size = min(k, len(candidates))
        return [int(h) for h in self.rng.choice(candidates, size=size, replace=False, p=weights)]

    # -- one sub-problem ------------------------------------------------------------------------

    def _solve(
        self,
        assignment: IntArray,
        hosts: IntArray,
        budget: float,
        seed: int,
        growth: int,
        *,
        balance: bool,
    ) -> IntArray | None:
        """The neighbourhood's improvement of ``assignment``, or None, with at most ``growth`` ×
        ``MAX_FREE_VMS`` free VMs (``budget`` seconds is the caller's, already grown). Runs in a
        worker thread in parallel rounds: it reads the search's state and changes none of it."""
        inst = self.instance
        rng = np.random.default_rng(seed)
        in_hood = np.zeros(inst.num_hosts, dtype=np.bool_)
        in_hood[hosts] = True
        on_hosts = (assignment != NO_HOST) & in_hood[np.maximum(assignment, 0)]
        residents = np.flatnonzero(on_hosts & ~self.locked)
        free = self._free_vms(assignment, residents, rng, MAX_FREE_VMS * growth, balance=balance)
        if len(free) == 0:
            return None
        fixed = assignment.copy()
        fixed[free] = NO_HOST
        model = cp_model.CpModel()
        x: list[dict[int, cp_model.IntVar]] = []
        by_host: dict[int, list[tuple[int, cp_model.IntVar]]] = {int(h): [] for h in hosts}
        for v in free:
            row = {}
            for h in hosts:
                if self.allowed[v, h] or h == assignment[v]:
                    row[int(h)] = model.new_bool_var("")
            model.add_exactly_one(row.values())
            x.append(row)
            for h, var in row.items():
                by_host[h].append((int(v), var))

        self._capacity(model, fixed, by_host)
        moved_outside = int(
            ((self.origin != NO_HOST) & (assignment != self.origin) & ~self.problem.mandatory).sum()
            - (
                (self.origin[free] != NO_HOST)
                & (assignment[free] != self.origin[free])
                & ~self.problem.mandatory[free]
            ).sum()
        )
        cost_terms, move_terms = [], []
        for i, v in enumerate(free):
            origin = int(self.origin[v])
            if origin == NO_HOST:
                continue
            stay = x[i].get(origin)
            moved_expr = 1 - stay if stay is not None else 1
            cost_terms.append(int(self.units[v]) * moved_expr)
            if not self.problem.mandatory[v]:
                move_terms.append(moved_expr)
        if self.max_migrations is not None and move_terms:
            model.add(sum(move_terms) <= max(self.max_migrations - moved_outside, 0))

        penalty_expr, penalty_now, penalty_vars = self._penalty(model, fixed, assignment, by_host, hosts)
        cost_now = int(
            sum(
                int(self.units[v])
                for v in free
                if self.origin[v] != NO_HOST and assignment[v] != self.origin[v]
            )
        )
        self._hint(model, assignment, free, x, penalty_vars)

        solver = new_solver(budget, 1, seed)
        # Presolve of a 60-VM neighbourhood took most of the 0.2 s budget and found little to
        # simplify; without it about 40 % more neighbourhoods fit in the same time on XL.
        solver.parameters.cp_model_presolve = False
        if balance and penalty_expr is not None:
            model.minimize(penalty_expr)
            self._limit(solver, budget, 0.5, growth)
            status = solver.solve(model)
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                return None
            best = round(solver.objective_value)
            if best >= penalty_now:
                return None
            model.add(penalty_expr <= best)
            candidate = self._extract(solver, assignment, free, x)
            model.clear_hints()
            self._hint(model, candidate, free, x, penalty_vars)
            model.minimize(sum(cost_terms) if cost_terms else 0)
            self._limit(solver, budget, 0.5, growth)
            status = solver.solve(model)
            return (
                self._extract(solver, assignment, free, x)
                if status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
                else candidate
            )
        if penalty_expr is not None:
            model.add(penalty_expr <= penalty_now)
        if not cost_terms:
            return None
        model.minimize(sum(cost_terms))
        self._limit(solver, budget, 1.0, growth)
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) or round(solver.objective_value) >= cost_now:
            return None
        return self._extract(solver, assignment, free, x)

    def _limit(self, solver: cp_model.CpSolver, budget: float, share: float, growth: int) -> None:
        """``share`` of a sub-solve's limit: ``budget`` seconds, or in reproducible rounds
        ``growth`` × ``SUB_SOLVE_DETERMINISTIC`` units of deterministic time, the clock only a
        distant guard."""
        if self.neighbourhood_budget is None:
            solver.parameters.max_time_in_seconds = budget * share
            return
        solver.parameters.max_deterministic_time = SUB_SOLVE_DETERMINISTIC * growth * share
        solver.parameters.max_time_in_seconds = WALL_GUARD * budget * share

    def _free_vms(
        self,
        assignment: IntArray,
        residents: IntArray,
        rng: np.random.Generator,
        most: int,
        *,
        balance: bool,
    ) -> IntArray:
        """At most ``most`` of the neighbourhood's movable VMs.

        Balance: a random sample. Cost: every VM already moved (the expensive ones are what the
        phase may undo) and then those still at home that carry the most load per migration
        second (what could move instead).
        """
        if len(residents) <= most:
            return residents
        if balance:
            return np.sort(rng.choice(residents, size=most, replace=False))
        moved = residents[
            (self.origin[residents] != NO_HOST) & (assignment[residents] != self.origin[residents])
        ]
        home = np.setdiff1d(residents, moved)
        best_per_load = home[np.argsort(self._cost_per_load[home], kind="stable")]
        keep = np.concatenate([moved[:most], best_per_load[: max(most - len(moved), 0)]])
        return np.sort(keep)

    def _capacity(
        self,
        model: cp_model.CpModel,
        fixed: IntArray,
        by_host: dict[int, list[tuple[int, cp_model.IntVar]]],
    ) -> None:
        inst = self.instance
        placed = fixed != NO_HOST
        n = inst.num_hosts
        cpu_fixed = np.bincount(fixed[placed], inst.vm_cpu_demand_mhz[placed], n)
        mem_fixed = np.bincount(fixed[placed], inst.vm_memory_mib[placed], n)
        dem_fixed = np.bincount(fixed[placed], inst.vm_memory_demand_mib[placed], n)
        high = self.problem.dpm_high
        for h, terms in by_host.items():
            if not terms:
                continue
            vms = [v for v, _ in terms]
            xs = [var for _, var in terms]
            cpu = cp_model.LinearExpr.weighted_sum(xs, [int(inst.vm_cpu_demand_mhz[v]) for v in vms])
            mem = cp_model.LinearExpr.weighted_sum(xs, [int(inst.vm_memory_mib[v]) for v in vms])
            model.add(cpu + int(cpu_fixed[h]) <= int(inst.host_cpu_mhz[h]))
            model.add(mem + int(mem_fixed[h]) <= int(np.floor(inst.host_memory_admission_mib[h])))
            if high is not None:
                dem = cp_model.LinearExpr.weighted_sum(xs, [int(inst.vm_memory_demand_mib[v]) for v in vms])
                model.add(cpu + int(cpu_fixed[h]) <= max(int(high * inst.host_cpu_mhz[h]), int(cpu_fixed[h])))
                model.add(
                    dem + int(dem_fixed[h]) <= max(int(high * inst.host_memory_mib[h]), int(dem_fixed[h]))
                )

    def _penalty(
        self,
        model: cp_model.CpModel,
        fixed: IntArray,
        assignment: IntArray,
        by_host: dict[int, list[tuple[int, cp_model.IntVar]]],
        hosts: IntArray,
    ) -> tuple[cp_model.LinearExprT | None, int, PenaltyVars]:
        """The DRS level's value for the whole cluster, with only the neighbourhood variable.

        Exact, because the level is separable by host: the hosts outside the neighbourhood add
        a constant to each resource's total before the budget is subtracted, and their peak
        overshoot a constant to the sum.
        """
        penalty_vars = PenaltyVars()
        if self.penalty is None:
            return None, 0, penalty_vars
        p = self.penalty
        fixed_loads, fixed_raw = p.loads(fixed), p.raw_loads(fixed)
        loads_now, raw_now = p.loads(assignment), p.raw_loads(assignment)
        now = p.penalty_of_loads(loads_now)
        inside = np.zeros(now.shape[1], dtype=np.bool_)
        inside[hosts] = True
        overshoots: list[cp_model.LinearExprT] = []
        for r in range(p.demand.shape[0]):
            rest = int(now[r, ~inside].sum())
            parts = []
            for h in hosts:
                if not self.on_mask[h]:
                    continue
                entries = by_host[int(h)]
                expr, over_expr = p.add_host_terms(
                    model,
                    r,
                    int(h),
                    [v for v, _ in entries],
                    [var for _, var in entries],
                    (int(fixed_loads[r, h]), int(fixed_raw[r, h])),
                    f"{r},{h}",
                    penalty_vars,
                )
                parts.append(expr)
                overshoots.append(over_expr)
            penalty_vars.excesses.append(p.add_excess(model, r, rest + sum(parts), str(r)))
        over_rest = int(p.overshoot_of_raw(raw_now)[:, ~inside].sum())
        expr = cp_model.LinearExpr.sum([*penalty_vars.excesses, *overshoots]) + over_rest
        return expr, p.value_of_loads(loads_now, raw_now), penalty_vars

    def _hint(
        self,
        model: cp_model.CpModel,
        assignment: IntArray,
        free: IntArray,
        x: list[dict[int, cp_model.IntVar]],
        penalty_vars: PenaltyVars,
    ) -> None:
        """Hint every variable with its value at ``assignment``: with the placement alone hinted,
        a quarter of the XL neighbourhoods ended within their 0.2 s without even the current
        solution back."""
        for i, v in enumerate(free):
            for h, var in x[i].items():
                model.add_hint(var, h == assignment[v])
        if self.penalty is not None:
            self.penalty.add_hints(model, assignment, penalty_vars)

    @staticmethod
    def _extract(
        solver: cp_model.CpSolver, assignment: IntArray, free: IntArray, x: list[dict[int, cp_model.IntVar]]
    ) -> IntArray:
        out = assignment.copy()
        for i, v in enumerate(free):
            for h, var in x[i].items():
                if solver.boolean_value(var):
                    out[v] = h
                    break
        return out

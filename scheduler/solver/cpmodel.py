"""The CP-SAT placement model: variables, hard constraints and one objective expression per level.

Variables
    ``x[i][h]``   free VM i runs on candidate host h at the end (exactly one per VM).
    ``on[h]``     host h is powered on at the end (a constant unless DPM decides).
    ``viol[r]``   priority-2 rule r is broken (affinity: not all on one host; anti-affinity: two
                  members share a host).
    ``g[r][h]``   affinity rule r's members all sit on host h (when r is kept).
    ``excess``    per host and measured resource, how far utilization leaves the DRS band.

Hard constraints
    capacity  Σ cpu_demand ≤ cpu_mhz·on and Σ memory_mib ≤ memory_mib·overcommit·on per host;
    DPM       with DPM on, Σ demand ≤ high_target·capacity (or the fixed load, if larger) per host,
              and Σ on ≥ min_hosts_on;
    moves     at most ``limit_moves``'s number of optional moves (``staged.py`` sets it to the
              budget plus the fewest moves capacity forces);
    symmetry  interchangeable hosts (``symmetry.py``) powered on in host order.
Compatibility, priority-1 rules and maintenance are encoded by the candidate sets themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from scheduler.model import NO_HOST, Rule, RuleKind
from scheduler.solver.balance import BalancePenalty, DrsBand, PenaltyVars
from scheduler.solver.problem import POWER_DECIDE, POWER_OFF, POWER_ON, Problem
from scheduler.solver.result import COST_UNIT, DPM_LEVEL, DRS_LEVEL
from scheduler.solver.scaling import cost_units

LinearExpr = cp_model.LinearExprT


Assignment = npt.NDArray[np.int64]
OnMask = npt.NDArray[np.bool_]


@dataclass
class LevelExpr:
    """One level's objective, with its value on any assignment computed without the solver.

    ``evaluate`` lets the staged solver keep an incumbent that is already optimal for a level
    (CP-SAT would otherwise return an arbitrary equally good solution) and fix a level at the
    incumbent's value when CP-SAT finds nothing better in time. ``hint`` completes the hint with
    the level's auxiliary variables, so that every hint is complete.
    """

    name: str
    expr: LinearExpr
    unit: str
    trivial: bool  # no variable can change it: skip the solve
    evaluate: Callable[[Assignment, OnMask], int]
    hint: Callable[[Assignment, OnMask], None] = lambda assignment, on_mask: None
    lower_bound: int = 0  # a value no solution beats: reaching it ends the level without a solve


class PlacementModel:
    """Build once, then minimize level by level (see ``staged.py``)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        inst = problem.instance
        self.model = cp_model.CpModel()
        m = self.model
        n_hosts = inst.num_hosts
        self.free = problem.free
        self.position = {int(v): i for i, v in enumerate(problem.free)}

        # -- x[i][h]: where each free VM ends ------------------------------------------------
        self.x: list[dict[int, cp_model.IntVar]] = []
        self.by_host: list[list[tuple[int, cp_model.IntVar]]] = [[] for _ in range(n_hosts)]
        for i, v in enumerate(problem.free):
            row = {int(h): m.new_bool_var(f"x[{v},{h}]") for h in problem.candidates[i]}
            m.add_exactly_one(row.values())
            self.x.append(row)
            for h, var in row.items():
                self.by_host[h].append((int(v), var))

        # -- on[h]: host power at the end ----------------------------------------------------
        self.on: list[cp_model.IntVar | int] = []
        fixed_hosts = problem.fixed_host
        holds_fixed = np.bincount(fixed_hosts[fixed_hosts != NO_HOST], minlength=n_hosts) > 0
        for h in range(n_hosts):
            if problem.power[h] == POWER_DECIDE and holds_fixed[h]:
                self.on.append(1)  # a VM without variables stays here, so the host stays on
            elif problem.power[h] == POWER_DECIDE:
                self.on.append(m.new_bool_var(f"on[{h}]"))
            else:
                self.on.append(1 if problem.power[h] == POWER_ON else 0)
        for h in range(n_hosts):
            on_h = self.on[h]
            if isinstance(on_h, int):
                continue
            for _, var in self.by_host[h]:
                m.add_implication(var, on_h)

        fixed = problem.fixed_host
        placed_fixed = fixed != NO_HOST
        self.fixed_cpu = np.bincount(fixed[placed_fixed], inst.vm_cpu_demand_mhz[placed_fixed], n_hosts)
        self.fixed_mem = np.bincount(fixed[placed_fixed], inst.vm_memory_mib[placed_fixed], n_hosts)
        self.fixed_mem_demand = np.bincount(
            fixed[placed_fixed], inst.vm_memory_demand_mib[placed_fixed], n_hosts
        )
        self._capacity()
        self._order_interchangeable_hosts()
        if problem.dpm_high is not None:
            self._dpm_targets(problem.dpm_high)
            decide = [on for on in self.on if not isinstance(on, int)]
            fixed_on = sum(1 for on in self.on if isinstance(on, int) and on == 1)
            need = inst.policy.dpm.min_hosts_on - fixed_on
            if decide and need > 0:
                m.add(sum(decide) >= min(need, len(decide)))
        self.max_migrations: int | None = None

    # -- helpers ------------------------------------------------------------------------------

    def x_of(self, v: int, h: int) -> cp_model.IntVar | int:
        """x for any VM: the variable for a free VM, a 0/1 constant for a fixed one."""
        i = self.position.get(v)
        if i is None:
            return 1 if self.problem.instance.current_host[v] == h else 0
        return self.x[i].get(h, 0)

    def hosts_of(self, v: int) -> Sequence[int]:
        i = self.position.get(v)
        if i is None:
            cur = int(self.problem.instance.current_host[v])
            return [cur] if cur != NO_HOST else []
        return list(self.x[i])

    def _capacity(self) -> None:
        inst = self.problem.instance
        cpu_cap = inst.host_cpu_mhz
        mem_cap = np.floor(inst.host_memory_admission_mib).astype(np.int64)
        for h, terms in enumerate(self.by_host):
            if not terms:
                continue
            vms = np.array([v for v, _ in terms])
            xs = [var for _, var in terms]
            cpu = _dot(inst.vm_cpu_demand_mhz[vms], xs)
            mem = _dot(inst.vm_memory_mib[vms], xs)
            self.model.add(cpu + int(self.fixed_cpu[h]) <= int(cpu_cap[h]) * self.on[h])
            self.model.add(mem + int(self.fixed_mem[h]) <= int(mem_cap[h]) * self.on[h])

    def _order_interchangeable_hosts(self) -> None:
        """One arrangement per class of interchangeable hosts (``symmetry.py``): powered-on hosts
        first. Any solution can be rearranged so, hence no level loses a solution."""
        for hosts in self.problem.interchangeable:
            for a, b in pairwise(int(h) for h in hosts):
                on_a, on_b = self.on[a], self.on[b]
                if not (isinstance(on_a, int) and isinstance(on_b, int)):
                    self.model.add(on_a >= on_b)

    def _dpm_targets(self, high: float) -> None:
        """Every powered-on host stays within the DPM high target (or its immovable load, if above)."""
        inst = self.problem.instance
        for h, terms in enumerate(self.by_host):
            if not terms:
                continue
            vms = np.array([v for v, _ in terms])
            xs = [var for _, var in terms]
            cpu_limit = max(math.floor(high * inst.host_cpu_mhz[h]), int(self.fixed_cpu[h]))
            mem_limit = max(math.floor(high * inst.host_memory_mib[h]), int(self.fixed_mem_demand[h]))
            cpu = _dot(inst.vm_cpu_demand_mhz[vms], xs) + int(self.fixed_cpu[h])
            mem = _dot(inst.vm_memory_demand_mib[vms], xs) + int(self.fixed_mem_demand[h])
            self.model.add(cpu <= cpu_limit)
            self.model.add(mem <= mem_limit)

    def _away(self, i: int, host: int) -> LinearExpr:
        """1 when free VM ``i`` ends anywhere but ``host`` (1 − x[i, host]; 1 if not a candidate)."""
        var = self.x[i].get(host)
        return 1 - var if var is not None else 1

    def optional_moves(self) -> LinearExpr:
        """How many placed VMs that need not move do move (evacuations and priority-1 repairs,
        ``Problem.mandatory``, are not counted)."""
        current = self.problem.instance.current_host
        return sum(
            self._away(i, int(current[v]))
            for i, v in enumerate(self.free)
            if current[v] != NO_HOST and not self.problem.mandatory[v]
        )

    def count_optional_moves(self, assignment: Assignment) -> int:
        """``optional_moves`` of an assignment, without the solver."""
        p = self.problem
        current = p.instance.current_host
        return int(((current != NO_HOST) & ~p.mandatory & (assignment != current)).sum())

    def limit_moves(self, most: int) -> None:
        """At most ``most`` optional moves, in the model and in ``is_feasible``."""
        self.max_migrations = most
        moves = self.optional_moves()
        if not isinstance(moves, int):  # no VM that need not move has a choice: nothing to limit
            self.model.add(moves <= most)

    # -- level objectives ---------------------------------------------------------------------

    def priority2_level(self) -> LevelExpr:
        """Number of broken affinity / anti-affinity rules."""
        inst = self.problem.instance
        m = self.model
        terms: list[LinearExpr] = []
        rules: list[tuple[Rule, list[int]]] = []
        derived: list[tuple[Rule, list[int], cp_model.IntVar, dict[int, cp_model.IntVar]]] = []
        for rule in inst.rules:
            if rule.priority != 2:
                continue
            members = [inst.vm_index[n] for n in rule.vms]
            rules.append((rule, members))
            if not any(v in self.position for v in members):
                continue  # constant: counted by evaluate()
            viol = m.new_bool_var(f"viol[{rule.name}]")
            hosts_union = sorted({h for v in members for h in self.hosts_of(v)})
            g: dict[int, cp_model.IntVar] = {}
            if rule.kind is RuleKind.AFFINITY:
                g = {h: m.new_bool_var(f"g[{rule.name},{h}]") for h in hosts_union}
                m.add_exactly_one(g.values())
                for v in members:
                    for h in hosts_union:
                        m.add(self.x_of(v, h) == g[h]).only_enforce_if(~viol)
            else:
                for h in hosts_union:
                    on_h = [self.x_of(v, h) for v in members]
                    if all(isinstance(t, int) for t in on_h):
                        continue
                    m.add(sum(on_h) <= 1).only_enforce_if(~viol)
            derived.append((rule, members, viol, g))
            terms.append(viol)

        def evaluate(assignment: Assignment, on_mask: OnMask) -> int:
            return sum(int(_broken(rule, assignment[members])) for rule, members in rules)

        def hint(assignment: Assignment, on_mask: OnMask) -> None:
            for rule, members, viol, g in derived:
                broken = _broken(rule, assignment[members])
                m.add_hint(viol, broken)
                if g:
                    common = int(assignment[members[0]])
                    chosen = common if common in g and not broken else next(iter(g))
                    for h, var in g.items():
                        m.add_hint(var, h == chosen)

        expr = sum(terms) + sum(
            int(_broken(rule, self.problem.fixed_host[members]))
            for rule, members in rules
            if not any(v in self.position for v in members)
        )
        return LevelExpr("priority-2 rules", expr, "rules broken", not terms, evaluate, hint)

    def dpm_level(self) -> LevelExpr:
        """Hosts powered on (DPM: fewest hosts within the high target)."""
        decide = [on for on in self.on if not isinstance(on, int)]
        constant = sum(on for on in self.on if isinstance(on, int))

        def evaluate(assignment: Assignment, on_mask: OnMask) -> int:
            return int(on_mask.sum())

        min_hosts_on = int(self.problem.instance.policy.dpm.min_hosts_on)
        bound = max(constant, min_hosts_on, self.problem.dpm_hosts_bound)
        return LevelExpr(DPM_LEVEL, sum(decide) + constant, "hosts", not decide, evaluate, lower_bound=bound)

    def priority3_level(self) -> LevelExpr:
        """Number of (VM, should / should_not rule) pairs broken."""
        inst = self.problem.instance
        terms: list[LinearExpr] = []
        constant = 0
        pairs: list[tuple[int, npt.NDArray[np.int64], bool]] = []  # (vm, rule hosts, wants them)
        for rule in inst.rules:
            if rule.priority != 3:
                continue
            rule_hosts = {inst.host_index[h] for h in rule.hosts}
            hosts_arr = np.array(sorted(rule_hosts), dtype=np.int64)
            for name in rule.vms:
                v = inst.vm_index[name]
                pairs.append((v, hosts_arr, rule.wants_hosts))
                inside = [self.x_of(v, h) for h in self.hosts_of(v) if h in rule_hosts]
                if any(not isinstance(t, int) for t in inside):
                    sat: LinearExpr = sum(inside) if rule.wants_hosts else 1 - sum(inside)
                    terms.append(1 - sat)
                else:
                    cur = int(self.problem.fixed_host[v])
                    constant += int(cur != NO_HOST and (cur in rule_hosts) != rule.wants_hosts)

        def evaluate(assignment: Assignment, on_mask: OnMask) -> int:
            return sum(
                int(assignment[v] != NO_HOST and bool(np.isin(assignment[v], hosts)) != wants)
                for v, hosts, wants in pairs
            )

        return LevelExpr(
            "priority-3 rules", sum(terms) + constant, "VM-rule pairs broken", not terms, evaluate
        )

    def drs_level(self, on_mask: OnMask, band: DrsBand) -> LevelExpr:
        """DRS: variance beyond the threshold's tolerance, Σ_r max(0, Σ_h f − B_r) (``balance.py``)."""
        inst = self.problem.instance
        m = self.model
        penalty = BalancePenalty.build(inst, self.problem.resources, on_mask, band)
        fixed_host = self.problem.fixed_host
        placed_fixed = fixed_host != NO_HOST
        overshoots: list[LinearExpr] = []
        variables = PenaltyVars()
        for r, resource in enumerate(self.problem.resources):
            s_demand, raw_demand = penalty.demand[r], penalty.raw_demand[r]
            s_fixed = np.bincount(fixed_host[placed_fixed], s_demand[placed_fixed], inst.num_hosts)
            raw_fixed = np.bincount(fixed_host[placed_fixed], raw_demand[placed_fixed], inst.num_hosts)
            per_host: list[LinearExpr] = []
            for h in np.flatnonzero(on_mask):
                terms_h = self.by_host[h]
                expr, over_expr = penalty.add_host_terms(
                    m,
                    r,
                    int(h),
                    [v for v, _ in terms_h],
                    [var for _, var in terms_h],
                    (int(s_fixed[h]), int(raw_fixed[h])),
                    f"{resource},{h}",
                    variables,
                )
                per_host.append(expr)
                overshoots.append(over_expr)
            variables.excesses.append(penalty.add_excess(m, r, sum(per_host), resource))

        def evaluate(assignment: Assignment, on_mask: OnMask) -> int:
            return penalty.excess(assignment)

        def hint(assignment: Assignment, on_mask: OnMask) -> None:
            penalty.add_hints(m, assignment, variables)

        return LevelExpr(
            DRS_LEVEL,
            cp_model.LinearExpr.sum([*variables.excesses, *overshoots]),
            "variance units beyond tolerance",
            not variables.deviations,
            evaluate,
            hint,
        )

    def cost_level(self) -> LevelExpr:
        """Σ estimated migration seconds of the moves (in ``scaling.COST_SCALE`` units)."""
        inst = self.problem.instance
        units = cost_units(self.problem.cost_s)
        terms: list[LinearExpr] = []
        for i, v in enumerate(self.free):
            cur = int(inst.current_host[v])
            if cur == NO_HOST:
                continue
            terms.append(int(units[v]) * self._away(i, cur))
        placed = inst.current_host != NO_HOST

        def evaluate(assignment: Assignment, on_mask: OnMask) -> int:
            moved = placed & (assignment != inst.current_host)
            return int(units[moved].sum())

        return LevelExpr("migration cost", sum(terms), COST_UNIT, not terms, evaluate)

    # -- hints and extraction -----------------------------------------------------------------

    def hint(self, assignment: np.ndarray, on_mask: np.ndarray, levels: Sequence[LevelExpr] = ()) -> None:
        """Hint every variable: x, on and each level's auxiliaries (CP-SAT treats complete hints best)."""
        m = self.model
        m.clear_hints()
        for level in levels:
            level.hint(assignment, on_mask)
        for i, v in enumerate(self.free):
            target = int(assignment[v])
            for h, var in self.x[i].items():
                m.add_hint(var, h == target)
        for h, on in enumerate(self.on):
            if not isinstance(on, int):
                m.add_hint(on, bool(on_mask[h]))

    def extract(self, solver: cp_model.CpSolver) -> tuple[np.ndarray, np.ndarray]:
        """The assignment and power vector of the solver's current best solution."""
        assignment = self.problem.fixed_host.copy()
        for i, v in enumerate(self.free):
            for h, var in self.x[i].items():
                if solver.boolean_value(var):
                    assignment[v] = h
                    break
        on_mask = np.array(
            [bool(on) if isinstance(on, int) else solver.boolean_value(on) for on in self.on],
            dtype=np.bool_,
        )
        return assignment, on_mask

    def changes_from(self, assignment: Assignment) -> tuple[LinearExpr, int]:
        """Number of free VMs placed elsewhere than in ``assignment``, and its largest value."""
        terms = [self._away(i, int(assignment[v])) for i, v in enumerate(self.free)]
        return sum(terms), len(terms)

    def is_feasible(self, assignment: Assignment, on_mask: OnMask) -> bool:
        """Whether an assignment satisfies the hard constraints of this model (no solver involved)."""
        p = self.problem
        inst = p.instance
        for i, v in enumerate(self.free):
            if int(assignment[v]) not in self.x[i]:
                return False
        for h, on in enumerate(self.on):
            if isinstance(on, int) and bool(on) != bool(on_mask[h]):
                return False
        placed = assignment != NO_HOST
        hosts = assignment[placed]
        n = inst.num_hosts
        cpu = np.bincount(hosts, inst.vm_cpu_demand_mhz[placed], n)
        mem = np.bincount(hosts, inst.vm_memory_mib[placed], n)
        on_f = on_mask.astype(np.float64)
        if np.any(cpu > inst.host_cpu_mhz * on_f) or np.any(
            mem > np.floor(inst.host_memory_admission_mib) * on_f
        ):
            return False
        if p.dpm_high is not None:
            mem_demand = np.bincount(hosts, inst.vm_memory_demand_mib[placed], n)
            cpu_limit = np.maximum(np.floor(p.dpm_high * inst.host_cpu_mhz), self.fixed_cpu)
            mem_limit = np.maximum(np.floor(p.dpm_high * inst.host_memory_mib), self.fixed_mem_demand)
            if np.any(cpu > cpu_limit) or np.any(mem_demand > mem_limit):
                return False
            need = min(inst.policy.dpm.min_hosts_on, int((p.power != POWER_OFF).sum()))
            if int(on_mask.sum()) < need:
                return False
        return self.max_migrations is None or self.count_optional_moves(assignment) <= self.max_migrations

    def fix_power(self, on_mask: np.ndarray) -> None:
        for h, on in enumerate(self.on):
            if not isinstance(on, int):
                self.model.add(on == int(bool(on_mask[h])))


def _dot(coefficients: np.ndarray, variables: Sequence[cp_model.IntVar]) -> LinearExpr:
    return cp_model.LinearExpr.weighted_sum(variables, [int(c) for c in coefficients])


__all__ = ["POWER_ON", "LevelExpr", "PlacementModel"]


def _broken(rule: Rule, hosts: npt.NDArray[np.int64]) -> bool:
    """Whether a priority-2 rule is broken by its members' hosts (unplaced members ignored)."""
    placed = hosts[hosts != NO_HOST]
    if rule.kind is RuleKind.AFFINITY:
        return len(np.unique(placed)) > 1
    return len(np.unique(placed)) < len(placed)

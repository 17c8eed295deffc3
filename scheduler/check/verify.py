"""Verify a whole plan document against its inventory: what ``scheduler verify`` runs.

A feasible plan (optimal / feasible / unchanged) is replayed event by event and its final state
checked (``replay_plan``); its migrations are re-simulated on the shared links, and each must end,
converge, pause and send as the plan says (``timing_findings``). Besides, ``violations`` must
list exactly the priority-2/3 rules the final placement breaks (docs/optimizer.md: each one left
is reported), and an ``unchanged`` plan has no actions. An infeasible plan has no placement to
check: it must carry a non-empty ``conflicts`` list whose rules, hosts and VMs all exist. Either
way the plan names the inventory's cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scheduler.check.findings import (
    CONFLICTS_EMPTY,
    PLAN_CLUSTER,
    PLAN_FORMAT,
    PLAN_STATUS,
    UNKNOWN_HOST,
    UNKNOWN_RULE,
    UNKNOWN_VM,
    VIOLATION_ENTRY,
    VIOLATION_SPURIOUS,
    VIOLATION_UNREPORTED,
    Finding,
)
from scheduler.check.replay import replay_plan
from scheduler.check.rules import check_rule
from scheduler.check.timing import timing_findings
from scheduler.compat import Compatibility, compatibility
from scheduler.model import PLAN_FORMAT as FORMAT_NAME
from scheduler.model import Instance, Plan, PlanStatus


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """The verdict on a plan: valid exactly when there is no finding."""

    valid: bool
    findings: list[Finding] = field(default_factory=list)
    timing_checked: bool = True  # whether the migrations were re-simulated (``timing_findings``)

    def codes(self) -> list[str]:
        """The finding codes, in order (handy in tests and summaries)."""
        return [f.code for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "valid": self.valid,
            "timing_checked": self.timing_checked,
            "findings": [f.to_dict() for f in self.findings],
        }

    def __str__(self) -> str:
        if self.valid:
            return "plan is valid"
        lines = [f"plan is invalid: {len(self.findings)} finding(s)"]
        lines.extend(f"  {f}" for f in self.findings)
        return "\n".join(lines)


def verify_plan(
    instance: Instance, plan: Plan, compat: Compatibility | None = None, *, timing: bool = True
) -> VerificationReport:
    """Every way ``plan`` breaks the contract for ``instance`` (see the module docstring).

    ``timing=False`` leaves out the re-simulation of the migrations (``timing_findings``) and takes
    each move's estimate as given: for plans timed by another migration model, and for plans
    whose times are set by hand to exercise the replay."""
    findings: list[Finding] = []
    if plan.format != FORMAT_NAME:
        findings.append(Finding(PLAN_FORMAT, f"plan format {plan.format!r}, expected {FORMAT_NAME!r}"))
    if plan.cluster != instance.name:
        # Another cluster's plan may replay cleanly where the names happen to match: say so.
        msg = f"plan is for cluster {plan.cluster!r}, the inventory is cluster {instance.name!r}"
        findings.append(Finding(PLAN_CLUSTER, msg))
    if plan.status is PlanStatus.INFEASIBLE:
        findings.extend(_conflict_findings(instance, plan))
        findings.extend(_infeasible_content(plan))
        # Nothing is replayed, so no timing was checked either, whatever was asked.
        return VerificationReport(not findings, findings, False)
    if plan.status is PlanStatus.UNCHANGED and (plan.migrations or plan.power_actions):
        msg = (
            f"status unchanged but the plan has {len(plan.migrations)} migration(s) "
            f"and {len(plan.power_actions)} power action(s)"
        )
        findings.append(Finding(PLAN_STATUS, msg))
    compat = compat if compat is not None else compatibility(instance)
    findings.extend(replay_plan(instance, plan, compat))
    if timing:
        findings.extend(timing_findings(instance, plan))
    findings.extend(_violation_findings(instance, plan))
    return VerificationReport(not findings, findings, timing)


def _infeasible_content(plan: Plan) -> list[Finding]:
    """An infeasible plan has nothing to execute (docs/plan.md): a placement, moves, power actions
    or violations in one would be carried out by a script that trusts the verdict."""
    found = {
        "placement(s)": len(plan.placement),
        "migration(s)": len(plan.migrations),
        "power action(s)": len(plan.power_actions),
        "violation(s)": len(plan.violations),
    }
    listed = ", ".join(f"{n} {what}" for what, n in found.items() if n)
    if not listed:
        return []
    return [
        Finding(
            PLAN_STATUS,
            f"status infeasible but the plan has {listed}: an infeasible plan has nothing to execute",
        )
    ]


def _conflict_findings(instance: Instance, plan: Plan) -> list[Finding]:
    """An infeasible plan names at least one conflict, and only known rules, hosts and VMs."""
    if not plan.conflicts:
        return [Finding(CONFLICTS_EMPTY, "status infeasible but the plan names no conflict")]
    out: list[Finding] = []
    for c in plan.conflicts:
        for r in c.rules:
            if r not in instance.rule_index:
                out.append(Finding(UNKNOWN_RULE, f"conflict {c.name} names unknown rule {r}", rule=r))
        for h in c.hosts:
            if h not in instance.host_index:
                out.append(Finding(UNKNOWN_HOST, f"conflict {c.name} names unknown host {h}", host=h))
        for v in c.vms:
            if v not in instance.vm_index:
                out.append(Finding(UNKNOWN_VM, f"conflict {c.name} names unknown VM {v}", vm=v))
    return out


def _violation_findings(instance: Instance, plan: Plan) -> list[Finding]:
    """``plan.violations`` lists exactly the priority-2/3 rules broken in the final placement.

    Priority-1 rules are never violations (a broken one is a ``rule.p1`` finding of the replay).
    """
    out: list[Finding] = []
    listed = {v.rule for v in plan.violations}
    for name in sorted(listed):
        if name not in instance.rule_index:
            out.append(Finding(UNKNOWN_RULE, f"violations name unknown rule {name}", rule=name))
    out += _violation_entry_findings(instance, plan)
    for rule in instance.rules:
        if rule.is_hard:
            if rule.name in listed:
                msg = f"violations list priority-1 rule {rule.name}, which a plan never breaks"
                out.append(Finding(VIOLATION_SPURIOUS, msg, rule=rule.name))
            continue
        status = check_rule(rule, plan.placement)
        if not status.satisfied and rule.name not in listed:
            msg = (
                f"priority-{rule.priority} rule {rule.name} is broken but not in violations: {status.detail}"
            )
            out.append(Finding(VIOLATION_UNREPORTED, msg, rule=rule.name))
        elif status.satisfied and rule.name in listed:
            msg = f"violations list rule {rule.name}, which the final placement satisfies"
            out.append(Finding(VIOLATION_SPURIOUS, msg, rule=rule.name))
    return out


def _violation_entry_findings(instance: Instance, plan: Plan) -> list[Finding]:
    """Each entry of ``plan.violations`` describes its rule: listed once, with the rule's
    priority, naming only VMs of the inventory that belong to the rule."""
    out: list[Finding] = []
    seen: set[str] = set()
    for entry in plan.violations:
        if entry.rule in seen:
            out.append(Finding(VIOLATION_ENTRY, f"violations list rule {entry.rule} twice", rule=entry.rule))
        seen.add(entry.rule)
        index = instance.rule_index.get(entry.rule)
        if index is None:
            continue  # an unknown rule, reported above
        rule = instance.rules[index]
        if entry.priority != rule.priority:
            msg = (
                f"violations give rule {rule.name} priority {entry.priority}; it has priority {rule.priority}"
            )
            out.append(Finding(VIOLATION_ENTRY, msg, rule=rule.name))
        for vm in entry.vms:
            if vm not in instance.vm_index:
                out.append(Finding(UNKNOWN_VM, f"violation of {rule.name} names unknown VM {vm}", vm=vm))
            elif vm not in rule.vms:
                msg = f"violation of {rule.name} names VM {vm}, which the rule does not hold"
                out.append(Finding(VIOLATION_ENTRY, msg, rule=rule.name, vm=vm))
    return out

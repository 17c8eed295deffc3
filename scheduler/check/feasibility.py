"""The final-state check: is a placement with host power states a valid end of a plan?

Hard requirements only (docs/optimizer.md, "never broken"): every VM on a known host that is up,
capacity, compatibility of every VM that moved, priority-1 rules, immobile VMs unmoved,
maintenance hosts emptied, valid host-state transitions, and ``min_hosts_on`` when DPM is enabled.
Priority-2/3 rules and balance are objectives, not requirements: see ``rules`` and ``metrics``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scheduler.check.capacity import capacity_findings, host_loads, placement_indices
from scheduler.check.findings import (
    COMPAT,
    DPM_MIN_HOSTS_ON,
    HOST_DOWN,
    HOST_STATE,
    HOST_STATES_MISSING,
    IMMOBILE,
    MAINTENANCE,
    PLACEMENT_MISSING,
    POWER_OFF_NOT_EMPTY,
    RULE_P1,
    UNKNOWN_HOST,
    UNKNOWN_VM,
    Finding,
)
from scheduler.check.rules import check_rule
from scheduler.compat import HOST_STATE as EXCL_HOST_STATE
from scheduler.compat import RULE_P1 as EXCL_RULE_P1
from scheduler.compat import Compatibility, compatibility
from scheduler.model import NO_HOST, HostState, Instance
from scheduler.model.instance import IntArray

# Final host state each inventory state may reach. A host goes up <-> standby only (DPM, or a
# power-on for capacity); maintenance and down hosts keep their state: the plan empties a
# maintenance host but does not end maintenance, and a down host cannot be used.
ALLOWED_TRANSITIONS: Mapping[HostState, frozenset[HostState]] = {
    HostState.UP: frozenset({HostState.UP, HostState.STANDBY}),
    HostState.STANDBY: frozenset({HostState.STANDBY, HostState.UP}),
    HostState.MAINTENANCE: frozenset({HostState.MAINTENANCE}),
    HostState.DOWN: frozenset({HostState.DOWN}),
}

_MAX_NAMED = 5  # VMs named in one message before "and N more"


def check_placement(
    instance: Instance,
    placement: Mapping[str, str],
    host_states: Mapping[str, str],
    compat: Compatibility | None = None,
) -> list[Finding]:
    """Every hard requirement the final state (``placement``, ``host_states``) breaks.

    Compatibility is checked only for VMs whose host changed (and new VMs): a VM that stays
    where it runs is allowed to stay even where a migration there would be refused, exactly as
    ``compat`` documents; staying on a maintenance / down host and priority-1 rules are checked
    for every VM regardless. An immobile VM that moved gets an ``immobile`` finding instead of
    ``compat``.
    """
    compat = compat if compat is not None else compatibility(instance)
    out: list[Finding] = []
    out.extend(_name_findings(instance, placement, host_states))
    final_state = _final_states(instance, host_states, out)

    host_of_vm = placement_indices(instance, placement)
    loads = host_loads(instance, host_of_vm)

    # Hosts that are not up hold nothing.
    for i, h in enumerate(instance.hosts):
        state = final_state[i]
        if state is HostState.UP or loads.num_vms[i] == 0:
            continue
        vms = [instance.vms[k].name for k in np.flatnonzero(host_of_vm == i)]
        named = _names(vms)
        if state is HostState.MAINTENANCE:
            out.append(Finding(MAINTENANCE, f"maintenance host {h.name} still holds {named}", host=h.name))
        elif state is HostState.DOWN:
            out.append(Finding(HOST_DOWN, f"down host {h.name} holds {named}", host=h.name))
        else:
            out.append(Finding(POWER_OFF_NOT_EMPTY, f"powered-off host {h.name} holds {named}", host=h.name))

    out.extend(capacity_findings(instance, loads))
    out.extend(_moved_vm_findings(instance, compat, host_of_vm))

    for rule in instance.rules:
        if not rule.is_hard:
            continue
        status = check_rule(rule, placement)
        if not status.satisfied:
            out.append(
                Finding(
                    RULE_P1,
                    f"priority-1 rule {rule.name} broken: {status.detail}",
                    rule=rule.name,
                    vm=status.violating_vms[0] if status.violating_vms else None,
                )
            )

    dpm = instance.policy.dpm
    if dpm.enabled:
        up = sum(1 for s in final_state if s is HostState.UP)
        usable = sum(1 for h in instance.hosts if h.is_usable)
        need = min(dpm.min_hosts_on, usable)
        if up < need:
            out.append(Finding(DPM_MIN_HOSTS_ON, f"{up} host(s) up, DPM keeps at least {need}"))
    return out


def _name_findings(
    instance: Instance, placement: Mapping[str, str], host_states: Mapping[str, str]
) -> list[Finding]:
    """Unknown and missing names in the placement and host-state maps."""
    out: list[Finding] = []
    for vm, host in placement.items():
        if vm not in instance.vm_index:
            out.append(Finding(UNKNOWN_VM, f"placement names unknown VM {vm}", vm=vm))
        elif host not in instance.host_index:
            out.append(Finding(UNKNOWN_HOST, f"placement puts {vm} on unknown host {host}", vm=vm, host=host))
    for v in instance.vms:
        if v.name not in placement:
            out.append(Finding(PLACEMENT_MISSING, f"placement does not name VM {v.name}", vm=v.name))
    for host in host_states:
        if host not in instance.host_index:
            out.append(Finding(UNKNOWN_HOST, f"host_states names unknown host {host}", host=host))
    for h in instance.hosts:
        if h.name not in host_states:
            out.append(Finding(HOST_STATES_MISSING, f"host_states does not name host {h.name}", host=h.name))
    return out


def _final_states(instance: Instance, host_states: Mapping[str, str], out: list[Finding]) -> list[HostState]:
    """Each host's final state, checking values and transitions (invalid ones keep the initial state)."""
    valid = {s.value for s in HostState}
    states: list[HostState] = []
    for h in instance.hosts:
        raw = host_states.get(h.name)
        if raw is None:
            states.append(h.state)
            continue
        if raw not in valid:
            out.append(Finding(HOST_STATE, f"host {h.name}: unknown state {raw!r}", host=h.name))
            states.append(h.state)
            continue
        state = HostState(raw)
        if state not in ALLOWED_TRANSITIONS[h.state]:
            message = f"host {h.name}: cannot go from {h.state.value} to {state.value}"
            if state is HostState.MAINTENANCE:
                # The likely cause: a what-if plan checked against the inventory it started from.
                message += " (a plan made with --maintenance is verified with the same flag)"
            out.append(Finding(HOST_STATE, message, host=h.name))
        states.append(state)
    return states


def _moved_vm_findings(instance: Instance, compat: Compatibility, host_of_vm: IntArray) -> list[Finding]:
    """Immobile VMs that moved, and moved or new VMs on hosts compatibility excludes."""
    out: list[Finding] = []
    current = instance.current_host
    moved = (host_of_vm != current) & (host_of_vm != NO_HOST)
    idx = np.flatnonzero(moved)
    ok = compat.allowed[idx, host_of_vm[idx]]
    for k in idx[~ok]:
        v = instance.vms[k]
        host = instance.hosts[host_of_vm[k]].name
        immobile = v.immobility_reasons()
        if v.host is not None and immobile:
            out.append(
                Finding(
                    IMMOBILE, f"{v.name} moved from {v.host} to {host} but {'; '.join(immobile)}", vm=v.name
                )
            )
            continue
        # State and priority-1 exclusions have their own findings above; report the rest here.
        msgs = [
            e.message for e in compat.explain(v.name, host) if e.code not in (EXCL_HOST_STATE, EXCL_RULE_P1)
        ]
        if msgs:
            out.append(
                Finding(COMPAT, f"{v.name} cannot be on {host}: {'; '.join(msgs)}", vm=v.name, host=host)
            )
    return out


def _names(vms: list[str]) -> str:
    """A short list of VM names for a message."""
    head = ", ".join(vms[:_MAX_NAMED])
    more = len(vms) - _MAX_NAMED
    return f"{len(vms)} VM(s): {head}" + (f" and {more} more" if more > 0 else "")

"""The CLI's what-if flags applied to an inventory: hosts put in maintenance, DRS threshold and
measure, DPM on or off.

Why a module of its own: ``verify``, ``schedule`` and ``report`` apply ``--maintenance`` too, and
none of them runs the solver, which ``pipeline`` loads.
"""

from __future__ import annotations

from dataclasses import replace

from scheduler.errors import InputError, Problem
from scheduler.model import HostState, Instance


def with_what_if(
    instance: Instance,
    *,
    maintenance: tuple[str, ...] = (),
    threshold: int | None = None,
    dpm: bool | None = None,
    measure: str | None = None,
) -> Instance:
    """Apply the CLI's what-if flags: hosts put in maintenance, DRS threshold/measure, DPM on/off."""
    from scheduler.model import Measure

    problems = [
        Problem("command line", "", "--maintenance", f"unknown host {name!r}")
        for name in maintenance
        if name not in instance.host_index
    ]
    if threshold is not None and not 1 <= threshold <= 5:
        problems.append(Problem("command line", "", "--threshold", f"must be 1..5, got {threshold}"))
    if problems:
        raise InputError(problems)
    hosts = tuple(
        replace(h, state=HostState.MAINTENANCE) if h.name in maintenance else h for h in instance.hosts
    )
    policy = instance.policy
    drs = policy.drs
    if threshold is not None:
        drs = replace(drs, threshold=threshold)
    if measure is not None:
        drs = replace(drs, measure=Measure(measure))
    dpm_policy = replace(policy.dpm, enabled=dpm) if dpm is not None else policy.dpm
    return replace(instance, hosts=hosts, policy=replace(policy, drs=drs, dpm=dpm_policy))


__all__ = ["with_what_if"]

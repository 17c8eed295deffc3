"""The public entry points: run the steps in order (hosts, VMs, rules, witness, initial placement,
build), for one cluster or for the independent clusters of a data centre."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from scheduler.model import Instance
from scheduler.synth.build import build
from scheduler.synth.hosts import draw_hosts
from scheduler.synth.placement import initial_placement
from scheduler.synth.rules import draw_rules
from scheduler.synth.spec import SpecError, SynthSpec
from scheduler.synth.vms import draw_vms
from scheduler.synth.witness import witness_with_overcommit


def synthesize(spec: SynthSpec) -> Instance:
    """A synthetic cluster for ``spec``; equal specs give equal instances."""
    return synthesize_with_witness(spec)[0]


def synthesize_with_witness(spec: SynthSpec) -> tuple[Instance, dict[str, str]]:
    """The cluster and a witness: a placement of every VM that meets every hard and soft rule.

    The witness proves the instance solvable (maintenance hosts empty, capacity, compatibility
    from each VM's initial host, every rule); tests check it, benchmarks may use it as a bound.
    """
    rng = np.random.default_rng(spec.seed)
    hosts = draw_hosts(spec, rng)
    vms = draw_vms(spec, hosts, rng)
    rules, host_groups = draw_rules(spec, hosts, vms, rng)
    overcommit, witness = witness_with_overcommit(spec, hosts, vms, rules, host_groups)
    initial = initial_placement(spec, hosts, vms, rules, host_groups, witness, overcommit, rng)
    return build(spec, hosts, vms, rules, host_groups, overcommit, initial, witness)


def synthesize_datacenter(
    clusters: int,
    hosts_per_cluster: int,
    vms_per_cluster: int,
    seed: int,
    *,
    template: SynthSpec | None = None,
) -> list[Instance]:
    """Independent clusters ``cluster-00``, ``cluster-01``, ... for the data-centre family.

    Each cluster gets its own seed (spawned from ``seed``) and a name prefix (``c00-``) so that no
    host or VM name repeats across the data centre; ``template`` sets the other spec fields.
    """
    if clusters < 1:
        raise SpecError([("clusters", f"must be at least 1, got {clusters}")])
    if seed < 0:
        raise SpecError([("seed", f"must be at least 0, got {seed}")])
    base = template if template is not None else SynthSpec()
    children = np.random.SeedSequence(seed).spawn(clusters)
    width = max(2, len(str(clusters - 1)))
    instances: list[Instance] = []
    for index, child in enumerate(children):
        tag = f"{index:0{width}d}"
        spec = replace(
            base,
            hosts=hosts_per_cluster,
            vms=vms_per_cluster,
            seed=int(child.generate_state(1, dtype=np.uint32)[0]),
            name=f"cluster-{tag}",
            name_prefix=f"c{tag}-",
        )
        instances.append(synthesize(spec))
    return instances

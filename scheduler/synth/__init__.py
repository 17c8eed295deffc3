"""Seeded synthetic clusters: realistic sizes and load, skewed but feasible placement, every rule kind.

Benchmarks and tests need clusters of any size that look like real ones and that the optimizer can
solve. ``synthesize`` builds one from a ``SynthSpec``; the same spec always gives an equal instance.

How a cluster is built, and why it is always solvable:

1. Hosts: two-socket shapes from a real fleet, grouped into CPU generations (the older ones a
   minority, an "older island") and optionally a second vendor; most datastores and DVS networks
   are seen by every host, a local datastore only by an island of hosts and a DMZ network only by
   some ("incompatibility islands").
2. VMs: sizes from the Azure VM size mix, CPU demand from the Azure CPU-utilization distribution
   scaled so the cluster's mean CPU utilization equals ``load``, memory demand and dirty rate from
   documented models.
3. Rules: every kind (affinity, anti-affinity, VM-to-host must / must_not / should / should_not),
   on disjoint sets of VMs, with group sizes from the Azure tenant batch sizes.
4. A *witness* placement: every VM (new ones included) on a host that is up, within capacity,
   on hosts that see its datastores and networks, with every rule of every priority satisfied.
   It is built greedily (worst fit, largest first), restricted VMs first; a rule that cannot be
   honoured there is dropped rather than shipped unsatisfiable. It proves the instance solvable.
5. The initial placement is the witness, perturbed by moves whose reverse is a legal migration
   (same vendor, target generation at least the source's, datastores and networks seen):
   maintenance hosts are filled (they must be evacuated), hot hosts are filled (``hotspots``) or a
   host back from maintenance is emptied (``after_maintenance``), about 15 % of anti-affinity
   rules get two members on one host and about 25 % of should / should_not rules get one member
   on the wrong side. Priority-1 rules, affinity rules and immobile VMs are never perturbed, so
   every priority-1 rule holds initially and every affinity group starts together.

``synthesize_with_witness`` also returns the witness, so tests and benchmarks can check it.

Steps 1-5 are the modules ``hosts``, ``vms``, ``rules``, ``witness`` and ``placement``; ``build``
turns their columns into the model's dataclasses and ``generate`` runs them in order. ``spec`` says
what to draw, ``distributions`` holds the numbers drawn from (each with its source) and ``columns``
the array types and codes the steps share.
"""

from scheduler.synth.distributions import (
    AZURE_CPU_UTILIZATION_CDF,
    AZURE_VM_SIZES,
    HOST_SHAPES_BY_AGE,
    RULES_PER_VM,
    TENANT_BATCH_SIZES,
)
from scheduler.synth.generate import synthesize, synthesize_datacenter, synthesize_with_witness
from scheduler.synth.spec import RULE_DENSITIES, SKEWS, RuleDensity, Skew, SpecError, SynthSpec, spec_problems

__all__ = [
    "AZURE_CPU_UTILIZATION_CDF",
    "AZURE_VM_SIZES",
    "HOST_SHAPES_BY_AGE",
    "RULES_PER_VM",
    "RULE_DENSITIES",
    "SKEWS",
    "TENANT_BATCH_SIZES",
    "RuleDensity",
    "Skew",
    "SpecError",
    "SynthSpec",
    "spec_problems",
    "synthesize",
    "synthesize_datacenter",
    "synthesize_with_witness",
]

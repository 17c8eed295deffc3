"""Rules: every kind and mode appears, at the spec's density."""

from __future__ import annotations

from collections import Counter

from scheduler.model import HostRuleMode, Instance, RuleKind

from .conftest import MEDIUM


def test_rule_mix_contains_every_kind_and_mode(medium: tuple[Instance, dict[str, str]]) -> None:
    """Affinity, anti-affinity and all four VM-to-host modes appear, about 3 per 100 VMs."""
    inst, _ = medium
    kinds = Counter((r.kind, r.mode) for r in inst.rules)
    assert kinds[(RuleKind.AFFINITY, None)] > 0
    assert kinds[(RuleKind.ANTI_AFFINITY, None)] > 0
    for mode in HostRuleMode:
        assert kinds[(RuleKind.VM_HOST, mode)] > 0
    assert 0.9 * 0.03 * MEDIUM.vms <= len(inst.rules) <= 1.05 * 0.03 * MEDIUM.vms

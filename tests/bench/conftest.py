"""Tiny benchmark cases shared by the bench tests: seconds to solve, every rule kind present."""

from __future__ import annotations

import pytest

from scheduler.bench.families import FamilyCase, build_instance, family_case
from scheduler.model import Instance


@pytest.fixture(scope="session")
def tiny_case() -> FamilyCase:
    """6 hosts × 40 VMs with typical rules and hot spots: every contender has work to do."""
    return family_case("S", size=(6, 40))


@pytest.fixture(scope="session")
def tiny(tiny_case: FamilyCase) -> Instance:
    return build_instance(tiny_case, 0)

"""What the greedy balancer scores: the imbalance, or its part beyond the tolerance, plus peaks."""

from __future__ import annotations

import numpy as np
import pytest

from scheduler.heuristics.spread import Spread


def test_classic_spread_sums_the_standard_deviations() -> None:
    std = np.array([[0.10, 0.02], [0.03, 0.05]])  # [resource, candidate]
    assert Spread().of(std).tolist() == pytest.approx([0.13, 0.07])


def test_spread_beyond_tolerance_ignores_what_is_within_it() -> None:
    """CPU within its 0.05 costs nothing either way: only memory's excess over 0.02 counts, so
    the second candidate (memory 0.02) wins although its CPU is worse."""
    std = np.array([[0.01, 0.04], [0.06, 0.02]])
    spread = Spread(np.array([0.05, 0.02]))
    assert spread.of(std).tolist() == pytest.approx([0.04, 0.0])


def test_overshoot_counts_what_stands_above_the_cap() -> None:
    u = np.array([[0.70, 0.60], [0.90, 0.95]])  # [resource, host]
    spread = Spread(peak_cap=np.array([0.65, np.inf]))
    assert spread.overshoot(u).tolist() == pytest.approx([0.05, 0.0])
    assert not spread.within_cap(u)
    assert Spread().within_cap(u)
    assert Spread().overshoot(u).tolist() == [0.0, 0.0]

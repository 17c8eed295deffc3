"""Greedy baselines and warm starts: DRS-style balancing, first-fit-decreasing consolidation, repair."""

"""Benchmarks: measurements that write results and assert correctness only."""

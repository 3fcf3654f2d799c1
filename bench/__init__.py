"""Benchmarks: ratios and percentiles printed by `make bench` (never asserted in tests)."""

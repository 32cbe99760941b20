"""Benchmarks and evaluation scripts (run as modules, never timed in tests)."""

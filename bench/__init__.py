"""Benchmarks: figures with a baseline measured in the same run."""

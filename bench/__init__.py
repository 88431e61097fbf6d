"""Benchmarks for civicmap: `make bench` (= `.venv/bin/python -m bench`).

Every workload runs against its baseline and its peer in the same run on the same database,
interleaved (ours, baseline, peer, ours, ...) three times; ratios are taken on the medians.
"""

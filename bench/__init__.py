"""Benchmarks; a package so that ``from bench.data import build_bench_world`` works from the repo root."""

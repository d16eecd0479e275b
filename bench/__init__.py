"""Benchmarks: `python -m bench` (or `make bench`); `BENCH_QUICK=1` for a run under a minute."""

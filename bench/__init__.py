"""Benchmarks: `python -m bench.<name>`; numbers land in bench/README.md."""

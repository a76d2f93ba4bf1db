"""Benchmarks of an island on loopback; see benchmarks/README.md. Run as `python -m benchmarks.NAME`."""

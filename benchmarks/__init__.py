"""Offline benchmarks of adhvit-hf, one module per benchmark and one runner: `python -m benchmarks.run --help`."""

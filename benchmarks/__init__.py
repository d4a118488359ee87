# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Offline benchmarks of adhvit-hf, one module per benchmark and one runner: `python -m benchmarks.run --help`."""

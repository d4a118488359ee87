# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Helpers of the test suite (imported as `helpers.X`; fixtures live in tests/conftest.py)."""

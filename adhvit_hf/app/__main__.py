# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""`python -m adhvit_hf.app`: the same as the `adhvit-app` command."""

from .cli import cli


cli()

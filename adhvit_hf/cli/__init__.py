# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The command-line programs; `scripts/*.py` and the `adhvit-*` console scripts call `cli()` of these modules."""

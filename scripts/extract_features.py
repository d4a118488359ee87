#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Per-frame ADH-ViT features and per-hand action timelines for whole (untrimmed) videos.

A thin entry point: the program is `adhvit_hf.cli`; `python scripts/extract_features.py --help` lists its flags.
"""

from adhvit_hf.cli.extract_features import cli


if __name__ == "__main__":
    cli()

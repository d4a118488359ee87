#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Turn HA-ViD's frame-wise per-hand annotations into ADH-ViT clip lists (lh/ and rh/), without re-encoding.

A thin entry point: the program is `adhvit_hf.cli`; `python scripts/prepare_havid.py --help` lists its flags.
"""

from adhvit_hf.cli.prepare_havid import cli


if __name__ == "__main__":
    cli()

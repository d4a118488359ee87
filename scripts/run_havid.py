#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Fine-tune ADH-ViT on HA-ViD-style clip lists with alternating dual-hand training.

A thin entry point: the program is `adhvit_hf.cli`; `python scripts/run_havid.py --help` lists its flags.
"""

from adhvit_hf.cli.run_havid import cli


if __name__ == "__main__":
    cli()

#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The whole ADH-ViT job on synthetic demo data, on a laptop-class CPU (`make demo`).

A thin entry point: the program is `adhvit_hf.cli`; `python scripts/demo.py --help` lists its flags.
"""

from adhvit_hf.cli.demo import cli


if __name__ == "__main__":
    cli()

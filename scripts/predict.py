#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Classify what each hand does in one or more videos with a trained ADH-ViT.

A thin entry point: the program is `adhvit_hf.cli`; `python scripts/predict.py --help` lists its flags.
"""

from adhvit_hf.cli.predict import cli


if __name__ == "__main__":
    cli()

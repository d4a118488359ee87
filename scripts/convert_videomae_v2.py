#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Convert a VideoMAE V2 `.pth` checkpoint (e.g. `vit_b_k710_dl_from_giant.pth`) into an AdhVit model folder that loads with AutoModel.

A thin entry point: the program is `adhvit_hf.cli`; `python scripts/convert_videomae_v2.py --help` lists its flags.
"""

from adhvit_hf.cli.convert import cli


if __name__ == "__main__":
    cli()

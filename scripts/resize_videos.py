#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Make a small, fast-to-decode training copy of a video folder (frame ranges stay valid).

A thin entry point: the program is `adhvit_hf.cli`; `python scripts/resize_videos.py --help` lists its flags.
"""

from adhvit_hf.cli.resize_videos import cli


if __name__ == "__main__":
    cli()

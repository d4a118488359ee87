#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Write the synthetic dual-hand demo dataset (HA-ViD list layout) used by `make demo` and the tests.

A thin entry point: the program is `adhvit_hf.cli`; `python scripts/make_demo_data.py --help` lists its flags.
"""

from adhvit_hf.cli.make_demo_data import cli


if __name__ == "__main__":
    cli()

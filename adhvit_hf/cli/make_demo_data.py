#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Write the synthetic dual-hand demo dataset (HA-ViD list layout) used by `make demo` and the tests."""

import argparse
import logging
import time

from adhvit_hf.data.demo import MOTIONS, make_demo_dataset
from adhvit_hf.data.demo_cameras import make_camera_demo_dataset
from adhvit_hf.utils import add_output_dir_argument, configure_logging, require_output_dir, run_cli


logger = logging.getLogger(__name__)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    add_output_dir_argument(parser, "--out", help="Output folder (gets lh/, rh/ and videos/).")
    parser.add_argument("--seed", type=int, default=0, help="Random seed; the same seed gives the same dataset.")
    parser.add_argument(
        "--cameras",
        type=int,
        default=None,
        help="Film the scene with this many synchronised cameras (2 or 3): videos/<camera>/ and {camera} lists, each "
        "hand hidden in one camera for most of every clip (train with configs/demo_cameras.json).",
    )
    return require_output_dir(parser, parser.parse_args(argv))


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(logging.INFO)
    started = time.perf_counter()
    if args.cameras is None:
        sizes = make_demo_dataset(args.output_dir, seed=args.seed)
    else:
        sizes = make_camera_demo_dataset(args.output_dir, args.cameras, seed=args.seed)
    logger.info(
        "Wrote %d videos (%s) with %d classes per hand to %s in %.1f s",
        sum(sizes.values()),
        ", ".join(f"{split} {count}" for split, count in sizes.items()),
        len(MOTIONS),
        args.output_dir,
        time.perf_counter() - started,
    )


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

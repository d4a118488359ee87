#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
r"""
Convert a VideoMAE V2 `.pth` checkpoint (e.g. `vit_b_k710_dl_from_giant.pth`) into an AdhVit model folder that
`AutoModel.from_pretrained(folder)` loads (also with `trust_remote_code=True` where adhvit_hf is not installed).
The folder holds the backbone and VideoMAE V2's evaluation preprocessing; the two hand heads are new, so the folder
is a starting point for training (--model_name_or_path or --finetune) and for feature extraction.

    adhvit-convert --checkpoint vit_b_k710_dl_from_giant.pth --output_dir adhvit-base \
        --lh_num_labels 75 --rh_num_labels 75
"""

import argparse
import logging

from adhvit_hf.utils import add_output_dir_argument, configure_logging, positive_int, require_output_dir, run_cli
from adhvit_hf.videomae_v2 import convert_videomae_v2_checkpoint


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="adhvit-convert", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", required=True, help="VideoMAE V2 .pth file (read with weights_only=True)")
    add_output_dir_argument(parser, "--output-dir", help="folder to write")
    parser.add_argument("--lh_num_labels", type=positive_int, default=75, help="classes of the left-hand head")
    parser.add_argument("--rh_num_labels", type=positive_int, default=75, help="classes of the right-hand head")
    parser.add_argument(
        "--num_frames", type=positive_int, default=None, help="frames per clip (default: 16 or saved table)"
    )
    parser.add_argument("--image_size", type=positive_int, default=224, help="input resolution")
    parser.add_argument(
        "--num_attention_heads",
        type=positive_int,
        default=None,
        help="only for widths other than small/base/large/huge/giant",
    )
    parser.add_argument("--model_key", default="model|module", help="|-separated keys that may wrap the state dict")
    parser.add_argument("--model_prefix", default="", help="prefix to strip from the checkpoint's tensor names")
    return require_output_dir(parser, parser.parse_args(argv))


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(logging.WARNING)
    logging.getLogger("adhvit_hf").setLevel(logging.INFO)
    overrides = {name: getattr(args, name) for name in ("lh_num_labels", "rh_num_labels", "image_size")}
    for name in ("num_frames", "num_attention_heads"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    convert_videomae_v2_checkpoint(
        args.checkpoint, args.output_dir, model_key=args.model_key, model_prefix=args.model_prefix, **overrides
    )


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

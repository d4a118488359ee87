#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Per-frame ADH-ViT features and per-hand action timelines for whole (untrimmed) videos.

    %(prog)s --model M --videos VIDEO_FOLDER_OR_LIST --output_dir OUT [--stride S] [--batch_size B]

Writes, for every video <name>, the inputs of polyphony's semantic conditioning and action segmentation stages:
OUT/shared_features/<name>.npy [hidden_size, T], OUT/lh_features/<name>.npy [lh_num_labels, T] and
OUT/rh_features/<name>.npy [rh_num_labels, T] (float32, T = the video's frame count), plus
OUT/timelines/<name>.json (segments per hand) and OUT/timelines/<name>.png. A window of num_frames frames every
sampling_rate frames slides over the video every --stride frames; each window's result is assigned to its centre frame,
frames between centres are linearly interpolated and frames before the first / after the last centre are held.
Videos whose outputs already exist are skipped unless --overwrite. A video that cannot be decoded is skipped and listed
at the end (exit status 1); the others are still processed.
"""

import argparse
import logging

from adhvit_hf.data.decoding import add_backend_argument
from adhvit_hf.inference.cameras import list_camera_videos
from adhvit_hf.inference.features import extract_features
from adhvit_hf.inference.loading import load_model_for_inference, load_processor_for_inference, resolve_device
from adhvit_hf.inference.videos import list_videos
from adhvit_hf.utils import (
    HelpFormatter,
    add_output_dir_argument,
    configure_logging,
    non_negative_int,
    positive_int,
    prepare_output_dir,
    require_output_dir,
    run_cli,
)


logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--model", required=True, help="a saved model folder or a Hub repo id (owner/name)")
    parser.add_argument(
        "--videos", required=True, help="one video file, a folder of videos, or a text file with one video path a line"
    )
    add_output_dir_argument(parser, "--out", help="output folder (created if needed)")
    parser.add_argument(
        "--stride",
        type=positive_int,
        default=None,
        help="frames between window starts (default: the model's sampling_rate)",
    )
    parser.add_argument("--batch_size", type=positive_int, default=8, help="windows per forward pass")
    parser.add_argument(
        "--num_workers", type=non_negative_int, default=2, help="decoding workers (0: decode in the main process)"
    )
    parser.add_argument("--overwrite", action="store_true", help="redo videos whose outputs exist")
    parser.add_argument(
        "--cameras",
        nargs="+",
        default=None,
        metavar="CAMERA",
        help="synchronised cameras: --videos names them with {camera} (a video, a folder videos/{camera} or a list); "
        "the fused outputs go to --output_dir as for one video, each camera's to <output_dir>/cameras/<camera>/",
    )
    parser.add_argument(
        "--device", default=None, help="torch device: cpu, cuda, cuda:N or mps (default: GPU 0 if any, else cpu)"
    )
    add_backend_argument(parser)
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    parser = build_parser()
    return require_output_dir(parser, parser.parse_args(argv))


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_logging(logging.INFO)
    # Everything the user typed is checked before the model is loaded.
    videos = list_camera_videos(args.videos, args.cameras) if args.cameras else list_videos(args.videos)
    prepare_output_dir(args.output_dir)
    device = resolve_device(args.device)
    model = load_model_for_inference(args.model, device)
    processor = load_processor_for_inference(args.model)
    summary = extract_features(
        model,
        processor,
        videos,
        args.output_dir,
        stride=args.stride,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        overwrite=args.overwrite,
        backend=args.backend,
        cameras=args.cameras,
    )
    logger.info(
        "%d videos written, %d skipped (already done), %d failed, outputs in %s",
        len(summary["done"]),
        len(summary["skipped"]),
        len(summary["failed"]),
        args.output_dir,
    )
    for video in summary["failed"]:
        logger.error("failed: %s", summary["errors"][video])
    return 1 if summary["failed"] else 0


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

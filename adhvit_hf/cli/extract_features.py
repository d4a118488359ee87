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
OUT/provenance/<name>.json records what made them (the video's path, size and modification time; the model's weights,
preprocessing, stride and precision). Without --overwrite, a video whose outputs were made from the same file by the
same settings is skipped, one whose file changed (or has no record) is redone, and a folder holding outputs of other
settings, or of another video of the same name, is refused. A video that cannot be decoded is skipped and listed
at the end (exit status 1); the others are still processed.

Across GPUs and nodes: `torchrun --nproc_per_node N %(prog)s ...` or `accelerate launch %(prog)s ...` splits the
videos over all ranks by frame count, each rank on cuda:LOCAL_RANK (or the CPU); OUT/extract_summary.json has each
rank's share. A rerun after a crash does only the videos without their OUT/provenance/<name>.json; two jobs on one OUT
never write the same video (per-video lock files, OUT/.locks).
"""

import argparse
import logging
from pathlib import Path

from adhvit_hf.data.cameras import camera_paths
from adhvit_hf.data.decoding import VideoDecodeError, add_backend_argument, probe_video
from adhvit_hf.inference.cameras import list_camera_videos
from adhvit_hf.inference.distributed import (
    close_ranks,
    gather_to_main,
    init_ranks,
    merge_summaries,
    rank_device,
    split_for_rank,
    write_summary,
)
from adhvit_hf.inference.features import extract_features, is_complete
from adhvit_hf.inference.loading import load_model_for_inference, load_processor_for_inference, resolve_device
from adhvit_hf.inference.videos import list_videos
from adhvit_hf.precision import PRECISION_HELP, PRECISIONS, chosen_precision
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
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help=PRECISION_HELP)
    parser.add_argument(
        "--num_workers", type=non_negative_int, default=2, help="decoding workers (0: decode in the main process)"
    )
    parser.add_argument("--overwrite", action="store_true", help="redo videos whose outputs exist, whatever made them")
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
    ranks = init_ranks()
    device = resolve_device(rank_device(args.device, ranks))
    model = load_model_for_inference(args.model, device)
    processor = load_processor_for_inference(args.model)
    precision = chosen_precision(args.precision, device)
    logger.info("precision: %s", precision.describe())
    # Done videos weigh nothing, so the split balances the work left; one that cannot be probed fails in its turn.
    share = split_for_rank(
        videos, lambda video: frames_left(video, args.output_dir, args.overwrite, args.cameras), ranks
    )
    summary = extract_features(
        model,
        processor,
        share,
        args.output_dir,
        stride=args.stride,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        overwrite=args.overwrite,
        backend=args.backend,
        progress=ranks.is_main,
        cameras=args.cameras,
        bf16=precision.bf16,
    )
    summaries = gather_to_main(summary, ranks)
    close_ranks()
    if not ranks.is_main:
        return 1 if summary["failed"] else 0
    job = merge_summaries(summaries)
    path = write_summary(args.output_dir, job)
    locked = [entry for entry in job["skipped"] if entry["reason"] != "already done"]
    logger.info(
        "%d videos written, %d skipped (already done)%s, %d failed, outputs in %s (summary: %s)",
        len(job["done"]),
        len(job["skipped"]) - len(locked),
        f", {len(locked)} left to another job that holds their lock" if locked else "",
        len(job["failed"]),
        args.output_dir,
        path,
    )
    for failure in job["failed"]:
        logger.error("failed: %s", failure["reason"])
    return 1 if job["failed"] else 0


def frames_left(video, output_dir, overwrite: bool, cameras: list[str] | None = None) -> int:
    """The frames `video` still needs: 0 when complete, its frame count otherwise (0 if it cannot be opened); a
    recording of synchronised cameras weighs its first camera's frame count times the number of cameras."""
    name = Path(str(video)).stem
    if not overwrite and is_complete(output_dir, name, cameras):
        return 0
    try:
        if cameras:
            return probe_video(camera_paths(str(video), cameras[:1])[cameras[0]]) * len(cameras)
        return probe_video(video)
    except VideoDecodeError:
        return 0


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

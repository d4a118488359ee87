#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Classify what each hand does in one or more videos with a trained ADH-ViT.

    %(prog)s video1.mp4 video2.mp4 --model path/or/owner/repo [--top_k 5] [--json]

Prints one table per video (rank, left-hand label and score, right-hand label and score), or JSON with --json.
Each video gets one label per hand, from the average of its evaluation views; for what each hand does over time in
a long video, `adhvit-extract` writes a per-frame timeline. A video that cannot be decoded is reported (exit status 1)
and the others are still printed.

Under `torchrun --nproc_per_node N` or `accelerate launch` the videos are split over the ranks by frame count, each
rank on cuda:LOCAL_RANK (or the CPU); rank 0 prints every result in the order given.
"""

import argparse
import json
import logging
import sys

from adhvit_hf.configuration_adhvit import CAMERA_FUSIONS
from adhvit_hf.data.cameras import check_camera_names
from adhvit_hf.data.decoding import VideoDecodeError, add_backend_argument, open_video, probe_video
from adhvit_hf.inference.cameras import check_camera_template
from adhvit_hf.inference.distributed import close_ranks, gather_to_main, init_ranks, rank_device, split_for_rank
from adhvit_hf.inference.loading import load_model_for_inference, load_processor_for_inference, resolve_device
from adhvit_hf.inference.videos import check_video_path
from adhvit_hf.inference.windows import short_video_message
from adhvit_hf.pipeline_adhvit import PIPELINE_TASK, DualHandVideoClassificationPipeline
from adhvit_hf.precision import PRECISION_HELP, PRECISIONS, chosen_precision
from adhvit_hf.processing_adhvit import processor_with_views
from adhvit_hf.utils import HelpFormatter, configure_logging, positive_int, run_cli


logger = logging.getLogger(__name__)

HAND_TITLES = {"left_hand": "left hand", "right_hand": "right hand"}
# A video whose views see less than this fraction of its frames gets the hint that adhvit-extract gives a timeline.
MIN_VIEW_COVERAGE = 0.5


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="video files to classify")
    parser.add_argument("--model", required=True, help="a saved model folder or a Hub repo id (owner/name)")
    parser.add_argument("--top_k", type=positive_int, default=5, help="labels shown per hand")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--device", default=None, help="torch device: cpu, cuda, cuda:N or mps (default: GPU 0 if any, else cpu)"
    )
    parser.add_argument("--batch_size", type=positive_int, default=1, help="videos per forward pass")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help=PRECISION_HELP)
    add_backend_argument(parser)
    parser.add_argument(
        "--cameras",
        nargs="+",
        default=None,
        metavar="CAMERA",
        help="synchronised cameras: each VIDEO is a path with {camera} (videos/{camera}/a.mp4), classified in every "
        "camera and fused; prints the fused prediction and each camera's",
    )
    parser.add_argument(
        "--camera_fusion", default="mean", choices=CAMERA_FUSIONS, help="with --cameras: how camera scores fuse"
    )
    parser.add_argument(
        "--test_num_segment", type=positive_int, default=None, help="temporal views (default: the processor's)"
    )
    parser.add_argument(
        "--test_num_crop", type=positive_int, default=None, help="spatial crops, 1 or 3 (default: the processor's)"
    )
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def format_predictions(video: str, prediction: dict) -> str:
    """A readable table of one video's prediction: rank, then label and score for each hand."""
    hands = list(HAND_TITLES)
    labels = [entry["label"] for hand in hands for entry in prediction[hand]]
    label_width = max(len(text) for text in [*HAND_TITLES.values(), *labels])
    header = "rank  " + "  ".join(f"{HAND_TITLES[hand]:<{label_width}}  score " for hand in hands)
    lines = [video, header.rstrip()]
    for rank in range(max(len(prediction[hand]) for hand in hands)):
        cells = []
        for hand in hands:
            if rank < len(prediction[hand]):
                entry = prediction[hand][rank]
                cells.append(f"{entry['label']:<{label_width}}  {entry['score']:.4f}")
            else:
                cells.append(" " * (label_width + 8))
        lines.append((f"{rank + 1:<4}  " + "  ".join(cells)).rstrip())
    return "\n".join(lines)


def view_coverage_message(video: str, num_video_frames: int, processor) -> str | None:
    """The hint for a video much longer than its views cover (None otherwise)."""
    views = processor.view_frame_indices(num_video_frames)
    covered = set()
    for view in views.tolist():
        covered.update(range(view[0], view[-1] + 1))
    if len(covered) >= MIN_VIEW_COVERAGE * num_video_frames:
        return None
    return (
        f"{video}: its {len(views)} views cover {len(covered)} of its {num_video_frames} frames and give one label "
        "per hand for the whole video; for what each hand does over time, adhvit-extract writes a per-frame timeline"
    )


def check_video(video: str, processor, backend: str = "auto") -> str | None:
    """Opens `video` and warns when it is shorter than one window or much longer than its views cover; returns the
    decoding error message, if any."""
    try:
        num_video_frames = open_video(video, backend=backend).num_frames
    except VideoDecodeError as error:
        return str(error)
    for message in (
        short_video_message(video, num_video_frames, processor.num_frames, processor.sampling_rate),
        view_coverage_message(video, num_video_frames, processor),
    ):
        if message:
            logger.warning(message)
    return None


def classify(
    classifier, videos: list[str], top_k: int, batch_size: int, cameras: dict | None = None, camera_fusion="mean"
) -> dict[str, dict | str]:
    """{video: prediction, or the error message of a video that could not be decoded}, in the order of `videos`.

    The pipeline answers a list item it cannot decode with `{"error": message}` and goes on with the others. With
    `cameras` ({video template: {camera: path}}) each video is a synchronised recording, classified as one.
    """
    if not videos:
        return {}
    inputs = [cameras[video] for video in videos] if cameras else videos
    options = {"camera_fusion": camera_fusion} if cameras else {}
    predictions = classifier(inputs, top_k=top_k, batch_size=batch_size, **options)
    return {video: result.get("error", result) for video, result in zip(videos, predictions)}


def frame_count(video: str) -> int:
    """The video's frame count for the split over ranks (0 if it cannot be opened: it fails in its turn)."""
    try:
        return probe_video(video)
    except VideoDecodeError:
        return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_logging(logging.WARNING)
    logger.setLevel(logging.INFO)  # this program's own lines (the precision); libraries stay at warnings
    # Everything the user typed is checked before the model is loaded.
    videos = [str(check_video_path(video)) for video in args.videos]
    cameras = check_camera_names(args.cameras)
    camera_videos = {video: check_camera_template(video, cameras) for video in videos} if cameras else None
    ranks = init_ranks()
    device = resolve_device(rank_device(args.device, ranks))
    model = load_model_for_inference(args.model, device)
    processor = load_processor_for_inference(args.model)
    views = {"test_num_segment": args.test_num_segment, "test_num_crop": args.test_num_crop}
    processor = processor_with_views(processor, **{key: value for key, value in views.items() if value is not None})
    # The installed adhvit_hf code runs, never the copies a shared model folder carries as remote code.
    precision = chosen_precision(args.precision, device)
    classifier = DualHandVideoClassificationPipeline(
        model=model,
        video_processor=processor,
        device=device,
        task=PIPELINE_TASK,
        backend=args.backend,
        bf16=precision.bf16,
    )
    logger.info("precision: %s", precision.describe())
    # A recording of synchronised cameras weighs its first camera's frames (all cameras have about as many).
    share = split_for_rank(
        videos, lambda video: frame_count(next(iter(camera_videos[video].values())) if cameras else video), ranks
    )
    errors = {}
    for video in share:
        for path in camera_videos[video].values() if cameras else [video]:
            if video not in errors and (message := check_video(path, processor, args.backend)):
                errors[video] = message
    results = {video: errors[video] for video in share if video in errors}
    readable = [video for video in share if video not in errors]
    results.update(classify(classifier, readable, args.top_k, args.batch_size, camera_videos, args.camera_fusion))
    gathered = gather_to_main(results, ranks)
    close_ranks()
    if not ranks.is_main:
        return 0
    results = {video: result for part in gathered for video, result in part.items()}
    failed = {video: result for video, result in results.items() if isinstance(result, str)}
    if args.json:
        print(
            json.dumps(
                [
                    {"video": video, "error": failed[video]} if video in failed else {"video": video, **results[video]}
                    for video in videos
                ],
                indent=2,
            )
        )
    else:
        tables = [
            table
            for video in videos
            if video not in failed
            for table in [
                format_predictions(
                    video if not cameras else f"{video} (fused over cameras {' '.join(cameras)})", results[video]
                ),
                *(
                    format_predictions(f"{video} (camera {camera})", prediction)
                    for camera, prediction in results[video].get("cameras", {}).items()
                ),
            ]
        ]
        if tables:
            print("\n\n".join(tables))
    for message in failed.values():
        print(f"error: {message}", file=sys.stderr)
    return 1 if failed else 0


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

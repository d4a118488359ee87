#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Turn HA-ViD's frame-wise per-hand annotations into ADH-ViT clip lists (lh/ and rh/), without re-encoding.

Run `adhvit-resize-videos` first and pass its output folder as --video_dir: the copies keep every frame, so the
frame ranges written here hold for the originals too, and training decodes the copies several times faster.
"""

import argparse
import logging
import os

from adhvit_hf.data.cameras import has_camera_placeholder
from adhvit_hf.data.havid import HAND_FOLDERS, find_hand_annotations, prepare_hand_lists, read_mapping
from adhvit_hf.utils import UserInputError, configure_logging, run_cli


logger = logging.getLogger(__name__)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        "--annotation_root",
        required=True,
        help="HA-ViD's ActionSegmentation/data folder (view{V}_{lh,rh}_{pt,aa}/) or a folder with "
        "groundTruth/{left_hand,right_hand}/, mapping.txt and splits/{left_hand,right_hand}/.",
    )
    parser.add_argument(
        "--video_dir",
        default=None,
        help="Folder with <video>.mp4 (default: <annotation_root>/videos); best the adhvit-resize-videos copy.",
    )
    parser.add_argument("--output_dir", required=True, help="Gets lh/ and rh/ with train/val lists and labels.txt.")
    parser.add_argument(
        "--view",
        type=int,
        nargs="+",
        default=[0],
        choices=(0, 1, 2),
        help="Camera view: 0 side, 1 front, 2 top. Several (--view 0 1 2) with a --video_dir containing {camera} "
        "write one multi-camera list set (camera names 0 1 2; train with --cameras 0 1 2).",
    )
    parser.add_argument("--level", default="pt", choices=("pt", "aa"), help="Primitive task or atomic action labels.")
    parser.add_argument("--split", type=int, default=1, help="Split number of the *.split<N>.bundle files.")
    parser.add_argument(
        "--extraction_method",
        default="segment",
        choices=("segment", "clip"),
        help="One line per action segment, or fixed-length class-balanced clips.",
    )
    parser.add_argument("--min_segment_length", type=int, default=1, help="Shortest segment kept (frames).")
    parser.add_argument("--clip_length", type=int, default=16, help="Clip length for --extraction_method clip.")
    parser.add_argument(
        "--clips_per_video", type=int, default=10, help="Clips per video for --extraction_method clip."
    )
    parser.add_argument(
        "--no_prefer_non_null",
        dest="prefer_non_null",
        action="store_false",
        help="Let 'null' clips compete with the others in class balancing.",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def check_same_mapping(camera_annotations: dict) -> None:
    """The views' label mappings are the same (one list line has one label id in every camera)."""
    mappings = {camera: read_mapping(a.mapping_file) for camera, a in camera_annotations.items()}
    first, reference = next(iter(mappings.items()))
    for camera, mapping in mappings.items():
        if mapping != reference:
            raise UserInputError(
                f"{camera_annotations[camera].mapping_file}: the label mapping of view {camera} differs from view "
                f"{first}'s ({camera_annotations[first].mapping_file}); one multi-camera list needs one mapping"
            )


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging(logging.INFO)
    video_dir = args.video_dir or os.path.join(args.annotation_root, "videos")
    views = list(dict.fromkeys(args.view))
    if len(views) > 1 and not has_camera_placeholder(video_dir):
        raise UserInputError(
            f"--view {' '.join(map(str, views))}: --video_dir {video_dir} needs {{camera}} where the view number goes "
            "(e.g. videos/view{camera}), so each camera's videos are found"
        )
    for hand in HAND_FOLDERS:
        camera_annotations = {
            str(view): find_hand_annotations(args.annotation_root, hand, view=view, level=args.level, split=args.split)
            for view in views
        }
        annotations = next(iter(camera_annotations.values()))
        check_same_mapping(camera_annotations)
        counts = prepare_hand_lists(
            annotations,
            video_dir,
            os.path.join(args.output_dir, hand),
            method=args.extraction_method,
            min_segment_length=args.min_segment_length,
            clip_length=args.clip_length,
            clips_per_video=args.clips_per_video,
            prefer_non_null=args.prefer_non_null,
            seed=args.seed,
            camera_annotations=camera_annotations if len(views) > 1 else None,
        )
        for split, per_label in counts.items():
            logger.info("%s %s: %d clips over %d labels", hand, split, sum(per_label.values()), len(per_label))


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

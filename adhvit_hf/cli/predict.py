#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Classify what each hand does in one or more videos with a trained ADH-ViT.

    python scripts/predict.py video1.mp4 video2.mp4 --model path/or/hub-repo [--top_k 5] [--json]

Prints one table per video (rank, left-hand label and score, right-hand label and score), or JSON with --json.
"""

import argparse
import json
import logging

from transformers import pipeline

from adhvit_hf.inference import PIPELINE_TASK, DualHandVideoClassificationPipeline
from adhvit_hf.utils import run_cli


HAND_TITLES = {"left_hand": "left hand", "right_hand": "right hand"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="video files to classify")
    parser.add_argument("--model", required=True, help="a saved model folder or a Hub repo id")
    parser.add_argument("--top_k", type=int, default=5, help="labels shown per hand")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda:0 (default: GPU 0 if any)")
    parser.add_argument("--batch_size", type=int, default=1, help="videos per forward pass")
    parser.add_argument("--test_num_segment", type=int, default=None, help="temporal views (default: processor's)")
    parser.add_argument("--test_num_crop", type=int, default=None, help="spatial crops, 1 or 3 (default: processor's)")
    return parser.parse_args(argv)


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


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.WARNING)
    # The installed adhvit_hf code runs, never the copies a shared model folder carries as remote code.
    classifier = pipeline(
        PIPELINE_TASK,
        model=args.model,
        device=args.device,
        pipeline_class=DualHandVideoClassificationPipeline,
        trust_remote_code=False,
    )
    view_args = {key: getattr(args, key) for key in ("test_num_segment", "test_num_crop") if getattr(args, key)}
    predictions = classifier(args.videos, top_k=args.top_k, batch_size=args.batch_size, **view_args)
    if args.json:
        print(json.dumps([{"video": video, **p} for video, p in zip(args.videos, predictions)], indent=2))
    else:
        print("\n\n".join(format_predictions(video, p) for video, p in zip(args.videos, predictions)))
    return 0


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

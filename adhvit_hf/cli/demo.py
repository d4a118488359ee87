#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The whole ADH-ViT job on synthetic demo data, on a laptop-class CPU (`make demo`).

Makes the demo dataset, trains a small model from scratch with alternating dual-hand training,
evaluates it on the test split, saves it, reloads it with `AutoModel.from_pretrained` and asks the
`dual-hand-video-classification` pipeline what each hand does in one test video.
"""

import argparse
import json
import os
import time

from transformers import AutoModel, pipeline

from adhvit_hf.cli import run_havid
from adhvit_hf.data.clip_list import read_clip_list
from adhvit_hf.data.demo import make_demo_dataset
from adhvit_hf.pipeline_adhvit import DualHandVideoClassificationPipeline
from adhvit_hf.utils import atomic_write, run_cli


# `make demo` runs from a source checkout, whose configs/ sits two folders above this file.
DEMO_RECIPE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs", "demo.json")


def first_test_clip(data_dir: str, config) -> tuple[str, dict[str, str]]:
    """The first video of the test lists and each hand's true label name."""
    records = {
        hand: read_clip_list(os.path.join(data_dir, hand, "test_list_video.txt"), None, num_labels, hand)[0]
        for hand, num_labels in (("lh", config.lh_num_labels), ("rh", config.rh_num_labels))
    }
    truth = {hand: getattr(config, f"{hand}_id2label")[record.label] for hand, record in records.items()}
    return os.path.relpath(records["lh"].video), truth


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default="demo_data")
    parser.add_argument("--output_dir", default="demo_output")
    parser.add_argument("--config", default=DEMO_RECIPE, help="training recipe (JSON); flags after -- override it")
    args, overrides = parser.parse_known_args(argv)
    start = time.time()

    if not os.path.isfile(os.path.join(args.data_dir, "lh", "train_list_video.txt")):
        make_demo_dataset(args.data_dir, seed=0)
    results = run_havid.main(
        [
            args.config,
            "--lh_data_path",
            os.path.join(args.data_dir, "lh"),
            "--rh_data_path",
            os.path.join(args.data_dir, "rh"),
            "--output_dir",
            args.output_dir,
            *overrides,
        ]
    )

    model = AutoModel.from_pretrained(args.output_dir)
    # The installed code answers; the copy the folder carries as remote code would need trust_remote_code=True.
    classifier = pipeline(
        "dual-hand-video-classification", model=args.output_dir, pipeline_class=DualHandVideoClassificationPipeline
    )
    video, truth = first_test_clip(args.data_dir, model.config)
    prediction = classifier(video, top_k=1)

    summary = {
        "model": type(model).__name__,
        "test_lh_top1": results.get("test_lh_top1"),
        "test_rh_top1": results.get("test_rh_top1"),
        "video": video,
        "left_hand": {**prediction["left_hand"][0], "true_label": truth["lh"]},
        "right_hand": {**prediction["right_hand"][0], "true_label": truth["rh"]},
        "seconds": round(time.time() - start, 1),
    }
    print("\n=== ADH-ViT demo ===")
    print(f"test top-1  left hand {summary['test_lh_top1']:.1f}%   right hand {summary['test_rh_top1']:.1f}%")
    print(f"{video}:")
    for hand in ("left_hand", "right_hand"):
        guess = summary[hand]
        print(f"  {hand.replace('_', ' '):<10}: {guess['label']} ({guess['score']:.2f}), true: {guess['true_label']}")
    print(f"done in {summary['seconds']} s")
    with atomic_write(os.path.join(args.output_dir, "demo_summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    return summary


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

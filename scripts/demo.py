#!/usr/bin/env python
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

import adhvit_hf  # noqa: F401  (registers the model, processor and pipeline)
from adhvit_hf.data.demo import make_demo_dataset
from adhvit_hf.scripts import run_havid
from adhvit_hf.utils import atomic_write, run_cli

DEMO_RECIPE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs", "demo.json")


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
            "--lh_data_path", os.path.join(args.data_dir, "lh"),
            "--rh_data_path", os.path.join(args.data_dir, "rh"),
            "--output_dir", args.output_dir,
            *overrides,
        ]
    )

    model = AutoModel.from_pretrained(args.output_dir)
    classifier = pipeline("dual-hand-video-classification", model=args.output_dir)
    with open(os.path.join(args.data_dir, "lh", "test_list_video.txt"), encoding="utf-8") as f:
        video = os.path.normpath(os.path.join(args.data_dir, "lh", f.readline().rsplit(maxsplit=1)[0]))
    prediction = classifier(video, top_k=1)

    summary = {
        "model": type(model).__name__,
        "test_lh_top1": results.get("test_lh_top1"),
        "test_rh_top1": results.get("test_rh_top1"),
        "video": video,
        "left_hand": prediction["left_hand"][0],
        "right_hand": prediction["right_hand"][0],
        "seconds": round(time.time() - start, 1),
    }
    print("\n=== ADH-ViT demo ===")
    print(f"test top-1  left hand {summary['test_lh_top1']:.1f}%   right hand {summary['test_rh_top1']:.1f}%")
    print(f"{video}:")
    print(f"  left hand : {summary['left_hand']['label']} ({summary['left_hand']['score']:.2f})")
    print(f"  right hand: {summary['right_hand']['label']} ({summary['right_hand']['score']:.2f})")
    print(f"done in {summary['seconds']} s")
    with atomic_write(os.path.join(args.output_dir, "demo_summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    return summary


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

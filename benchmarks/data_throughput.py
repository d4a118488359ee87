#!/usr/bin/env python
"""Data-pipeline throughput: clips/s of one worker (decode + augment) for train clips and eval views.

Measured on the demo data and on a 720p 30 fps video the script writes, with decord and with PyAV.
"""

import argparse
import os
import tempfile
import time

import numpy as np
import torch

from adhvit_hf.data.datasets import load_hand_splits
from adhvit_hf.data.demo import MOTIONS, make_demo_dataset
from adhvit_hf.data.encoding import write_mp4
from adhvit_hf.data.transforms import VideoTransform
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor
from adhvit_hf.utils import run_cli


def write_720p_video(path: str, num_frames: int = 300, gop_size: int = 30) -> str:
    """A 1280x720, 30 fps moving-gradient video of `num_frames` frames."""
    y, x = np.mgrid[0:720, 0:1280]
    frames = (
        np.stack([(x + 8 * t) % 256, (y + 4 * t) % 256, np.full_like(x, (16 * t) % 256)], axis=-1).astype(np.uint8)
        for t in range(num_frames)
    )
    write_mp4(path, frames, fps=30, gop_size=gop_size, crf=23)
    return path


def clips_per_second(transform: VideoTransform, rows: dict[str, list], repeats: int) -> float:
    """Rows processed per second by `transform`, one row at a time (what one dataloader worker does)."""
    num_rows = len(rows["video"])
    started = time.perf_counter()
    for step in range(repeats):
        i = step % num_rows
        transform({key: values[i : i + 1] for key, values in rows.items()})
    return repeats / (time.perf_counter() - started)


def measure(processor: AdhVitVideoProcessor, rows: dict[str, list], repeats: int, aa: str | None) -> dict:
    """clips/s for train (with `aa` and erasing) and eval views, per decoder backend."""
    results = {}
    for backend in ("decord", "pyav"):
        train = VideoTransform(processor, train=True, aa=aa, reprob=0.25, backend=backend)
        evaluation = VideoTransform(processor, train=False, backend=backend)
        results[backend] = {
            "train": clips_per_second(train, rows, repeats),
            "eval": clips_per_second(evaluation, rows, max(repeats // 4, 1)),
        }
    return results


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work_dir", default=None, help="Where to write the test data (default: a temp folder).")
    parser.add_argument("--repeats", type=int, default=40, help="Train clips timed per case (eval: a quarter).")
    parser.add_argument("--aa", default="rand-m7-n4-mstd0.5-inc1")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as temp_dir:
        work_dir = args.work_dir or temp_dir
        demo_dir = os.path.join(work_dir, "demo")
        if not os.path.isdir(demo_dir):
            make_demo_dataset(demo_dir, seed=0)
        demo_rows = load_hand_splits(os.path.join(demo_dir, "lh"), "lh", len(MOTIONS))["train"][:64]
        demo_rows["seed"] = list(range(len(demo_rows["video"])))
        demo_processor = AdhVitVideoProcessor(num_frames=8, sampling_rate=4, test_num_segment=2, test_num_crop=3,
                                              short_side_size=64, crop_size=64)
        hd_path = os.path.join(work_dir, "720p.mp4")
        if not os.path.isfile(hd_path):
            write_720p_video(hd_path)
        hd_rows = {"video": [hd_path], "start": [-1], "end": [-1], "label": [0], "hand": ["lh"], "seed": [0]}
        hd_processor = AdhVitVideoProcessor()  # VideoMAE V2 defaults: 16 x 4 frames, 224 crops, 10 x 3 views
        cases = {
            "demo 64x64, 8 frames, 64 crop, 2x3 views": (demo_processor, demo_rows, args.repeats),
            "720p30, 16x4 frames, 224 crop, 10x3 views": (hd_processor, hd_rows, max(args.repeats // 4, 2)),
        }
        print(f"{'case':44s} {'backend':8s} {'train clips/s':>14s} {'eval videos/s':>14s}")
        for name, (processor, rows, repeats) in cases.items():
            for backend, speeds in measure(processor, rows, repeats, args.aa).items():
                print(f"{name:44s} {backend:8s} {speeds['train']:14.1f} {speeds['eval']:14.2f}")


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

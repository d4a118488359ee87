# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""A small synthetic dual-hand dataset in the HA-ViD list layout, learnable in minutes on a CPU.

Every video shows a red square on the left half (the left hand) and a blue square on the right half (the right
hand) on a dark background; each square does one of the MOTIONS, drawn independently per hand. The motions are
three time-reversed pairs, so a model that ignores frame order cannot tell a pair apart.
"""

from __future__ import annotations

import os

import numpy as np

from ..utils import UserInputError, atomic_write, prepare_output_dir, save_json
from .clip_list import SPLIT_FILES
from .encoding import write_mp4


MOTIONS = ("move_up", "move_down", "move_left", "move_right", "grow", "shrink")
SPLIT_SIZES = {"train": 240, "val": 60, "test": 60}
# The demo names its splits (and video files) by the list files' prefixes: train, val, test.
LIST_FILES = {name.split("_")[0]: name for name in SPLIT_FILES.values()}
HAND_COLORS = {"lh": (255, 60, 60), "rh": (60, 140, 255)}
BACKGROUND = 24
FRAME_SIZE = 64
NUM_VIDEO_FRAMES = 32
FPS = 16
# Square side lengths in pixels: moving squares keep SIDE; grow/shrink run between SMALL and LARGE.
SIDE, SMALL, LARGE = 12, 6, 26


def square_path(motion: str, half_left: int, rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """(num_frames, 3) float array of (top, left, side) for a square moving inside the half starting at half_left."""
    half = FRAME_SIZE // 2
    t = np.linspace(0.0, 1.0, num_frames)
    if motion in ("grow", "shrink"):
        center_y = rng.uniform(LARGE / 2 + 2, FRAME_SIZE - LARGE / 2 - 2)
        center_x = half_left + rng.uniform(LARGE / 2 + 1, half - LARGE / 2 - 1)
        side = SMALL + (LARGE - SMALL) * (t if motion == "grow" else 1.0 - t)
        return np.stack([center_y - side / 2, center_x - side / 2, side], axis=1)
    low_y, high_y = 2 + rng.uniform(0, 4), FRAME_SIZE - SIDE - 2 - rng.uniform(0, 4)
    low_x, high_x = half_left + 1 + rng.uniform(0, 2), half_left + half - SIDE - 1 - rng.uniform(0, 2)
    fixed_y, fixed_x = rng.uniform(low_y, high_y), rng.uniform(low_x, high_x)
    forward = {
        "move_down": (low_y + (high_y - low_y) * t, np.full_like(t, fixed_x)),
        "move_up": (high_y - (high_y - low_y) * t, np.full_like(t, fixed_x)),
        "move_right": (np.full_like(t, fixed_y), low_x + (high_x - low_x) * t),
        "move_left": (np.full_like(t, fixed_y), high_x - (high_x - low_x) * t),
    }[motion]
    return np.stack([forward[0], forward[1], np.full_like(t, SIDE)], axis=1)


def render_video(lh_motion: str, rh_motion: str, rng: np.random.Generator) -> np.ndarray:
    """(NUM_VIDEO_FRAMES, FRAME_SIZE, FRAME_SIZE, 3) uint8 frames of one demo video."""
    frames = np.full((NUM_VIDEO_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), BACKGROUND, dtype=np.uint8)
    for hand, motion, half_left in (("lh", lh_motion, 0), ("rh", rh_motion, FRAME_SIZE // 2)):
        path = square_path(motion, half_left, rng, NUM_VIDEO_FRAMES)
        for frame, (top, left, side) in zip(frames, np.rint(path).astype(int)):
            frame[max(top, 0) : top + side, max(left, 0) : left + side] = HAND_COLORS[hand]
    return frames


def balanced_labels(count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` labels covering every motion equally often (up to one), in random order."""
    return rng.permutation(np.arange(count) % len(MOTIONS))


# Written last into a folder make_demo_dataset made: it may make it again there, and it refuses any other non-empty one.
DEMO_MARKER = ".adhvit_demo_data.json"


def make_demo_dataset(
    out_dir: str, seed: int = 0, split_sizes: dict[str, int] | None = None, flag: str = "--output_dir"
) -> dict[str, int]:
    """Write the demo dataset under `out_dir`; returns the number of videos per split.

    Layout: out_dir/videos/<split>_<n>.mp4 and, for hand in lh/rh, out_dir/<hand>/{train,val,test}_list_video.txt
    (lines `../videos/<file> <label>`, resolved against the hand folder) plus out_dir/<hand>/labels.txt, and last
    `DEMO_MARKER`, which says the folder is the demo's. The same seed gives the same frames and the same files.
    A folder that holds anything but an earlier demo dataset is refused (`flag` names it): its files are not ours
    to overwrite.
    """
    if seed < 0:
        raise UserInputError(f"--seed must be >= 0, got {seed}")
    entries = sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []
    if entries and DEMO_MARKER not in entries:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise UserInputError(
            f"{flag} {out_dir} is not empty ({shown}) and holds no demo dataset: choose a new or empty folder, so "
            "that no file of yours is overwritten"
        )
    prepare_output_dir(out_dir, flag=flag)
    split_sizes = split_sizes or SPLIT_SIZES
    rng = np.random.default_rng(seed)
    lines = {hand: {split: [] for split in split_sizes} for hand in HAND_COLORS}
    for split, count in split_sizes.items():
        lh_labels, rh_labels = balanced_labels(count, rng), balanced_labels(count, rng)
        for number, (lh_label, rh_label) in enumerate(zip(lh_labels, rh_labels)):
            file_name = f"{split}_{number:04d}.mp4"
            frames = render_video(MOTIONS[lh_label], MOTIONS[rh_label], rng)
            write_mp4(os.path.join(out_dir, "videos", file_name), frames, fps=FPS, gop_size=8)
            lines["lh"][split].append(f"../videos/{file_name} {lh_label}")
            lines["rh"][split].append(f"../videos/{file_name} {rh_label}")
    label_text = "".join(f"{label_id} {name}\n" for label_id, name in enumerate(MOTIONS))
    for hand, per_split in lines.items():
        os.makedirs(os.path.join(out_dir, hand), exist_ok=True)
        with atomic_write(os.path.join(out_dir, hand, "labels.txt"), "w", encoding="utf-8") as handle:
            handle.write(label_text)
        for split, split_lines in per_split.items():
            with atomic_write(os.path.join(out_dir, hand, LIST_FILES[split]), "w", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in split_lines))
    save_json(os.path.join(out_dir, DEMO_MARKER), {"seed": seed, "split_sizes": dict(split_sizes)})
    return dict(split_sizes)

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The demo scene filmed by synchronised cameras (`adhvit-make-demo-data --cameras 3`).

The scene is the demo's (a red square for the left hand, a blue one for the right, each doing one of
`demo.MOTIONS`). Each camera sees it against its own background (flat, striped, checkered),
the second from further away, the third rotated. In every video each hand is hidden behind an occluder (a grey
panel over its half of the scene) in one camera, drawn at random per hand, for all but VISIBLE_FRAMES of the
NUM_VIDEO_FRAMES frames, a stretch around the middle, where the paired motions (up and down, left and right, grow and
shrink) pass the same place and size: that camera alone often cannot tell what the hand does, the cameras together
can.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torchvision.transforms.v2 import functional as F

from ..utils import UserInputError, atomic_write, prepare_output_dir
from .cameras import CAMERA_PLACEHOLDER
from .demo import (
    FPS,
    FRAME_SIZE,
    HAND_COLORS,
    LIST_FILES,
    MOTIONS,
    NUM_VIDEO_FRAMES,
    SPLIT_SIZES,
    balanced_labels,
    square_path,
)
from .encoding import write_mp4


MAX_CAMERAS = 3
# Frames (of NUM_VIDEO_FRAMES) for which a hand shows in its occluded camera, starting at a frame of VISIBLE_STARTS.
VISIBLE_FRAMES = 8
VISIBLE_STARTS = (8, 16)
OCCLUDER_COLOR = (150, 150, 150)
# Camera 1 films from further away (the scene shrunk to this share of the frame); camera 2 is rotated by this angle.
FAR_SCALE = 0.8
ROTATION_DEGREES = 20.0


def camera_background(camera: int) -> np.ndarray:
    """(FRAME_SIZE, FRAME_SIZE, 3) uint8 background of a camera: flat, vertical stripes, or a checkerboard."""
    rows, columns = np.mgrid[0:FRAME_SIZE, 0:FRAME_SIZE]
    if camera == 0:
        pattern = np.zeros((FRAME_SIZE, FRAME_SIZE), dtype=bool)
        colors = ((24, 24, 24), (24, 24, 24))
    elif camera == 1:
        pattern = (columns // 4) % 2 == 0
        colors = ((20, 44, 20), (36, 64, 30))
    else:
        pattern = ((rows // 8) + (columns // 8)) % 2 == 0
        colors = ((44, 26, 50), (64, 40, 70))
    background = np.empty((FRAME_SIZE, FRAME_SIZE, 3), dtype=np.uint8)
    background[pattern], background[~pattern] = colors[0], colors[1]
    return background


def view_from_camera(scene: np.ndarray, camera: int, background: np.ndarray) -> np.ndarray:
    """A camera's picture of scene frames drawn on its background: as is, from further away, or rotated."""
    if camera == 0:
        return scene
    frames = torch.from_numpy(scene).permute(0, 3, 1, 2)
    fill = [float(c) for c in background[0, 0]]
    if camera == 1:
        size = round(FRAME_SIZE * FAR_SCALE)
        small = F.resize(frames, [size, size], antialias=True)
        out = torch.from_numpy(background).permute(2, 0, 1).expand_as(frames).clone()
        offset = (FRAME_SIZE - size) // 2
        out[..., offset : offset + size, offset : offset + size] = small
        return out.permute(0, 2, 3, 1).contiguous().numpy()
    rotated = F.rotate(frames, ROTATION_DEGREES, interpolation=F.InterpolationMode.BILINEAR, fill=fill)
    return rotated.permute(0, 2, 3, 1).contiguous().numpy()


def render_camera_videos(
    lh_motion: str, rh_motion: str, num_cameras: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], dict[str, int]]:
    """Each camera's (NUM_VIDEO_FRAMES, FRAME_SIZE, FRAME_SIZE, 3) uint8 frames of one scene, and the camera in
    which each hand ("lh", "rh") is occluded."""
    paths = {
        "lh": square_path(lh_motion, 0, rng, NUM_VIDEO_FRAMES),
        "rh": square_path(rh_motion, FRAME_SIZE // 2, rng, NUM_VIDEO_FRAMES),
    }
    occluded = {hand: int(rng.integers(num_cameras)) for hand in paths}
    visible_from = {hand: int(rng.integers(VISIBLE_STARTS[0], VISIBLE_STARTS[1] + 1)) for hand in paths}
    videos = []
    for camera in range(num_cameras):
        background = camera_background(camera)
        frames = np.repeat(background[None], NUM_VIDEO_FRAMES, axis=0)
        for hand, path in paths.items():
            half_left = 0 if hand == "lh" else FRAME_SIZE // 2
            for index, (frame, (top, left, side)) in enumerate(zip(frames, np.rint(path).astype(int))):
                frame[max(top, 0) : top + side, max(left, 0) : left + side] = HAND_COLORS[hand]
                visible = visible_from[hand] <= index < visible_from[hand] + VISIBLE_FRAMES
                if occluded[hand] == camera and not visible:
                    frame[:, half_left : half_left + FRAME_SIZE // 2] = OCCLUDER_COLOR
        videos.append(view_from_camera(frames, camera, background))
    return videos, occluded


def make_camera_demo_dataset(
    out_dir: str, num_cameras: int, seed: int = 0, split_sizes: dict[str, int] | None = None
) -> dict[str, int]:
    """Write the multi-camera demo dataset under `out_dir`; returns the number of clips per split.

    Layout: out_dir/videos/<camera>/<split>_<n>.mp4 for cameras 0 .. num_cameras - 1, and for hand in lh/rh
    out_dir/<hand>/{train,val,test}_list_video.txt with lines `../videos/{camera}/<file> <label>` plus
    out_dir/<hand>/labels.txt; out_dir/occlusions.txt says which camera hides which hand in each video.
    """
    if not 2 <= num_cameras <= MAX_CAMERAS:
        raise UserInputError(f"--cameras must be from 2 to {MAX_CAMERAS}, got {num_cameras}")
    if seed < 0:
        raise UserInputError(f"--seed must be >= 0, got {seed}")
    prepare_output_dir(out_dir)
    split_sizes = split_sizes or SPLIT_SIZES
    rng = np.random.default_rng(seed)
    lines = {hand: {split: [] for split in split_sizes} for hand in HAND_COLORS}
    occlusions = []
    for split, count in split_sizes.items():
        lh_labels, rh_labels = balanced_labels(count, rng), balanced_labels(count, rng)
        for number, (lh_label, rh_label) in enumerate(zip(lh_labels, rh_labels)):
            file_name = f"{split}_{number:04d}.mp4"
            videos, occluded = render_camera_videos(MOTIONS[lh_label], MOTIONS[rh_label], num_cameras, rng)
            for camera, frames in enumerate(videos):
                write_mp4(os.path.join(out_dir, "videos", str(camera), file_name), frames, fps=FPS, gop_size=8)
            lines["lh"][split].append(f"../videos/{CAMERA_PLACEHOLDER}/{file_name} {lh_label}")
            lines["rh"][split].append(f"../videos/{CAMERA_PLACEHOLDER}/{file_name} {rh_label}")
            occlusions.append(f"{file_name} lh_hidden_in_camera {occluded['lh']} rh_hidden_in_camera {occluded['rh']}")
    label_text = "".join(f"{label_id} {name}\n" for label_id, name in enumerate(MOTIONS))
    for hand, per_split in lines.items():
        with atomic_write(os.path.join(out_dir, hand, "labels.txt"), "w", encoding="utf-8") as handle:
            handle.write(label_text)
        for split, split_lines in per_split.items():
            with atomic_write(os.path.join(out_dir, hand, LIST_FILES[split]), "w", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in split_lines))
    with atomic_write(os.path.join(out_dir, "occlusions.txt"), "w", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in occlusions))
    return dict(split_sizes)

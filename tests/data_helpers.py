"""Tiny test videos whose frames say which index they are (importable by every test module)."""

from __future__ import annotations

import numpy as np

from adhvit_hf.data.encoding import write_mp4


# Frame i is a flat grey of level i * LEVEL_STEP, so a decoded frame's index can be read back from its mean.
LEVEL_STEP = 8


def index_frames(num_frames: int, height: int = 32, width: int = 32) -> np.ndarray:
    """(num_frames, height, width, 3) uint8; frame i has every pixel at (i * LEVEL_STEP) % 256."""
    levels = (np.arange(num_frames) * LEVEL_STEP % 256).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (num_frames, height, width, 3)).copy()


def write_index_video(path, num_frames: int = 16, height: int = 32, width: int = 32, fps: int = 25) -> str:
    """Write an index video (see `index_frames`) to `path`; returns `str(path)`."""
    write_mp4(str(path), index_frames(num_frames, height, width), fps=fps, gop_size=4, crf=0)
    return str(path)


def decoded_indices(frames) -> list[int]:
    """Frame indices read back from decoded index-video frames (N, H, W, 3)."""
    means = np.asarray(frames, dtype=np.float64).reshape(len(frames), -1).mean(axis=1)
    return [int(round(m / LEVEL_STEP)) for m in means]

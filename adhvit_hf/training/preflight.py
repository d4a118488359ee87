# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Checks that run before training, so that a run never fails after an epoch on what could be known at the start."""

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor

from ..data.cameras import camera_paths
from ..data.decoding import VideoDecodeError, probe_video
from .checkpoints import CheckpointError


PROBE_THREADS = 8


def check_writable(output_dir: str) -> None:
    """Create `output_dir` and a file in it now, not at the first save after an epoch of training."""
    try:
        os.makedirs(output_dir, exist_ok=True)
        with tempfile.TemporaryFile(dir=output_dir):
            pass
    except OSError as error:
        raise CheckpointError(f"--output_dir {output_dir}: cannot write there ({error.strerror or error})") from None


def unreadable(path: str) -> str | None:
    """Why `path` cannot be evaluated, or None: its container, frame count and first frame are checked."""
    try:
        probe_video(path)
    except VideoDecodeError as error:
        return str(error)
    return None


def check_videos(datasets, cameras: list[str] | None = None) -> None:
    """Refuse, naming every bad file, when a video of `datasets` (clip datasets with a `video` column; `{camera}`
    templates with `cameras`: every camera's) cannot be opened or has no frames. Videos are probed in threads: the
    decoders release the GIL."""
    templates = {video for dataset in datasets for video in dataset.with_format(None)["video"]}
    videos = sorted({path for video in templates for path in camera_paths(video, cameras).values()})
    with ThreadPoolExecutor(max_workers=max(1, min(PROBE_THREADS, len(videos)))) as pool:
        problems = [problem for problem in pool.map(unreadable, videos) if problem]
    if len(problems) == 1:
        raise VideoDecodeError(problems[0])
    if problems:
        raise VideoDecodeError(f"{len(problems)} evaluation videos cannot be read: {'; '.join(problems)}")

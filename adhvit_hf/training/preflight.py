# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Checks that run before training, so that a run never fails after an epoch on what could be known at the start."""

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor

from ..data.cameras import camera_paths
from ..data.decoding import (
    BackendCannotOpenError,
    VideoDecodeError,
    available_backend,
    backend_problem,
    check_video,
    open_video,
    stream_info,
)
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


def unreadable(path: str, backend: str = "auto") -> str | None:
    """Why `path` cannot be evaluated, or None: opened with the backend evaluation will use, its first and last
    frames decoded (a file cut short still opens and decodes its first frames)."""
    try:
        check_video(path, backend)
    except VideoDecodeError as error:
        return str(error)
    return None


def _videos(datasets, cameras: list[str] | None = None) -> list[str]:
    """The distinct videos of clip datasets; with `cameras` every camera's video of their `{camera}` templates."""
    templates = {video for dataset in datasets for video in dataset.with_format(None)["video"]}
    return sorted({path for video in templates for path in camera_paths(video, cameras).values()})


def check_videos(datasets, backend: str = "auto", cameras: list[str] | None = None) -> None:
    """Refuse, naming every bad file, when a video of `datasets` (clip datasets with a `video` column; `{camera}`
    templates with `cameras`: every camera's) cannot be read by `backend` to its last frame. Videos are checked in
    threads: the decoders release the GIL."""
    videos = _videos(datasets, cameras)
    with ThreadPoolExecutor(max_workers=max(1, min(PROBE_THREADS, len(videos)))) as pool:
        problems = [problem for problem in pool.map(lambda video: unreadable(video, backend), videos) if problem]
    if len(problems) == 1:
        raise VideoDecodeError(problems[0])
    if problems:
        raise VideoDecodeError(f"{len(problems)} evaluation videos cannot be read: {'; '.join(problems)}")


def _kind(video: str) -> tuple[str, str] | None:
    """(codec, container suffix) of `video`, None for one that does not open (training replaces those)."""
    try:
        return stream_info(video).codec, os.path.splitext(video)[1].lower()
    except (VideoDecodeError, OSError):
        return None


def check_training_backend(datasets, backend: str, cameras: list[str] | None = None) -> None:
    """With a named `--backend`, refuse before training when it cannot open a kind of training video (codec and
    container) that another backend can: training would otherwise replace every such clip. One video of each kind
    is opened (header reads for the rest), so this stays cheap on thousands of videos; "auto" needs no check, it
    switches backend per file."""
    if backend == "auto":
        return
    kinds = {}
    with ThreadPoolExecutor(max_workers=PROBE_THREADS) as pool:
        for video, kind in zip(videos := _videos(datasets, cameras), pool.map(_kind, videos)):
            if kind is not None:
                kinds.setdefault(kind, []).append(video)
    for (codec, _), examples in sorted(kinds.items()):
        try:
            open_video(examples[0], backend=backend)
        except BackendCannotOpenError as error:
            raise VideoDecodeError(
                f"--backend {backend} cannot open the {len(examples)} {codec} training video(s) (e.g. {error.path}) "
                f"that {error.other} can, and training would replace every such clip: use --backend auto or "
                f"--backend {error.other}"
            ) from None
        except VideoDecodeError:  # damaged: training replaces and counts it
            continue


def check_gpu_decoding(data_args, training_args) -> None:
    """--gpu_decoding: refuse in one line what cannot work here, rather than decode on the CPU after all."""
    if not data_args.gpu_decoding:
        return
    if training_args.device.type != "cuda":
        raise ValueError(f"--gpu_decoding decodes on the training GPU, but this run trains on {training_args.device}")
    if available_backend(data_args.backend) != "torchcodec":
        why = backend_problem("torchcodec") or f"--backend is {data_args.backend}"
        raise ValueError(f"--gpu_decoding decodes with torchcodec (--backend torchcodec or auto): {why}")
    if not data_args.device_augmentation:
        raise ValueError("--gpu_decoding needs --device_augmentation: the decoded frames stay on the GPU")
    if training_args.dataloader_num_workers:
        raise ValueError(
            "--gpu_decoding decodes in the training process (CUDA does not work in forked DataLoader workers): "
            "set --dataloader_num_workers 0"
        )

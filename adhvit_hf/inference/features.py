# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Untrimmed videos to the per-frame features and per-hand timelines polyphony's later stages read.

For each video `<name>` (the file name without its extension) this writes, under an output folder:

    shared_features/<name>.npy   float32 [hidden_size, T]    pooled (fc_norm-ed) backbone feature
    lh_features/<name>.npy       float32 [lh_num_labels, T]  left-hand head logits
    rh_features/<name>.npy       float32 [rh_num_labels, T]  right-hand head logits
    timelines/<name>.json        per-hand segments (start/end frame and time, label, confidence)
    timelines/<name>.png         both hands' timelines against time
    provenance/<name>.json       the video's record (source, frames, outputs), written last: the video is complete

T is the video's frame count, so row t lines up with line t of a frame-wise `groundTruth/<name>.txt`; the window to
frame rule is in `adhvit_hf.inference.windows`. Every file is written atomically. Across ranks and jobs see
`adhvit_hf.inference.distributed` (split, per-video locks, summary).
"""

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..data.cameras import CameraError, camera_paths
from ..data.decoding import VideoDecodeError, open_video, video_info
from ..precision import autocast_precision
from ..processing_adhvit import processor_with_views
from ..utils import save_figure, save_json, save_npy
from .cameras import camera_output_dir, check_camera_frame_counts, fuse_camera_features
from .distributed import VideoLocked, video_lock
from .provenance import reuse_decision, run_record, source_record
from .timeline import plot_timelines, timeline_segments
from .windows import short_video_message, window_centres, window_frame_indices, windows_to_frames


logger = logging.getLogger(__name__)

FEATURE_FOLDERS = {"shared": "shared_features", "lh": "lh_features", "rh": "rh_features"}
TIMELINE_FOLDER = "timelines"
RECORD_FOLDER = "provenance"


@dataclass
class VideoFeatures:
    """Per-frame outputs of one video: arrays [D, num_video_frames], float32."""

    shared: np.ndarray
    lh: np.ndarray
    rh: np.ndarray
    fps: float

    @property
    def num_video_frames(self) -> int:
        return self.shared.shape[1]


class WindowBatches(Dataset):
    """Batches of windows from one video; item i is pixel_values (B, num_frames, 3, crop, crop) for windows
    `window_indices[i * batch_size : (i + 1) * batch_size]`, preprocessed like evaluation with one centre crop.

    Neighbouring windows share most frames, so each item decodes and preprocesses the distinct frames of its windows
    once and builds the windows by indexing. Each DataLoader worker opens its own reader on first use. A
    `VideoDecodeError` is returned, not raised: a DataLoader worker would wrap it in its own traceback text.
    """

    def __init__(
        self, video_path: str, window_indices: torch.Tensor, processor, batch_size: int, backend: str = "auto"
    ):
        self.video_path = video_path
        self.batches = window_indices.split(batch_size)
        self.processor = processor
        self.backend = backend
        self._reader = None

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> torch.Tensor | VideoDecodeError:
        try:
            if self._reader is None:
                self._reader = open_video(self.video_path, backend=self.backend)
            distinct, inverse = torch.unique(self.batches[index], return_inverse=True)
            frames = self._reader.get_frames(distinct)
        except VideoDecodeError as error:
            return error
        return self.processor.preprocess_clip(frames)[0][inverse]  # the processor resizes: one path for all backends


@dataclass
class VideoWindows:
    """The sliding windows over one video: `indices` LongTensor [num_windows, num_frames] of frame indices."""

    path: str
    num_video_frames: int
    fps: float
    indices: torch.Tensor

    @property
    def centres(self) -> torch.Tensor:
        return window_centres(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def plan_windows(
    processor, video_path: str | os.PathLike, stride: int | None = None, backend: str = "auto"
) -> VideoWindows:
    """The windows `extract_video_features` runs over `video_path`, every `stride` frames (default: the processor's
    sampling_rate), as `backend` reads the video; raises `VideoDecodeError` naming a file that cannot be read. A
    video shorter than one window is logged as a warning (it gets one window)."""
    video_path = str(video_path)
    num_video_frames, fps = video_info(video_path, backend)[:2]
    message = short_video_message(video_path, num_video_frames, processor.num_frames, processor.sampling_rate)
    if message:
        logger.warning(message)
    indices = window_frame_indices(
        num_video_frames, processor.num_frames, processor.sampling_rate, stride or processor.sampling_rate
    )
    return VideoWindows(video_path, num_video_frames, fps, indices)


def iter_window_outputs(
    model,
    processor,
    windows: VideoWindows,
    batch_size: int = 8,
    num_workers: int = 0,
    backend: str = "auto",
    bf16: bool | None = None,
) -> Iterator[dict[str, torch.Tensor]]:
    """Runs `model` on `windows` batch by batch, one forward per window with both hands, and yields each batch's
    results in window order as float32 CPU tensors {"shared": [B, hidden_size], "lh": [B, lh_num_labels],
    "rh": [B, rh_num_labels]}. Only one batch of frames is decoded at a time.

    `bf16`: bf16 autocast (None: `adhvit_hf.precision`'s rule for the model's device). Raises `VideoDecodeError` when a batch cannot be decoded.
    """
    if processor.num_frames != model.config.num_frames:
        raise ValueError(
            f"The processor samples {processor.num_frames} frames per window but the model expects "
            f"{model.config.num_frames} (config.num_frames)."
        )
    device = model.device
    bf16 = autocast_precision(device).bf16 if bf16 is None else bf16
    loader = DataLoader(
        WindowBatches(
            windows.path, windows.indices, processor_with_views(processor, test_num_crop=1), batch_size, backend
        ),
        batch_size=None,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )
    model.eval()
    for pixel_values in loader:
        if isinstance(pixel_values, VideoDecodeError):
            raise VideoDecodeError(str(pixel_values))
        pixel_values = pixel_values.to(device, model.dtype, non_blocking=True)
        with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16, enabled=bf16):
            outputs = model(pixel_values=pixel_values, hand=None)
        yield {
            "shared": outputs.pooled_output.float().cpu(),
            "lh": outputs.lh_logits.float().cpu(),
            "rh": outputs.rh_logits.float().cpu(),
        }


def extract_video_features(
    model,
    processor,
    video_path: str | os.PathLike,
    stride: int | None = None,
    batch_size: int = 8,
    num_workers: int = 0,
    backend: str = "auto",
    progress: bool = True,
    bf16: bool | None = None,
) -> VideoFeatures:
    """Runs `model` on sliding windows over a whole video, one forward per window with both hands.

    Args:
        model: an `AdhVitForDualHandClassification` (eval mode is set here), on the device to run on.
        processor: the model's `AdhVitVideoProcessor`: window length (`num_frames`, `sampling_rate`) and the
            evaluation resize/centre crop/normalisation.
        video_path: the video file.
        stride: frames between window starts; defaults to `processor.sampling_rate`.
        batch_size: windows per forward pass.
        num_workers: DataLoader workers decoding the next batches while the model runs.
        backend: decoder, "auto", "decord", "pyav" or "torchcodec" (see `adhvit_hf.data.decoding`).
        progress: show a tqdm bar for the video.
        bf16: bf16 autocast (None: `adhvit_hf.precision`'s rule for the model's device).

    Returns:
        `VideoFeatures` with per-frame pooled features and per-hand logits.
    """
    windows = plan_windows(processor, video_path, stride, backend)
    results = {hand: [] for hand in FEATURE_FOLDERS}
    with tqdm(total=len(windows), desc=Path(windows.path).name, unit="window", disable=not progress) as bar:
        for batch in iter_window_outputs(model, processor, windows, batch_size, num_workers, backend, bf16):
            for hand, values in batch.items():
                results[hand].append(values)
            bar.update(len(batch["lh"]))
    per_frame = {hand: frames_so_far(windows, torch.cat(values)).numpy() for hand, values in results.items()}
    return VideoFeatures(fps=windows.fps, **per_frame)


def frames_so_far(windows: VideoWindows, window_values: torch.Tensor) -> torch.Tensor:
    """Per-frame values [D, T'] from the results [n, D] of the first n windows of `windows`.

    With every window done, T' is the video's frame count; before that, T' stops at the n-th window's centre, the last
    frame whose value the windows still to come cannot change, so each frame's value is already the final one.
    """
    done = len(window_values)
    centres = windows.centres[:done]
    known = windows.num_video_frames if done == len(windows) else int(centres[-1].floor()) + 1
    return windows_to_frames(window_values, centres, known)


def output_paths(output_dir: str | os.PathLike, name: str) -> dict[str, Path]:
    """Where the outputs of the video called `name` go: keys "shared", "lh", "rh", "timeline_json", "timeline_png"."""
    output_dir = Path(output_dir)
    paths = {hand: output_dir / folder / f"{name}.npy" for hand, folder in FEATURE_FOLDERS.items()}
    paths["timeline_json"] = output_dir / TIMELINE_FOLDER / f"{name}.json"
    paths["timeline_png"] = output_dir / TIMELINE_FOLDER / f"{name}.png"
    return paths


def write_video_outputs(
    output_dir: str | os.PathLike, name: str, features: VideoFeatures, config, agreement: dict | None = None
) -> None:
    """Writes the three feature arrays, the timeline JSON and the timeline PNG of one video (each atomically).

    The timeline PNG is written last, so its presence means the video is complete. `agreement` ({camera: {hand: bool
    per frame}}, the fused outputs of synchronised cameras) adds each camera's share of frames agreeing with the
    fused labels to the JSON (`camera_agreement`) and its rows to the PNG.
    """
    paths = output_paths(output_dir, name)
    for hand in FEATURE_FOLDERS:
        save_npy(paths[hand], getattr(features, hand).astype(np.float32, copy=False))
    id2label = {"lh": config.lh_id2label, "rh": config.rh_id2label}
    segments = {
        hand: timeline_segments(torch.from_numpy(getattr(features, hand)), id2label[hand], features.fps)
        for hand in id2label
    }
    save_json(
        paths["timeline_json"],
        {
            "video": name,
            "num_frames": features.num_video_frames,
            "fps": features.fps,
            "left_hand": segments["lh"],
            "right_hand": segments["rh"],
            **({"camera_agreement": camera_agreement_shares(agreement)} if agreement else {}),
        },
    )
    label_order = {hand: [labels[i] for i in sorted(labels)] for hand, labels in id2label.items()}
    figure = plot_timelines(
        segments, label_order, features.num_video_frames, features.fps, title=name, agreement=agreement
    )
    save_figure(paths["timeline_png"], figure)


def record_path(output_dir: str | os.PathLike, name: str) -> Path:
    """The record of the video called `name`: written after every other output, so it marks the video complete."""
    return Path(output_dir) / RECORD_FOLDER / f"{name}.json"


def write_video_record(output_dir: str | os.PathLike, name: str, record: dict) -> None:
    """Writes the video's record (one JSON object), atomically and after its outputs."""
    save_json(record_path(output_dir, name), record)


def is_complete(output_dir: str | os.PathLike, name: str, cameras: list[str] | None = None) -> bool:
    """Whether the video called `name` has its record and every output file (with `cameras`, each camera's too)."""
    folders = [Path(output_dir), *(camera_output_dir(output_dir, camera) for camera in cameras or [])]
    paths = [
        record_path(output_dir, name),
        *(path for folder in folders for path in output_paths(folder, name).values()),
    ]
    return all(path.exists() for path in paths)


def extract_features(
    model,
    processor,
    videos: list[str | os.PathLike],
    output_dir: str | os.PathLike,
    stride: int | None = None,
    batch_size: int = 8,
    num_workers: int = 0,
    overwrite: bool = False,
    backend: str = "auto",
    progress: bool = True,
    cameras: list[str] | None = None,
    bf16: bool | None = None,
) -> dict[str, list[str]]:
    """Extracts features and timelines for every video into `output_dir`.

    Each video's record also says what made its outputs (`source`: the file's path, size and modification time, per
    camera with `cameras`; `run`: the model's weights, the processor, stride and precision, `inference.provenance`).
    A complete video is reused only when both match: one whose file changed, or without them, is redone (logged with
    the reason); outputs of other settings, or of another video of the same name, are refused before anything is
    written (`UserInputError`). `bf16`: bf16 autocast, None by `adhvit_hf.precision`'s rule.

    A video that is complete (`is_complete`) is skipped unless `overwrite`, as is one another running process
    holds the lock of (`adhvit_hf.inference.distributed.video_lock`); a video that cannot be decoded is logged and
    left out, and the others go on. Returns the video paths per outcome, {"done": [...], "skipped": [...],
    "failed": [...]}, "errors": {failed video: message}, "skip_reasons": {video skipped for a lock: message},
    and the frames and seconds of the videos done. With `cameras` the videos are `{camera}` paths of synchronised
    recordings (`inference.cameras`): the fused outputs go where a single video's do, each camera's under
    `output_dir/cameras/<camera>/`; a recording whose cameras' frame counts disagree fails like an unreadable video.
    """
    summary = {"done": [], "skipped": [], "failed": [], "errors": {}, "skip_reasons": {}, "frames": 0, "seconds": 0.0}
    if bf16 is None:
        precision = autocast_precision(model.device)
        logger.info("precision: %s", precision.describe())
        bf16 = precision.bf16
    run = run_record(model, processor, stride or processor.sampling_rate, bf16)
    redo = set()
    for video in map(Path, videos):  # every refusal before the first write
        if not overwrite and is_complete(output_dir, video.stem, cameras):
            reason = reuse_decision(
                record_path(output_dir, video.stem), output_dir, video.stem, sources(video, cameras), run
            )
            if reason:
                logger.info("redoing %s: %s", video, reason)
                redo.add(video)
    for video in map(Path, videos):
        if not overwrite and video not in redo and is_complete(output_dir, video.stem, cameras):
            summary["skipped"].append(str(video))
            continue
        start = time.perf_counter()
        try:
            with video_lock(output_dir, video.stem):
                # Another job may have finished the video between the check above and the lock.
                if not overwrite and video not in redo and is_complete(output_dir, video.stem, cameras):
                    summary["skipped"].append(str(video))
                    continue
                source = sources(video, cameras)
                extract = (model, processor, stride, batch_size, num_workers, backend, progress, bf16)
                features = _extract_and_write(output_dir, video, cameras, *extract)
                write_video_record(
                    output_dir,
                    video.stem,
                    {
                        "source": source,
                        "run": run,
                        "video": str(video),
                        "num_frames": features.num_video_frames,
                        "fps": features.fps,
                        "outputs": {
                            key: str(path.relative_to(output_dir))
                            for key, path in output_paths(output_dir, video.stem).items()
                        },
                    },
                )
        except VideoLocked as locked:
            logger.warning("Skipping %s", locked)
            summary["skipped"].append(str(video))
            summary["skip_reasons"][str(video)] = str(locked)
            continue
        except (VideoDecodeError, CameraError) as error:
            logger.error("Skipping %s", error)
            summary["failed"].append(str(video))
            summary["errors"][str(video)] = str(error)
            continue
        summary["done"].append(str(video))
        summary["frames"] += features.num_video_frames
        summary["seconds"] += time.perf_counter() - start
    return summary


def sources(video: Path, cameras: list[str] | None) -> dict:
    """The source record of a video, or of each camera's video of a recording."""
    if not cameras:
        return source_record(video)
    return {camera: source_record(path) for camera, path in camera_paths(str(video), cameras).items()}


def _extract_and_write(output_dir, video: Path, cameras, model, processor, *extract) -> VideoFeatures:
    """Extracts one video (or, with `cameras`, each camera of one recording and their fusion) and writes its outputs;
    returns the features written where a single video's go."""
    if not cameras:
        features = extract_video_features(model, processor, video, *extract)
        write_video_outputs(output_dir, video.stem, features, model.config)
        return features
    check_camera_frame_counts(str(video), cameras)
    camera_features = {
        camera: extract_video_features(model, processor, path, *extract)
        for camera, path in camera_paths(str(video), cameras).items()
    }
    features, camera_features, agreement = fuse_camera_features(model, camera_features)
    for camera, per_camera in camera_features.items():
        write_video_outputs(camera_output_dir(output_dir, camera), video.stem, per_camera, model.config)
    write_video_outputs(output_dir, video.stem, features, model.config, agreement=agreement)
    return features


def camera_agreement_shares(agreement: dict) -> dict[str, dict[str, float]]:
    """{camera: {"left_hand": share, "right_hand": share}} of frames where the camera alone gives the fused label."""
    return {
        camera: {
            key: round(float(np.mean(per_hand[hand])), 4) for hand, key in (("lh", "left_hand"), ("rh", "right_hand"))
        }
        for camera, per_hand in agreement.items()
    }

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The app's analysis of one uploaded video: `adhvit-extract`'s windows, interpolation and segment rule, streamed.

`analyse_video` runs `inference.features`' window generator and yields an `Analysis` after each batch, so a page can
draw the first seconds' timelines while the rest is computed. Every frame of an `Analysis` already has its final
value (`frames_so_far`), and the last one equals what `adhvit-extract` writes for the same video, model and stride.
Only one batch of frames is decoded at a time, so memory does not grow with the video's length.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data.decoding import VideoDecodeError
from ..inference.features import (
    VideoFeatures,
    frames_so_far,
    iter_window_outputs,
    output_paths,
    plan_windows,
    write_video_outputs,
)
from ..inference.loading import load_model_for_inference, load_processor_for_inference, resolve_device
from ..inference.timeline import timeline_segments
from ..inference.windows import window_span
from ..precision import PRECISIONS, chosen_precision
from ..utils import UserInputError, atomic_write


# Each hand's key in the timeline JSON (as adhvit-extract writes it).
JSON_KEYS = {"lh": "left_hand", "rh": "right_hand"}
CSV_COLUMNS = ("hand", "start_frame", "end_frame", "start_time", "end_time", "label", "confidence")


class AnalysisError(UserInputError):
    """A video the app cannot analyse; the message is written for the page (it names the uploaded file)."""


@dataclass
class AppModel:
    """The model the app serves and how it runs: the window stride, decoder and CPU precision."""

    model: torch.nn.Module
    processor: object
    source: str
    stride: int
    backend: str = "auto"
    bf16: bool = False
    batch_size: int = 8

    @property
    def labels(self) -> dict[str, list[str]]:
        """Each hand's label names in class-id order."""
        config = self.model.config
        return {
            hand: [names[i] for i in sorted(names)]
            for hand, names in (("lh", config.lh_id2label), ("rh", config.rh_id2label))
        }

    @property
    def window_span(self) -> int:
        return window_span(self.processor.num_frames, self.processor.sampling_rate)


def default_stride(processor) -> int:
    """The app's default stride: half a window's span (32 frames for 16 frames every 4), so neighbouring windows
    overlap by half; README "The app" has the speed figures behind this choice."""
    return max(window_span(processor.num_frames, processor.sampling_rate) // 2, 1)


def resolve_precision(precision: str, device: torch.device) -> bool:
    """Whether to run bf16 autocast: "bf16", "fp32", or "auto": on GPUs with bf16 and on CPUs with bf16 instructions
    (AMX or AVX512-BF16; ViT-B 16x224 windows ran 1.8x faster in bf16 on an AVX512-BF16 CPU without AMX, README)."""
    if precision not in PRECISIONS:
        raise UserInputError(f"--precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    return chosen_precision(precision, device).bf16  # the package's one rule, as training, predict and extract


def default_batch_size(device: torch.device) -> int:
    """Windows per forward: 8 on a GPU; 2 on a CPU, where a batch costs its windows' time (no faster per window in
    bigger batches) and the first timeline waits for the first batch."""
    return 8 if device.type == "cuda" else 2


def load_app_model(
    source: str | os.PathLike,
    stride: int | None = None,
    device: str | None = None,
    backend: str = "auto",
    precision: str = "auto",
    batch_size: int | None = None,
) -> AppModel:
    """The model folder or Hub repo `source` loaded for the app, refused (`UserInputError`) as predict refuses it."""
    resolved = resolve_device(device)
    model = load_model_for_inference(source, resolved)
    processor = load_processor_for_inference(source)
    return AppModel(
        model=model,
        processor=processor,
        source=str(source),
        stride=stride or default_stride(processor),
        backend=backend,
        bf16=resolve_precision(precision, resolved),
        batch_size=batch_size or default_batch_size(resolved),
    )


@dataclass
class Analysis:
    """Where the analysis of one video stands: the per-frame logits and segments of the frames analysed so far."""

    name: str
    fps: float
    num_frames: int
    windows_done: int
    num_windows: int
    frames_done: int
    segments: dict[str, list[dict]]
    features: VideoFeatures | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        return self.windows_done == self.num_windows

    def to_json(self) -> dict:
        """The API's answer: fps, frame count and each hand's segments, as `adhvit-extract` writes them."""
        return {
            "fps": self.fps,
            "num_frames": self.num_frames,
            "left_hand": self.segments["lh"],
            "right_hand": self.segments["rh"],
        }


def _user_message(error: Exception, path: str, name: str) -> str:
    """The decoder's message with the upload's temporary path replaced by the file's name."""
    return str(error).replace(path, name)


def analyse_video(app: AppModel, path: str | os.PathLike, name: str | None = None) -> Iterator[Analysis]:
    """Yields the analysis of the video at `path` after each batch of windows; the last one is complete and carries
    the per-frame `features`. `name` is the video's name for messages (default: the file name).

    Raises `AnalysisError` with a message for the page: no file, an empty or undecodable file.
    """
    if path is None or not str(path):
        raise AnalysisError("No video was uploaded: choose a video file (mp4, webm, mov, mkv, avi).")
    path = str(path)
    name = name or Path(path).name
    try:
        windows = plan_windows(app.processor, path, app.stride)
        outputs = {hand: [] for hand in ("shared", "lh", "rh")}
        id2label = {"lh": app.model.config.lh_id2label, "rh": app.model.config.rh_id2label}
        batches = iter_window_outputs(
            app.model, app.processor, windows, app.batch_size, backend=app.backend, bf16=app.bf16
        )
        for batch in batches:
            for key, values in batch.items():
                outputs[key].append(values)
            done = sum(len(values) for values in outputs["lh"])
            per_frame = {hand: frames_so_far(windows, torch.cat(outputs[hand])) for hand in JSON_KEYS}
            complete = done == len(windows)
            features = None
            if complete:
                shared = frames_so_far(windows, torch.cat(outputs["shared"]))
                features = VideoFeatures(
                    shared=shared.numpy(), lh=per_frame["lh"].numpy(), rh=per_frame["rh"].numpy(), fps=windows.fps
                )
            yield Analysis(
                name=name,
                fps=windows.fps,
                num_frames=windows.num_video_frames,
                windows_done=done,
                num_windows=len(windows),
                frames_done=per_frame["lh"].shape[1],
                segments={hand: timeline_segments(per_frame[hand], id2label[hand], windows.fps) for hand in JSON_KEYS},
                features=features,
            )
    except VideoDecodeError as error:
        raise AnalysisError(_user_message(error, path, name)) from None


def short_video_note(app: AppModel, analysis: Analysis) -> str | None:
    """A note for a video shorter than one window (its single window repeats the last frames), else None."""
    if analysis.num_frames >= app.window_span:
        return None
    return (
        f"{analysis.name} has {analysis.num_frames} frame(s), fewer than one window of this model spans "
        f"({app.window_span}: {app.processor.num_frames} frames every {app.processor.sampling_rate}); it was analysed "
        "as one window with its last frame repeated, so both timelines hold a single action."
    )


def segments_csv(segments: dict[str, list[dict]]) -> str:
    """Both hands' segments as CSV text, one row per segment (columns `CSV_COLUMNS`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for hand, key in JSON_KEYS.items():
        for segment in segments[hand]:
            writer.writerow({"hand": key, **segment})
    return buffer.getvalue()


def write_downloads(analysis: Analysis, config, folder: str | os.PathLike) -> list[str]:
    """Writes a complete analysis into `folder` as `adhvit-extract` lays it out (the three `.npy` feature arrays,
    `timelines/<name>.json` and `.png`), plus `timelines/<name>.csv`; returns the files to offer for download."""
    if not analysis.complete:
        raise ValueError("Only a complete analysis can be written.")
    stem = Path(analysis.name).stem
    write_video_outputs(folder, stem, analysis.features, config)
    paths = output_paths(folder, stem)
    csv_path = paths["timeline_json"].with_suffix(".csv")
    with atomic_write(csv_path, "w", encoding="utf-8", newline="") as file:
        file.write(segments_csv(analysis.segments))
    return [str(paths["timeline_json"]), str(csv_path), str(paths["timeline_png"])] + [
        str(paths[hand]) for hand in ("shared", "lh", "rh")
    ]

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Sliding windows over a whole video and the rule that turns per-window results into per-frame ones.

A window is `num_frames` frames taken every `sampling_rate` frames, so it spans `(num_frames - 1) * sampling_rate + 1`
frames. Windows start every `stride` frames from frame 0; when the last one stops short of the video's end, one more
window is placed flush with the end so every frame is covered. A video shorter than one span gets a single window
sampled by evaluation's rule (`dense_view_offsets`, VideoMAE V2's test sampling, so `adhvit-predict` and evaluation
see the same frames): every `sampling_rate`-th frame from frame 0, the last of them repeated to fill the window.

Frame assignment rule: a window's result belongs to its centre, the mean of its frame indices. A frame between two
centres gets the linear interpolation of those two windows' results; frames before the first centre take the first
window's result and frames after the last centre the last window's (held, not extrapolated).
"""

import torch

from ..processing_adhvit import dense_view_offsets


def window_frame_indices(num_video_frames: int, num_frames: int, sampling_rate: int, stride: int) -> torch.Tensor:
    """Frame indices of every window over a video: LongTensor [num_windows, num_frames]."""
    for name, value in (
        ("num_video_frames", num_video_frames),
        ("num_frames", num_frames),
        ("sampling_rate", sampling_rate),
        ("stride", stride),
    ):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")
    span = window_span(num_frames, sampling_rate)
    if num_video_frames < span:
        return dense_view_offsets(num_video_frames, num_frames, sampling_rate, num_segments=1)
    last_start = max(num_video_frames - span, 0)
    starts = torch.arange(0, last_start + 1, stride)
    if starts[-1] != last_start:
        starts = torch.cat([starts, torch.tensor([last_start])])
    offsets = torch.arange(num_frames) * sampling_rate
    return (starts[:, None] + offsets[None, :]).clamp(max=num_video_frames - 1)


def window_span(num_frames: int, sampling_rate: int) -> int:
    """Frames from the first to the last frame of one window."""
    return (num_frames - 1) * sampling_rate + 1


def short_video_message(video, num_video_frames: int, num_frames: int, sampling_rate: int) -> str | None:
    """The warning for a video shorter than one window (None when it is not): which frames fill the window."""
    span = window_span(num_frames, sampling_rate)
    if num_video_frames >= span:
        return None
    # name the frames really taken: a 1- or 2-frame video has no frame `sampling_rate` to list
    indices = window_frame_indices(num_video_frames, num_frames, sampling_rate, stride=sampling_rate)[0].tolist()
    distinct = ", ".join(map(str, sorted(set(indices))))
    return (
        f"{video}: {num_video_frames} frame(s), shorter than one window ({num_frames} frames every {sampling_rate}: "
        f"{span} frames); the window takes frame(s) {distinct}, repeating frame {indices[-1]} to fill its "
        f"{num_frames} places"
    )


def window_centres(window_indices: torch.Tensor) -> torch.Tensor:
    """The frame each window's result is assigned to: the mean of its frame indices, float [num_windows]."""
    return window_indices.double().mean(dim=1)


def windows_to_frames(window_values: torch.Tensor, centres: torch.Tensor, num_video_frames: int) -> torch.Tensor:
    """Per-frame values [D, num_video_frames] from per-window values [num_windows, D] by the module's rule."""
    if window_values.shape[0] != centres.shape[0]:
        raise ValueError(f"Got {window_values.shape[0]} window values for {centres.shape[0]} window centres.")
    frames = torch.arange(num_video_frames, dtype=centres.dtype)
    right = torch.searchsorted(centres, frames).clamp(max=len(centres) - 1)
    left = (right - 1).clamp(min=0)
    gap = centres[right] - centres[left]
    weight = torch.where(gap > 0, (frames - centres[left]) / gap.where(gap > 0, 1.0), 1.0).clamp(0.0, 1.0)
    weight = weight.to(window_values.dtype)[:, None]
    per_frame = window_values[left] * (1 - weight) + window_values[right] * weight
    return per_frame.T.contiguous()

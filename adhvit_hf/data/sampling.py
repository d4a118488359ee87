# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Training frame sampling with VideoMAE V2's semantics (evaluation views live in the processor)."""

from __future__ import annotations

import torch

from ..processing_adhvit import frame_range


def linspace_floor(start: int, stop: int, num: int) -> torch.Tensor:
    """floor(numpy.linspace(start, stop, num)) in exact integer arithmetic (no float rounding at integers)."""
    if num == 1:
        return torch.tensor([start], dtype=torch.long)
    steps = torch.arange(num, dtype=torch.long)
    return start + torch.div(steps * (stop - start), num - 1, rounding_mode="floor")


def dense_clip_offsets(length: int, num_frames: int, sampling_rate: int, generator: torch.Generator) -> torch.Tensor:
    """VideoMAE V2's training clip inside `length` frames: a random span of num_frames * sampling_rate frames.

    A shorter video takes every `sampling_rate`-th frame of the whole video and repeats its last frame to fill
    the clip, as VideoMAE V2 does.
    """
    span = num_frames * sampling_rate
    if length <= span:
        num_spread = length // sampling_rate
        spread = linspace_floor(0, length, num_spread) if num_spread else torch.empty(0, dtype=torch.long)
        padding = torch.full((num_frames - num_spread,), length, dtype=torch.long)
        return torch.cat([spread, padding]).clamp(0, length - 1)
    end = int(torch.randint(span, length, (1,), generator=generator))
    return linspace_floor(end - span, end, num_frames).clamp(end - span, end - 1)


def sparse_clip_offsets(length: int, num_frames: int, generator: torch.Generator) -> torch.Tensor:
    """TSN-style sampling: one random frame from each of num_frames equal segments (VideoMAE V2 --sparse_sample).

    As upstream, the offset inside a segment of `seg` frames is drawn from [0, seg - 2]. A video with fewer
    frames than segments (where upstream would index frame -1) spreads its frames evenly instead.
    """
    segment = length // num_frames
    bases = torch.arange(num_frames, dtype=torch.long)
    if segment == 0:
        return bases * length // num_frames
    if segment == 1:
        return bases
    return bases * segment + torch.randint(0, segment - 1, (num_frames,), generator=generator)


def train_clip_indices(
    num_video_frames: int,
    num_frames: int,
    sampling_rate: int,
    generator: torch.Generator,
    start: int | None = None,
    end: int | None = None,
    sparse: bool = False,
) -> torch.Tensor:
    """Frame indices [num_frames] of one random training clip, drawn only inside [start, end] when given."""
    first, length = frame_range(num_video_frames, start, end)
    if sparse:
        offsets = sparse_clip_offsets(length, num_frames, generator)
    else:
        offsets = dense_clip_offsets(length, num_frames, sampling_rate, generator)
    return offsets + first

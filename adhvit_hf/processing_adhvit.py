# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Evaluation-time video preprocessing for ADH-ViT, saved with the model as `preprocessor_config.json`.

This file is shipped as remote code, so it imports only torch, torchvision, numpy and transformers.
"""

from __future__ import annotations

import os
from typing import TypedDict

import numpy as np
import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F
from transformers.image_processing_base import BatchFeature, ImageProcessingMixin


IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def frame_range(num_video_frames: int, start: int | None = None, end: int | None = None) -> tuple[int, int]:
    """(first, length) of the inclusive frame range [start, end] clipped to the video; None or -1: whole video."""
    if num_video_frames < 1:
        raise ValueError(f"num_video_frames must be >= 1, got {num_video_frames}")
    first = 0 if start is None or start < 0 else min(start, num_video_frames - 1)
    last = num_video_frames - 1 if end is None or end < 0 else min(end, num_video_frames - 1)
    return first, max(last - first + 1, 1)


def dense_view_offsets(length: int, num_frames: int, sampling_rate: int, num_segments: int) -> torch.Tensor:
    """VideoMAE V2 test views [num_segments, num_frames] over `length` frames (dense sampling).

    Every `sampling_rate`-th frame is taken (the last one repeated up to num_frames) and the views are windows
    of num_frames at evenly spaced starts. With a single segment the window is centred (upstream divides by 0).
    """
    strided = list(range(0, length, sampling_rate))
    strided += [strided[-1]] * (num_frames - len(strided))
    spare = len(strided) - num_frames
    if num_segments == 1:
        starts = [spare // 2]
    else:
        step = max(spare / (num_segments - 1), 0)
        starts = [int(segment * step) for segment in range(num_segments)]
    return torch.tensor([strided[s : s + num_frames] for s in starts], dtype=torch.long)


def sparse_view_offsets(length: int, num_frames: int, num_segments: int) -> torch.Tensor:
    """VideoMAE V2 test views for --sparse_sample: view k takes frame int(k * tick / num_segments + tick * x)."""
    tick = length / num_frames
    views = [[int(k * tick / num_segments + tick * x) for x in range(num_frames)] for k in range(num_segments)]
    return torch.tensor(views, dtype=torch.long)


def crop_starts(long_side: int, crop_size: int, num_crops: int) -> list[int]:
    """Offsets of `num_crops` crops along the long side: evenly spaced, the first and last at the edges.

    One crop is centred like torchvision's center_crop (VideoMAE V2 validation).
    """
    if num_crops == 1:
        return [int(round((long_side - crop_size) / 2.0))]
    step = (long_side - crop_size) / (num_crops - 1)
    return [int(i * step) for i in range(num_crops)]


STOCK_PIPELINE_REFUSAL = (
    "ADH-ViT predicts one label per hand, which the video-classification pipeline cannot return: use "
    'pipeline("dual-hand-video-classification", model=..., trust_remote_code=True) instead.'
)


class AdhVitVideoProcessorKwargs(TypedDict, total=False):
    """The settings `from_pretrained`/`pipeline()` may pass through to the processor."""

    num_frames: int
    sampling_rate: int
    sparse_sample: bool
    test_num_segment: int
    test_num_crop: int
    short_side_size: int
    crop_size: int
    image_mean: list[float]
    image_std: list[float]
    resample: str


class AdhVitVideoProcessor(ImageProcessingMixin):
    """Turns decoded videos into ADH-ViT evaluation views, exactly as evaluation and inference need them.

    A video is decoded at `view_frame_indices(...)`, giving (test_num_segment * num_frames, H, W, 3) uint8
    frames; calling the processor on one or more such videos gives `pixel_values` of shape
    (batch, test_num_segment * test_num_crop, num_frames, 3, crop_size, crop_size), views ordered segment-major.
    Each frame is resized so its short side is `short_side_size`, cropped (`test_num_crop` crops along the long
    side, centred on the short side) and normalised with `image_mean`/`image_std`.
    """

    model_input_names = ["pixel_values"]
    valid_kwargs = AdhVitVideoProcessorKwargs

    def __init__(
        self,
        num_frames: int = 16,
        sampling_rate: int = 4,
        sparse_sample: bool = False,
        test_num_segment: int = 10,
        test_num_crop: int = 3,
        short_side_size: int = 224,
        crop_size: int = 224,
        image_mean: list[float] | None = None,
        image_std: list[float] | None = None,
        resample: str = "bilinear",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if short_side_size < crop_size:
            raise ValueError(f"short_side_size ({short_side_size}) must be >= crop_size ({crop_size})")
        for name, value in (
            ("num_frames", num_frames),
            ("sampling_rate", sampling_rate),
            ("test_num_segment", test_num_segment),
            ("test_num_crop", test_num_crop),
        ):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.num_frames = num_frames
        self.sampling_rate = sampling_rate
        self.sparse_sample = sparse_sample
        self.test_num_segment = test_num_segment
        self.test_num_crop = test_num_crop
        self.short_side_size = short_side_size
        self.crop_size = crop_size
        self.image_mean = list(image_mean) if image_mean is not None else list(IMAGENET_MEAN)
        self.image_std = list(image_std) if image_std is not None else list(IMAGENET_STD)
        self.resample = resample

    @property
    def num_views(self) -> int:
        return self.test_num_segment * self.test_num_crop

    def view_frame_indices(self, num_video_frames: int, start: int | None = None, end: int | None = None):
        """Frame indices [test_num_segment, num_frames] of all test views, inside [start, end] when given."""
        first, length = frame_range(num_video_frames, start, end)
        if self.sparse_sample:
            offsets = sparse_view_offsets(length, self.num_frames, self.test_num_segment)
        else:
            offsets = dense_view_offsets(length, self.num_frames, self.sampling_rate, self.test_num_segment)
        return offsets + first

    def decode_size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) with the short side at short_side_size: the size to decode at so no resize is left to do."""
        short, long = min(height, width), max(height, width)
        resized_long = int(self.short_side_size * long / short)
        return (resized_long, self.short_side_size) if height >= width else (self.short_side_size, resized_long)

    def _resize(self, frames: torch.Tensor) -> torch.Tensor:
        """(T, 3, H, W) uint8 with the short side at short_side_size; frames already that size are kept as is."""
        target = self.decode_size(*frames.shape[-2:])
        if tuple(frames.shape[-2:]) == target:
            return frames
        return F.resize(frames, list(target), interpolation=InterpolationMode(self.resample), antialias=True)

    def normalize(self, pixel_values: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """uint8 views (..., 3, H, W) -> `dtype`, scaled to [0, 1] and normalised with image_mean/image_std.

        Views can stay uint8 (a quarter of float32's memory) through decoding, collation and the transfer to the
        device, and be normalised here in the model's dtype as the last step.
        """
        if pixel_values.dtype != torch.uint8:
            raise ValueError(f"expected uint8 views to normalise, got {pixel_values.dtype}")
        mean = torch.tensor(self.image_mean, dtype=dtype, device=pixel_values.device).view(3, 1, 1)
        std = torch.tensor(self.image_std, dtype=dtype, device=pixel_values.device).view(3, 1, 1)
        return pixel_values.to(dtype).div_(255).sub_(mean).div_(std)

    def _crop_views(self, frames: torch.Tensor, do_normalize: bool = True) -> torch.Tensor:
        """Resized (T, 3, H, W) uint8 -> (test_num_crop, T, 3, crop_size, crop_size), float32 normalised or uint8."""
        height, width = frames.shape[-2:]
        offset_short = int(round((min(height, width) - self.crop_size) / 2.0))
        crops = []
        for offset_long in crop_starts(max(height, width), self.crop_size, self.test_num_crop):
            top, left = (offset_long, offset_short) if height >= width else (offset_short, offset_long)
            crops.append(frames[..., top : top + self.crop_size, left : left + self.crop_size])
        crops = torch.stack(crops)
        return self.normalize(crops) if do_normalize else crops

    def preprocess_clip(self, frames) -> torch.Tensor:
        """One window of uint8 frames (T, H, W, 3) -> float (test_num_crop, T, 3, crop_size, crop_size).

        The spatial views of one temporal window, for feature extraction over sliding windows.
        """
        return self._crop_views(self._resize(self._as_tchw(frames)))

    def preprocess_video(self, frames, do_normalize: bool = True) -> torch.Tensor:
        """(test_num_segment * num_frames, H, W, 3) uint8 -> (num_views, num_frames, 3, crop, crop).

        float32 normalised views, or with `do_normalize=False` uint8 views for `normalize` to finish later.
        """
        frames = self._as_tchw(frames)
        expected = self.test_num_segment * self.num_frames
        if frames.shape[0] != expected:
            raise ValueError(
                f"expected {expected} frames (test_num_segment={self.test_num_segment} x num_frames="
                f"{self.num_frames}), got {frames.shape[0]}"
            )
        segments = self._resize(frames).unflatten(0, (self.test_num_segment, self.num_frames))
        return torch.cat([self._crop_views(segment, do_normalize) for segment in segments])

    @staticmethod
    def _as_tchw(frames) -> torch.Tensor:
        tensor = torch.as_tensor(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
        if tensor.ndim != 4 or tensor.shape[-1] != 3 or tensor.dtype != torch.uint8:
            raise ValueError(f"expected uint8 frames of shape (T, H, W, 3), got {tuple(tensor.shape)} {tensor.dtype}")
        return tensor.permute(0, 3, 1, 2)

    def __call__(self, videos, return_tensors: str | None = "pt", do_normalize: bool = True, **kwargs) -> BatchFeature:
        """One video or a list of videos (see class docstring) -> BatchFeature with `pixel_values`.

        `do_normalize=False` keeps the views uint8; `normalize(pixel_values, model.dtype)` finishes them.
        """
        if isinstance(videos, (str, os.PathLike)) or "do_sample_frames" in kwargs:
            # transformers' video-classification pipeline hands over a file with one label set in mind
            raise ValueError(STOCK_PIPELINE_REFUSAL)
        if isinstance(videos, (torch.Tensor, np.ndarray)) and np.ndim(videos) == 4:
            videos = [videos]
        pixel_values = torch.stack([self.preprocess_video(video, do_normalize) for video in videos])
        return BatchFeature({"pixel_values": pixel_values}, tensor_type=return_tensors)


def processor_with_views(processor, **settings):
    """`processor` itself, or a copy with the given settings (`test_num_segment`, `sampling_rate`, ...) replaced."""
    overrides = {key: value for key, value in settings.items() if value != getattr(processor, key)}
    return type(processor).from_dict({**processor.to_dict(), **overrides}) if overrides else processor


__all__ = ["AdhVitVideoProcessor"]

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Decode-and-augment transforms for `datasets.Dataset.set_transform` (train clips and evaluation views)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

from ..processing_adhvit import AdhVitVideoProcessor
from .cameras import CAMERA_TRAINING, camera_path, training_camera
from .decoding import open_video, read_view_frames
from .rand_augment import (
    FILL,
    ClipRandAugment,
    RandAugmentSpec,
    apply_ops,
    op_matrix,
    python_random,
    split_trailing_geometric,
    warp,
)
from .sampling import train_clip_indices


FLIP_POLICIES = ("none", "plain", "swap_hands")
ERASE_MODES = ("pixel", "const")
SWAPPED_HAND = {"lh": "rh", "rh": "lh"}
# VideoMAE V2's random resized crop ranges (dataset/datasets.py, _aug_frame).
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
# timm's RandomErasing defaults, which the original keeps: box area share and log-uniform aspect range.
ERASE_AREA = (0.02, 1.0 / 3.0)
ERASE_LOG_ASPECT = (math.log(0.3), math.log(1.0 / 0.3))
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


def seed_from(generator: torch.Generator) -> int:
    """A fresh seed drawn from `generator`, for code that needs a seed rather than a generator."""
    return int(torch.randint(0, 2**62, (1,), generator=generator))


def row_generator(seed: int | None) -> torch.Generator:
    """The generator for one row: from the row's seed, or from torch's (seeded) global RNG when there is none."""
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)))
    return torch.Generator().manual_seed(int(seed))


def crop_box(height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float]) -> tuple[int, ...]:
    """(top, left, h, w) of a random resized crop, drawn with `random` as VideoMAE V2 does (10 tries, then the
    centred crop of the nearest allowed aspect ratio)."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = random.uniform(*scale) * area
        aspect_ratio = math.exp(random.uniform(*log_ratio))
        w = round(math.sqrt(target_area * aspect_ratio))
        h = round(math.sqrt(target_area / aspect_ratio))
        if 0 < w <= width and 0 < h <= height:
            return random.randint(0, height - h), random.randint(0, width - w), h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, round(width / min(ratio))
    elif in_ratio > max(ratio):
        w, h = round(height * max(ratio)), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def erase_boxes(height: int, width: int, count: int) -> list[tuple[int, int, int, int]]:
    """(top, left, h, w) of `count` erasing boxes, drawn with `random` as timm's RandomErasing does (100 tries a box;
    the area range is shared among the boxes)."""
    boxes = []
    for _ in range(count):
        for _ in range(100):
            target_area = random.uniform(*ERASE_AREA) * height * width / count
            aspect_ratio = math.exp(random.uniform(*ERASE_LOG_ASPECT))
            h = round(math.sqrt(target_area * aspect_ratio))
            w = round(math.sqrt(target_area / aspect_ratio))
            if w < width and h < height:
                boxes.append((random.randint(0, height - h), random.randint(0, width - w), h, w))
                break
    return boxes


@dataclass(frozen=True)
class ClipParams:
    """Every random choice of one clip's augmentation, drawn from its seed."""

    ops: list
    crop: tuple[int, int, int, int]
    erase: list


class ClipAugmentation:
    """Training augmentation of one clip (T, 3, H, W) uint8 -> float (T, 3, size, size), as the original ADH-ViT.

    In the original's order: RandAugment on the full decoded frames (timm's op set, each op with p=0.5, magnitude
    from N(m, mstd), the same op and magnitude on every frame), random resized crop (bilinear, VideoMAE V2 ranges),
    optional horizontal flip, normalisation, random erasing (one box set for all frames, per-frame noise). Cheaper
    than running it step by step: colour ops stay uint8, and the RandAugment geometric ops that end the chain ride
    along with the crop and the flip in one warp (one resampling instead of two; the geometry and the grey fill
    are the original's). All randomness comes from the `seed` argument, so a clip can be redone exactly, on the CPU
    or on the training device (`device_augment`).
    """

    def __init__(
        self,
        size: int,
        image_mean: list[float],
        image_std: list[float],
        aa: str | None = None,
        reprob: float = 0.0,
        remode: str = "pixel",
        recount: int = 1,
        interpolation: str = "bicubic",
        scale: tuple[float, float] = CROP_SCALE,
        ratio: tuple[float, float] = CROP_RATIO,
    ):
        if remode not in ERASE_MODES:
            raise ValueError(f"--remode must be one of {ERASE_MODES}, got {remode!r}")
        if recount < 1:
            raise ValueError(f"--recount must be >= 1, got {recount}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"--train_interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
        self.size = size
        self.randaugment = ClipRandAugment(RandAugmentSpec.parse(aa)) if aa else None
        self.interpolation = interpolation
        self.scale, self.ratio = scale, ratio
        self.image_mean = torch.tensor(image_mean).view(1, 3, 1, 1) * 255.0
        self.image_std = torch.tensor(image_std).view(1, 3, 1, 1) * 255.0
        self.reprob, self.remode, self.recount = reprob, remode, recount

    def draw(self, seed: int, height: int, width: int) -> ClipParams:
        """The clip's RandAugment ops, crop box and erasing boxes, from `seed` alone."""
        with python_random(seed):
            ops = self.randaugment.draw() if self.randaugment is not None else []
            crop = crop_box(height, width, self.scale, self.ratio)
            erase = []
            if self.reprob > 0 and random.random() < self.reprob:
                erase = erase_boxes(self.size, self.size, random.randint(1, self.recount))
        return ClipParams(ops, crop, erase)

    def crop_matrix(self, crop: tuple[int, int, int, int], flip: bool) -> torch.Tensor:
        """Output pixel centre -> frame pixel centre of the crop resized to `size` (then mirrored when `flip`)."""
        top, left, h, w = crop
        matrix = torch.tensor(
            [[w / self.size, 0.0, left], [0.0, h / self.size, top], [0.0, 0.0, 1.0]], dtype=torch.float64
        )
        if flip:
            matrix = matrix @ torch.tensor(
                [[-1.0, 0.0, self.size], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64
            )
        return matrix

    def __call__(self, clip: torch.Tensor, seed: int, flip: bool = False) -> torch.Tensor:
        height, width = clip.shape[-2:]
        params = self.draw(seed, height, width)
        on_frames, folded = split_trailing_geometric(params.ops)
        clip = apply_ops(clip, on_frames, self.interpolation)
        matrices = [self.crop_matrix(params.crop, flip)]
        matrices += [op_matrix(name, args, height, width) for name, args in reversed(folded)]
        top, left, h, w = params.crop
        # torch's interpolate clamps at the crop's border, so the crop never reads pixels outside its box.
        video = warp(
            clip.float(),
            matrices,
            (self.size, self.size),
            "bilinear",
            fill=FILL if folded else None,
            clamp=(left + 0.5, top + 0.5, left + w - 0.5, top + h - 0.5),
        )
        device = video.device
        video = (video - self.image_mean.to(device)) / self.image_std.to(device)
        if params.erase:
            generator = torch.Generator().manual_seed(seed)
            for top, left, h, w in params.erase:
                shape = (video.shape[0], 3, h, w)
                noise = torch.randn(shape, generator=generator) if self.remode == "pixel" else torch.zeros(shape)
                video[:, :, top : top + h, left : left + w] = noise.to(device)
        return video


class VideoTransform:
    """Batch transform for `Dataset.set_transform`: rows (video, start, end, label, hand[, seed]) -> model inputs.

    Train: one clip is decoded per row and augmented `num_sample` times; `pixel_values` per row is
    (num_sample, T, 3, crop, crop). Eval: all views from the processor, (V, T, 3, crop, crop) per row.
    `crop_scale` is the random resized crop's area range (VideoMAE V2: 0.08-1). Returns {"pixel_values", "labels",
    "hand"}, with `device_augmentation` also "augment_seeds" and "augment_flips" (train rows stay decoded uint8).
    With flip "swap_hands" a flipped row's hand switches lh <-> rh (the flip is decided once per row so all its
    samples agree); "plain" flips each sample independently and keeps the hand, as the original does.
    A video that cannot be decoded raises `VideoDecodeError` naming it.
    With `cameras` the rows' videos are `{camera}` templates (`data.cameras`): a training row is read from one camera
    drawn from its seed (`camera_training` "pooled") or from every camera, (num_sample, cameras, T, 3, crop, crop)
    with one augmentation for all ("feature_fusion"); evaluation views are (cameras, V, T, 3, crop, crop).
    """

    def __init__(
        self,
        processor: AdhVitVideoProcessor,
        train: bool,
        num_sample: int = 1,
        aa: str | None = None,
        reprob: float = 0.0,
        remode: str = "pixel",
        recount: int = 1,
        flip: str = "none",
        train_interpolation: str = "bicubic",
        crop_scale: tuple[float, float] = CROP_SCALE,
        backend: str = "auto",
        decode_threads: int = 1,
        device_augmentation: bool = False,
        cameras: list[str] | None = None,
        camera_training: str = "pooled",
        decode_device: str | None = None,
    ):
        if camera_training not in CAMERA_TRAINING:
            raise ValueError(f"--camera_training must be one of {CAMERA_TRAINING}, got {camera_training!r}")
        if cameras and camera_training == "feature_fusion" and device_augmentation:
            raise ValueError(
                "--camera_training feature_fusion does not run with --device_augmentation (the device augmentation "
                "takes one clip per row); leave one of them out"
            )
        self.cameras = list(cameras) if cameras else None
        self.camera_training = camera_training
        if flip not in FLIP_POLICIES:
            raise ValueError(f"--flip must be one of {FLIP_POLICIES}, got {flip!r}")
        if num_sample < 1:
            raise ValueError(f"--num_sample must be >= 1, got {num_sample}")
        self.processor = processor
        self.train = train
        self.num_sample = num_sample
        self.flip = flip
        self.backend = backend
        self.decode_threads = decode_threads
        self.device_augmentation = device_augmentation
        # torchcodec on CUDA (NVDEC): training clips are decoded on the GPU and stay there for DeviceAugmentation.
        self.decode_device = decode_device
        self.augment = ClipAugmentation(
            processor.crop_size,
            processor.image_mean,
            processor.image_std,
            aa=aa,
            reprob=reprob,
            remode=remode,
            recount=recount,
            interpolation=train_interpolation,
            scale=tuple(crop_scale),
        )

    def train_clips(self, video: str, start: int, end: int, hand: str, seed: int | None):
        """(pixel_values, hand after flipping, augmentation seeds, flips) for one row.

        pixel_values is (num_sample, T, 3, crop, crop) float, or with `device_augmentation` the decoded uint8 clip
        (num_sample, T, 3, H, W) (one clip, not copied) for `DeviceAugmentation` to augment with the same seeds.
        """
        generator = row_generator(seed)
        if self.cameras and self.camera_training == "pooled":
            video = camera_path(video, training_camera(seed_from(generator) if seed is None else seed, self.cameras))
        elif self.cameras:
            return self.fused_train_clips(video, start, end, hand, generator)
        reader = self._open(video)
        clip = reader.get_frames(self._clip_indices(reader.num_frames, start, end, generator)).permute(0, 3, 1, 2)
        hand, seeds, flips = self._draw_samples(hand, generator)
        if self.device_augmentation:
            return clip.unsqueeze(0).expand(self.num_sample, -1, -1, -1, -1), hand, seeds, flips
        return torch.stack([self.augment(clip, s, flip=f) for s, f in zip(seeds, flips)]), hand, seeds, flips

    def _open(self, video: str):
        return open_video(video, backend=self.backend, num_threads=self.decode_threads, device=self.decode_device)

    def _clip_indices(self, num_video_frames: int, start: int, end: int, generator: torch.Generator) -> torch.Tensor:
        processor = self.processor
        return train_clip_indices(
            num_video_frames,
            processor.num_frames,
            processor.sampling_rate,
            generator,
            start=start,
            end=end,
            sparse=processor.sparse_sample,
        )

    def _draw_samples(self, hand: str, generator: torch.Generator) -> tuple[str, list[int], list[bool]]:
        """The row's hand after flipping and each sample's augmentation seed and flip."""
        flip_row = self.flip == "swap_hands" and bool(torch.rand((), generator=generator) < 0.5)
        seeds, flips = [], []
        for _ in range(self.num_sample):
            flips.append(flip_row or (self.flip == "plain" and bool(torch.rand((), generator=generator) < 0.5)))
            seeds.append(seed_from(generator))
        return (SWAPPED_HAND[hand] if flip_row else hand), seeds, flips

    def fused_train_clips(self, video: str, start: int, end: int, hand: str, generator: torch.Generator):
        """`--camera_training feature_fusion`: the same frames of every camera, each augmented with the same seeds
        (the same choices; a crop box scales with the camera's frame size), (num_sample, cameras, T, 3, crop, crop)."""
        readers = [self._open(camera_path(video, camera)) for camera in self.cameras]
        indices = self._clip_indices(min(reader.num_frames for reader in readers), start, end, generator)
        clips = [reader.get_frames(indices).permute(0, 3, 1, 2) for reader in readers]
        hand, seeds, flips = self._draw_samples(hand, generator)
        samples = [torch.stack([self.augment(clip, s, flip=f) for clip in clips]) for s, f in zip(seeds, flips)]
        return torch.stack(samples), hand, seeds, flips

    def eval_views(self, video: str, start: int, end: int) -> torch.Tensor:
        """All evaluation views (V, T, 3, crop, crop) of one row as uint8 ((cameras, V, ...) with cameras); the trainer
        normalises them on the device."""
        videos = [camera_path(video, camera) for camera in self.cameras] if self.cameras else [video]
        views = []
        for path in videos:  # each camera's file opened once
            frames = read_view_frames(path, self.processor, start, end, self.backend, self.decode_threads)
            views.append(self.processor.preprocess_video(frames, do_normalize=False))
        return torch.stack(views) if self.cameras else views[0]

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        seeds = batch.get("seed") or [None] * len(batch["video"])
        out = {"pixel_values": [], "labels": list(batch["label"]), "hand": []}
        if self.train and self.device_augmentation:
            out.update(augment_seeds=[], augment_flips=[])
        for video, start, end, hand, seed in zip(batch["video"], batch["start"], batch["end"], batch["hand"], seeds):
            if self.train:
                clips, hand, augment_seeds, flips = self.train_clips(video, start, end, hand, seed)
                if self.device_augmentation:
                    out["augment_seeds"].append(augment_seeds)
                    out["augment_flips"].append(flips)
            else:
                clips = self.eval_views(video, start, end)
            out["pixel_values"].append(clips)
            out["hand"].append(hand)
        return out

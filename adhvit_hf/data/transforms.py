"""Decode-and-augment transforms for `datasets.Dataset.set_transform` (train clips and evaluation views)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from ..processing_adhvit import AdhVitVideoProcessor
from .decoding import open_video
from .sampling import train_clip_indices


FLIP_POLICIES = ("none", "plain", "swap_hands")
ERASE_MODES = ("pixel", "const")
SWAPPED_HAND = {"lh": "rh", "rh": "lh"}
# VideoMAE V2's random resized crop ranges (dataset/datasets.py, _aug_frame).
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
# timm's RandAugment magnitudes run from 0 to 10; eleven torchvision bins map them one to one.
RANDAUG_MAX_MAGNITUDE = 10
# timm fills pixels uncovered by rotate/shear/translate with mid-grey.
RANDAUG_FILL = 128


@dataclass(frozen=True)
class RandAugmentSpec:
    """Parsed timm-style RandAugment string such as "rand-m7-n4-mstd0.5-inc1"."""

    magnitude: float = 9.0
    num_ops: int = 2
    magnitude_std: float = 0.0

    @classmethod
    def parse(cls, text: str) -> "RandAugmentSpec":
        """Parse `rand-m<M>-n<N>[-mstd<S>][-inc<0|1>]`; raises ValueError naming the bad part."""
        parts = text.split("-")
        if parts[0] != "rand":
            raise ValueError(f"--aa {text!r}: only RandAugment strings starting with 'rand' are supported")
        values = {"magnitude": cls.magnitude, "num_ops": cls.num_ops, "magnitude_std": cls.magnitude_std}
        for part in parts[1:]:
            match = re.fullmatch(r"(mstd|inc|m|n)(\d+(?:\.\d+)?)", part)
            if match is None:
                raise ValueError(
                    f"--aa {text!r}: cannot parse {part!r} (expected m<int>, n<int>, mstd<float>, inc<0|1>)"
                )
            key, value = match.groups()
            if key == "m":
                values["magnitude"] = float(value)
            elif key == "n":
                values["num_ops"] = int(float(value))
            elif key == "mstd":
                values["magnitude_std"] = float(value)
            # inc1 selects timm's "increasing" ops (stronger posterize/solarize at higher magnitude), which is how
            # torchvision's RandAugment already scales them; inc0 is accepted and treated the same.
        return cls(**values)


def seed_from(generator: torch.Generator) -> int:
    """A fresh seed drawn from `generator`, for code that can only use torch's global RNG."""
    return int(torch.randint(0, 2**62, (1,), generator=generator))


def row_generator(seed: int | None) -> torch.Generator:
    """The generator for one row: from the row's seed, or from torch's (seeded) global RNG when there is none."""
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)))
    return torch.Generator().manual_seed(int(seed))


class ClipAugmentation:
    """Training augmentation of one clip (T, 3, H, W) uint8 -> float (T, 3, size, size), same params every frame.

    Random resized crop (VideoMAE V2 scale/ratio), RandAugment, optional horizontal flip, normalisation, random
    erasing. Differences from VideoMAE V2 / timm, all documented: the crop comes first (so RandAugment works on
    the small crop, and its translate range follows the crop size as in VideoMAE V2), RandAugment is torchvision's
    (every chosen op applied, Identity in the pool, no Invert/SolarizeAdd, magnitude noise rounded to integer
    levels) instead of timm's (each op applied with p=0.5), and one erasing box is shared by all frames.
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
        self.randaugment = RandAugmentSpec.parse(aa) if aa else None
        self.interpolation = InterpolationMode(interpolation)
        self.crop = v2.RandomResizedCrop(size, scale=scale, ratio=ratio, interpolation=self.interpolation)
        self.image_mean, self.image_std = image_mean, image_std
        self.reprob, self.recount = reprob, recount
        self.erase = v2.RandomErasing(p=1.0, value="random" if remode == "pixel" else 0.0)

    def _randaugment(self) -> v2.Transform:
        spec = self.randaugment
        magnitude = spec.magnitude
        if spec.magnitude_std > 0:
            magnitude += float(torch.randn(())) * spec.magnitude_std
        level = int(round(min(max(magnitude, 0.0), RANDAUG_MAX_MAGNITUDE)))
        # torchvision's tensor affine/rotate kernels offer only nearest and bilinear (no bicubic).
        nearest = self.interpolation == InterpolationMode.NEAREST
        return v2.RandAugment(
            num_ops=spec.num_ops,
            magnitude=level,
            num_magnitude_bins=RANDAUG_MAX_MAGNITUDE + 1,
            interpolation=InterpolationMode.NEAREST if nearest else InterpolationMode.BILINEAR,
            fill=RANDAUG_FILL,
        )

    def __call__(self, clip: torch.Tensor, generator: torch.Generator, flip: bool = False) -> torch.Tensor:
        # torchvision's random transforms draw from torch's global RNG: run them on a forked RNG seeded from the
        # row generator, so the result depends on the row seed alone (exact resume) and global state is untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed_from(generator))
            video = self.crop(tv_tensors.Video(clip))
            if self.randaugment is not None:
                video = self._randaugment()(video)
            if flip:
                video = F.horizontal_flip(video)
            video = F.normalize(F.to_dtype(video, torch.float32, scale=True), self.image_mean, self.image_std)
            if self.reprob > 0 and float(torch.rand(())) < self.reprob:
                for _ in range(int(torch.randint(1, self.recount + 1, ()))):
                    video = self.erase(video)
        return video.as_subclass(torch.Tensor)


class VideoTransform:
    """Batch transform for `Dataset.set_transform`: rows (video, start, end, label, hand[, seed]) -> model inputs.

    Train: one clip is decoded per row and augmented `num_sample` times; `pixel_values` per row is
    (num_sample, T, 3, crop, crop). Eval: all views from the processor, (V, T, 3, crop, crop) per row.
    `crop_scale` is the random resized crop's area range (VideoMAE V2: 0.08-1). Returns {"pixel_values", "labels",
    "hand"}. With flip "swap_hands" a flipped row's hand switches lh <-> rh
    (the flip is decided once per row so all its samples agree); "plain" flips each sample independently.
    A video that cannot be decoded raises `VideoDecodeError` naming it.
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
    ):
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
        """(pixel_values (num_sample, T, 3, crop, crop), hand after flipping) for one row."""
        generator = row_generator(seed)
        reader = open_video(video, backend=self.backend, num_threads=self.decode_threads)
        indices = train_clip_indices(
            reader.num_frames,
            self.processor.num_frames,
            self.processor.sampling_rate,
            generator,
            start=start,
            end=end,
            sparse=self.processor.sparse_sample,
        )
        clip = reader.get_frames(indices).permute(0, 3, 1, 2)
        flip_row = self.flip == "swap_hands" and bool(torch.rand((), generator=generator) < 0.5)
        samples = []
        for _ in range(self.num_sample):
            flip = flip_row or (self.flip == "plain" and bool(torch.rand((), generator=generator) < 0.5))
            samples.append(self.augment(clip, generator, flip=flip))
        return torch.stack(samples), SWAPPED_HAND[hand] if flip_row else hand

    def eval_views(self, video: str, start: int, end: int) -> torch.Tensor:
        """All evaluation views (V, T, 3, crop, crop) of one row, decoded already resized."""
        reader = open_video(video, backend=self.backend, num_threads=self.decode_threads)
        indices = self.processor.view_frame_indices(reader.num_frames, start, end)
        frames = reader.get_frames(indices.flatten(), size=self.processor.decode_size(reader.height, reader.width))
        return self.processor.preprocess_video(frames)

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        seeds = batch.get("seed") or [None] * len(batch["video"])
        pixel_values, hands = [], []
        for video, start, end, hand, seed in zip(batch["video"], batch["start"], batch["end"], batch["hand"], seeds):
            if self.train:
                clips, hand = self.train_clips(video, start, end, hand, seed)
            else:
                clips = self.eval_views(video, start, end)
            pixel_values.append(clips)
            hands.append(hand)
        return {"pixel_values": pixel_values, "labels": list(batch["label"]), "hand": hands}

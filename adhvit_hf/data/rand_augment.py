# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Clip RandAugment as the original ADH-ViT / VideoMAE V2 apply it, on uint8 (T, 3, H, W) tensors.

timm gives the op set, the chance of each op (0.5) and the magnitude-to-argument mapping (`rand_augment_ops`); the
op is drawn once per clip, so every frame gets the same op and argument. The pixels are done by torch kernels
(torchvision's where they give PIL's pixels) instead of timm's PIL ones, so the same code runs batched over the
frames, on the CPU or the training device.
Geometric ops become 3x3 matrices (output pixel centre -> input pixel centre, the mapping PIL's `Image.transform`
uses) so the caller can fold the ones that end the chain into the crop's single warp.
"""

from __future__ import annotations

import contextlib
import math
import random
import re
from dataclasses import dataclass

import torch
from timm.data.auto_augment import rand_augment_choices, rand_augment_ops
from torchvision.transforms.v2 import functional as F


# timm's grey for pixels that rotate/shear/translate uncover (the original passes no img_mean, so it keeps this).
FILL = 128
GEOMETRIC_OPS = ("Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")


@dataclass(frozen=True)
class RandAugmentSpec:
    """Parsed timm RandAugment string such as "rand-m7-n4-mstd0.5-inc1"."""

    magnitude: float = 10.0
    num_ops: int = 2
    magnitude_std: float = 0.0
    increasing: bool = False

    @classmethod
    def parse(cls, text: str) -> RandAugmentSpec:
        """Parse `rand-m<M>-n<N>[-mstd<S>][-inc<0|1>]` as timm does; raises ValueError naming the bad part."""
        parts = text.split("-")
        if parts[0] != "rand":
            raise ValueError(f"--aa {text!r}: only RandAugment strings starting with 'rand' are supported")
        values = {}
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
            else:
                values["increasing"] = bool(int(float(value)))
        return cls(**values)


@contextlib.contextmanager
def python_random(seed: int):
    """Python's `random` seeded with `seed` inside the block, its previous state restored after.

    timm's argument functions flip signs with the module-level `random`; seeding it per clip keeps every draw of
    a clip a function of the clip's seed (exact resume) without disturbing anyone else's use of `random`.
    """
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


class ClipRandAugment:
    """timm's RandAugment ops for `spec`; `draw` (inside `python_random`) picks one clip's ops and arguments."""

    def __init__(self, spec: RandAugmentSpec):
        self.spec = spec
        hparams = {"magnitude_std": spec.magnitude_std}
        self.ops = rand_augment_ops(spec.magnitude, 0.5, hparams, rand_augment_choices("rand", spec.increasing))

    def draw(self) -> list[tuple[str, tuple]]:
        """[(op name, arguments)] of the ops applied to one clip: `num_ops` picks with replacement, each kept with
        the op's probability (timm's AugmentOp, once per clip instead of once per frame)."""
        picks = [random.choice(self.ops) for _ in range(self.spec.num_ops)]
        return [(op.name, self.arguments(op)) for op in picks if random.random() <= op.prob]

    @staticmethod
    def arguments(op) -> tuple:
        """The arguments of a timm `AugmentOp` for one clip: magnitude from N(m, mstd) clipped to [0, 10]."""
        magnitude = op.magnitude
        if op.magnitude_std > 0:
            magnitude = random.gauss(magnitude, op.magnitude_std)
        magnitude = max(0.0, min(magnitude, op.magnitude_max or 10.0))
        return op.level_fn(magnitude, op.hparams) if op.level_fn is not None else ()


def op_matrix(name: str, args: tuple, height: int, width: int) -> torch.Tensor:
    """3x3 float64 matrix from output to input pixel-centre coordinates of a geometric op (as PIL maps them)."""
    matrix = torch.eye(3, dtype=torch.float64)
    (value,) = args
    if name == "ShearX":
        matrix[0, 1] = value
    elif name == "ShearY":
        matrix[1, 0] = value
    elif name == "TranslateXRel":
        matrix[0, 2] = value * width
    elif name == "TranslateYRel":
        matrix[1, 2] = value * height
    else:  # Rotate: PIL turns the image counter-clockwise about its centre.
        angle = math.radians(value)
        cos, sin = math.cos(angle), math.sin(angle)
        center_x, center_y = width / 2.0, height / 2.0
        matrix[:2, :2] = torch.tensor([[cos, -sin], [sin, cos]], dtype=torch.float64)
        matrix[0, 2] = center_x - cos * center_x + sin * center_y
        matrix[1, 2] = center_y - sin * center_x - cos * center_y
    return matrix


def warp(
    frames: torch.Tensor,
    matrices: list[torch.Tensor],
    out_size: tuple[int, int],
    mode: str,
    fill: float | None = FILL,
    clamp: tuple[float, float, float, float] | None = None,
) -> torch.Tensor:
    """Sample float (T, C, H, W) frames through a chain of output->input matrices, one resampling for all.

    `matrices` are applied output side first: the first is the crop (output -> frame, always inside the frame), then
    the ops from the last to the first. A pixel whose position leaves the frame after any op matrix (not only the
    last one) takes `fill`, as if each op had been applied in turn; with `fill` None nothing is filled. `clamp`
    (x0, y0, x1, y1) bounds the positions after the first matrix, as a resize clamps at its input's border.
    Coordinates are pixel centres (align_corners=False, as torch's `interpolate` resizes).
    """
    height, width = frames.shape[-2:]
    out_h, out_w = out_size
    device = frames.device
    ys = torch.arange(out_h, dtype=torch.float64, device=device) + 0.5
    xs = torch.arange(out_w, dtype=torch.float64, device=device) + 0.5
    points = torch.stack(
        [
            xs.expand(out_h, out_w),
            ys.view(-1, 1).expand(out_h, out_w),
            torch.ones(out_h, out_w, dtype=torch.float64, device=device),
        ]
    ).view(3, -1)
    outside = torch.zeros(points.shape[1], dtype=torch.bool, device=device)
    for index, matrix in enumerate(matrices):
        points = matrix.to(device) @ points
        if clamp is not None and index == 0:
            points[0].clamp_(clamp[0], clamp[2])
            points[1].clamp_(clamp[1], clamp[3])
        if fill is not None and index > 0:
            outside |= (points[0] < 0) | (points[0] > width) | (points[1] < 0) | (points[1] > height)
    grid = torch.stack([points[0] / width * 2 - 1, points[1] / height * 2 - 1], dim=-1).view(1, out_h, out_w, 2)
    grid = grid.to(frames.dtype).expand(frames.shape[0], -1, -1, -1)
    out = torch.nn.functional.grid_sample(frames, grid, mode=mode, padding_mode="border", align_corners=False)
    if fill is not None and outside.any():
        out = out.masked_fill(outside.view(1, 1, out_h, out_w), float(fill))
    return out


GRAY_WEIGHTS = (0.299, 0.587, 0.114)


def blend(frames: torch.Tensor, degenerate: torch.Tensor | float, factor: float) -> torch.Tensor:
    """PIL's `ImageEnhance` blend `degenerate + factor * (image - degenerate)`, clipped and truncated to uint8."""
    return (degenerate + factor * (frames.float() - degenerate)).clamp_(0, 255).to(torch.uint8)


def auto_contrast(frames: torch.Tensor) -> torch.Tensor:
    """PIL's `ImageOps.autocontrast`: each frame's channel stretched from its own min..max to 0..255."""
    low = frames.amin(dim=(-2, -1), keepdim=True).float()
    high = frames.amax(dim=(-2, -1), keepdim=True).float()
    scale = 255.0 / (high - low).clamp_(min=1)
    stretched = ((frames.float() - low) * scale).clamp_(0, 255).to(torch.uint8)
    return torch.where(high > low, stretched, frames)


def contrast(frames: torch.Tensor, factor: float) -> torch.Tensor:
    """PIL's `ImageEnhance.Contrast`: blend with the frame's mean grey level, rounded as PIL rounds it."""
    weights = torch.tensor(GRAY_WEIGHTS, device=frames.device).view(1, 3, 1, 1)
    grey = (frames.float().mean(dim=(-2, -1), keepdim=True) * weights).sum(1, keepdim=True)
    return blend(frames, torch.floor(grey + 0.5), factor)


def apply_color_op(frames: torch.Tensor, name: str, args: tuple) -> torch.Tensor:
    """One non-geometric op on uint8 (T, 3, H, W) frames, per-frame statistics as PIL computes them per image."""
    base = name.removesuffix("Increasing")
    if base == "AutoContrast":
        return auto_contrast(frames)
    if base == "Equalize":
        return F.equalize(frames)
    if base == "Invert":
        return 255 - frames
    (value,) = args
    if base == "Posterize":
        return frames if value >= 8 else frames & (256 - 2 ** (8 - int(value)))
    if base == "Solarize":
        # PIL inverts pixels >= threshold; 256 (magnitude 0) leaves the frame as it is.
        return torch.where(frames >= value, 255 - frames, frames) if value <= 255 else frames
    if base == "SolarizeAdd":
        add = int(value)
        return torch.where(frames < 128, frames.clamp(max=255 - add) + add, frames)
    if base == "Color":
        return F.adjust_saturation(frames, value)
    if base == "Contrast":
        return contrast(frames, value)
    if base == "Brightness":
        return blend(frames, 0.0, value)
    if base == "Sharpness":
        return F.adjust_sharpness(frames, value)
    raise ValueError(f"RandAugment op {name!r} is not supported")


def apply_geometric_op(frames: torch.Tensor, name: str, args: tuple, mode: str) -> torch.Tensor:
    """One geometric op on uint8 (T, 3, H, W) frames, same size, uncovered pixels grey, rounded back to uint8."""
    height, width = frames.shape[-2:]
    out = warp(
        frames.float(),
        [torch.eye(3, dtype=torch.float64), op_matrix(name, args, height, width)],
        (height, width),
        mode,
    )
    return out.round_().clamp_(0, 255).to(torch.uint8)


def split_trailing_geometric(ops: list[tuple[str, tuple]]) -> tuple[list, list]:
    """(ops to run on the frames, trailing geometric ops that can ride along with the next warp exactly)."""
    cut = len(ops)
    while cut > 0 and ops[cut - 1][0] in GEOMETRIC_OPS:
        cut -= 1
    return ops[:cut], ops[cut:]


def apply_ops(frames: torch.Tensor, ops: list[tuple[str, tuple]], mode: str) -> torch.Tensor:
    """Run RandAugment ops in order on uint8 (T, 3, H, W) frames (the full chain, nothing folded)."""
    for name, args in ops:
        if name in GEOMETRIC_OPS:
            frames = apply_geometric_op(frames, name, args, mode)
        else:
            frames = apply_color_op(frames, name, args)
    return frames

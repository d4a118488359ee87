# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from adhvit_hf.data.rand_augment import (
    ClipRandAugment,
    RandAugmentSpec,
    apply_ops,
    python_random,
)
from adhvit_hf.data.transforms import ClipAugmentation, ClipParams


FIXTURE = Path(__file__).parent / "fixtures" / "original_rand_augment.json"


def textured_frames(num_frames: int = 2, height: int = 48, width: int = 64) -> np.ndarray:
    """(T, H, W, 3) uint8 frames with gradients, edges and fine texture, so every op changes some pixels."""
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for t in range(num_frames):
        red = x * 255 // (width - 1)
        green = y * 255 // (height - 1)
        blue = (((x + 3 * t) // 8 + y // 8) % 2) * 160 + 40
        texture = ((x * 7 + y * 13 + t * 29) % 23) * 3
        frames.append(np.stack([red, (green + texture) % 256, blue], axis=-1))
    return np.asarray(frames, dtype=np.uint8)


def clip_tensor() -> torch.Tensor:
    return torch.from_numpy(textured_frames()).permute(0, 3, 1, 2).contiguous()


def mean_abs_change(out: torch.Tensor, clip: torch.Tensor) -> float:
    return float((out.double() - clip.double()).abs().mean())


def within(package: list[float], original: dict, systematic: float) -> bool:
    """Package mean within 4 standard errors of both samples plus `systematic` grey levels of the original's."""
    standard_error = np.sqrt(np.var(package) / len(package) + original["mean_abs_change_std"] ** 2 / original["clips"])
    return abs(np.mean(package) - original["mean_abs_change"]) <= 4 * standard_error + systematic


@pytest.fixture(scope="module")
def original():
    return json.loads(FIXTURE.read_text())


def test_op_set_and_frequencies_match_the_original(original):
    randaugment = ClipRandAugment(RandAugmentSpec.parse(original["aa"]))
    chain = original["chain"]
    assert [op.name for op in randaugment.ops] == list(chain["op_frequency"])
    draws = 8000
    counts = dict.fromkeys(chain["op_frequency"], 0)
    applied = []
    for seed in range(draws):
        with python_random(seed):
            ops = randaugment.draw()
        applied.append(len(ops))
        for name, _ in ops:
            counts[name] += 1
    # n=4 picks, each kept with p=0.5: two ops a clip on average, each op 4 * 0.5 / 15 of the clips.
    assert abs(np.mean(applied) - chain["ops_per_clip"]) < 4 * chain["ops_per_clip_std"] * np.sqrt(2 / draws)
    for name, frequency in chain["op_frequency"].items():
        bound = 4 * np.sqrt(2 * frequency * (1 - frequency) / draws)
        assert abs(counts[name] / draws - frequency) < bound, name


def test_each_op_changes_pixels_as_the_original(original):
    clip = clip_tensor()
    randaugment = ClipRandAugment(RandAugmentSpec.parse(original["aa"]))
    for op in randaugment.ops:
        reference = original["ops"][op.name]
        changes = []
        for seed in range(40):
            with python_random(seed):
                args = randaugment.arguments(op)
            changes.append(mean_abs_change(apply_ops(clip, [(op.name, args)], "bicubic"), clip))
        # One grey level for the kernels: torch's bicubic is a=-0.75 (PIL's a=-0.5), contrast's mean is not rounded.
        assert within(changes, reference, systematic=1.0), (op.name, np.mean(changes), reference["mean_abs_change"])
        # Fixed arguments: where the pixels go (rotation sense, shear and translation direction) as in PIL.
        out = apply_ops(clip, [(op.name, tuple(reference["fixed_args"]))], "bicubic").double()
        half_h, half_w = out.shape[-2] // 2, out.shape[-1] // 2
        quadrants = [
            out[:, :, y : y + half_h, x : x + half_w].mean(dim=(0, 2, 3)).tolist()
            for y in (0, half_h)
            for x in (0, half_w)
        ]
        assert np.allclose(quadrants, reference["quadrant_means"], atol=1.5), op.name


def test_whole_chain_changes_pixels_as_the_original(original):
    clip = clip_tensor()
    randaugment = ClipRandAugment(RandAugmentSpec.parse(original["aa"]))
    changes = []
    for seed in range(150):
        with python_random(seed):
            ops = randaugment.draw()
        changes.append(mean_abs_change(apply_ops(clip, ops, "bicubic"), clip))
    chain = original["chain"]
    reference = {
        "mean_abs_change": chain["mean_abs_change"],
        "mean_abs_change_std": chain["mean_abs_change_std"],
        "clips": chain["change_clips"],
    }
    assert within(changes, reference, systematic=1.0), np.mean(changes)


@pytest.mark.parametrize("flip", [False, True])
def test_a_trailing_geometric_op_folded_into_the_crop_equals_it_applied_on_the_frames(flip):
    """Colour op, then Rotate: the rotation rides along with the (here whole-frame) crop and the flip in one warp."""
    clip = clip_tensor()[:, :, :48, :48].contiguous()
    # mean 0 and std 1/255: the output stays in grey levels.
    augment = ClipAugmentation(48, [0.0] * 3, [1 / 255] * 3, interpolation="bilinear")
    ops = [("ColorIncreasing", (1.5,)), ("Rotate", (20.0,))]
    augment.draw = lambda seed, height, width: ClipParams(ops, (0, 0, 48, 48), [])
    expected = apply_ops(clip, ops, "bilinear").float()
    expected = expected.flip(-1) if flip else expected
    folded = augment(clip, seed=0, flip=flip)
    # The op applied on the frames is rounded to uint8 once; the folded warp is not.
    assert (folded - expected).abs().max() <= 0.5 + 1e-3
    grey = (folded == 128).all(dim=1)
    assert grey.sum() > 100 and (expected == 128).all(dim=1)[grey].all()  # the same grey corners

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Saved tiny models and synthetic two-hand videos for the inference tests."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from model_helpers import tiny_model, tiny_videomae_config
from torch import nn
from transformers import VideoMAEForVideoClassification

from adhvit_hf.data.encoding import write_mp4
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor
from adhvit_hf.utils import run_cli


LH_LABELS = {0: "grasp", 1: "screw", 2: "place"}
RH_LABELS = {0: "hold", 1: "insert", 2: "push", 3: "idle"}
# Matches the tiny model: 4 frames, 32 x 32 crops. Short side 32 keeps 32-px-high videos at their native size.
TINY_PROCESSOR = dict(
    num_frames=4, sampling_rate=2, test_num_segment=2, test_num_crop=3, short_side_size=32, crop_size=32
)


def save_tiny_model(folder, seed: int = 0, **processor_overrides):
    """Saves a tiny AdhVit model (named labels, non-trivial heads) and its processor to `folder`."""
    model = tiny_model(seed=seed, lh_id2label=LH_LABELS, rh_id2label=RH_LABELS)
    model.save_pretrained(folder)
    processor = AdhVitVideoProcessor(**{**TINY_PROCESSOR, **processor_overrides})
    processor.save_pretrained(folder)
    return model, processor


def write_video(path, frames: np.ndarray, fps: int = 10) -> str:
    """Encodes uint8 frames (N, H, W, 3) losslessly in luma (crf 0) and returns the path as a string."""
    write_mp4(str(path), frames, fps=fps, gop_size=4, crf=0)
    return str(path)


def noise_frames(num_frames: int, height: int = 32, width: int = 64, seed: int = 0) -> np.ndarray:
    """Random uint8 frames (num_frames, height, width, 3)."""
    return np.random.default_rng(seed).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


def two_hand_frames(num_frames: int, lh_switch: int, rh_switch: int, size: int = 32) -> np.ndarray:
    """Grey frames whose left half turns white at frame `lh_switch` and right half at `rh_switch`."""
    frames = np.full((num_frames, size, size, 3), 16, dtype=np.uint8)
    frames[lh_switch:, :, : size // 2] = 240
    frames[rh_switch:, :, size // 2 :] = 240
    return frames


class HalfBrightnessModel(nn.Module):
    """Stands in for ADH-ViT on `two_hand_frames` videos, with outputs that are a known function of the frames.

    Class 1 of a hand scores `10 * (f - 1/2)` and class 0 `-10 * (f - 1/2)`, where f is the fraction of the window's
    frames whose half of the picture (left: left hand, right: right hand) is bright; the pooled feature is
    (f_lh, f_rh). So a window is labelled "after the switch" exactly when most of its frames are.
    """

    def __init__(self, num_frames: int = 4):
        super().__init__()
        self.config = SimpleNamespace(
            num_frames=num_frames,
            lh_id2label={0: "before", 1: "after"},
            rh_id2label={0: "before", 1: "after"},
        )
        self.register_buffer("anchor", torch.zeros(()))

    @property
    def device(self):
        return self.anchor.device

    @property
    def dtype(self):
        return self.anchor.dtype

    def forward(self, pixel_values, hand=None):
        width = pixel_values.shape[-1]
        bright = {
            "lh": (pixel_values[..., : width // 2].mean(dim=(2, 3, 4)) > 0).float().mean(dim=1),
            "rh": (pixel_values[..., width // 2 :].mean(dim=(2, 3, 4)) > 0).float().mean(dim=1),
        }
        logits = {hand: torch.stack([-10 * (f - 0.5), 10 * (f - 0.5)], dim=1) for hand, f in bright.items()}
        return SimpleNamespace(
            pooled_output=torch.stack([bright["lh"], bright["rh"]], dim=1),
            lh_logits=logits["lh"],
            rh_logits=logits["rh"],
        )


def cli_error(main, argv, capsys) -> str:
    """The one `error:` line `run_cli(main, argv)` prints, after checking it exits with status 2 and no traceback."""
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err[-2000:]
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error: ") or ": error: " in line]
    assert len(lines) == 1, err[-2000:]
    return lines[0]


def save_stock_videomae(folder) -> None:
    """A stock VideoMAE classification folder (tiny) with an ADH-ViT preprocessor config beside it."""
    VideoMAEForVideoClassification(tiny_videomae_config(num_labels=3)).save_pretrained(folder)
    AdhVitVideoProcessor(**TINY_PROCESSOR).save_pretrained(folder)

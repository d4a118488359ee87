# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from adhvit_hf.processing_adhvit import AdhVitVideoProcessor


def coordinate_frames(num_frames, height, width):
    """uint8 (T, H, W, 3): channel 0 = x, channel 1 = y, channel 2 = frame index."""
    frames = np.zeros((num_frames, height, width, 3), dtype=np.uint8)
    frames[..., 0] = np.arange(width)[None, None, :]
    frames[..., 1] = np.arange(height)[None, :, None]
    frames[..., 2] = np.arange(num_frames)[:, None, None]
    return frames


def raw_processor(**kwargs):
    """Mean 0 / std 1 so pixel_values * 255 gives back the uint8 values."""
    options = dict(
        num_frames=2,
        test_num_segment=2,
        test_num_crop=3,
        short_side_size=40,
        crop_size=32,
        image_mean=[0.0, 0.0, 0.0],
        image_std=[1.0, 1.0, 1.0],
    )
    options.update(kwargs)
    return AdhVitVideoProcessor(**options)


def corner_values(pixel_values):
    """(x, y, t) uint8 values at the top-left corner of every view and frame."""
    return (pixel_values[..., :, 0, 0] * 255).round().long()


def test_views_shape_order_and_three_crops_along_the_long_side():
    pixel_values = raw_processor()([coordinate_frames(4, 40, 60), coordinate_frames(4, 40, 60)])["pixel_values"]
    assert pixel_values.shape == (2, 6, 2, 3, 32, 32)
    corners = corner_values(pixel_values[0])
    # Crops at x = 0, 14, 28 (step (60 - 32) / 2), centred on the short side at y = 4; segment-major views.
    assert corners[:, 0, 0].tolist() == [0, 14, 28, 0, 14, 28]
    assert corners[:, 0, 1].tolist() == [4] * 6
    assert corners[:, :, 2].tolist() == [[0, 1]] * 3 + [[2, 3]] * 3


def test_portrait_crops_run_along_the_height_and_one_crop_is_centred():
    corners = corner_values(raw_processor()(coordinate_frames(4, 60, 40))["pixel_values"][0])
    assert corners[:, 0, 1].tolist() == [0, 14, 28] * 2
    assert corners[:, 0, 0].tolist() == [4] * 6
    centre = corner_values(raw_processor(test_num_crop=1)(coordinate_frames(4, 40, 60))["pixel_values"][0])
    assert centre[:, 0, :2].tolist() == [[14, 4], [14, 4]]


def test_short_side_resize_and_normalisation():
    processor = AdhVitVideoProcessor(
        num_frames=2, test_num_segment=1, test_num_crop=1, short_side_size=20, crop_size=16
    )
    assert processor.decode_size(80, 120) == (20, 30)
    assert processor.decode_size(120, 80) == (30, 20)
    assert AdhVitVideoProcessor().decode_size(720, 1280) == (224, 398)
    frames = np.full((2, 80, 120, 3), 255, dtype=np.uint8)
    pixel_values = processor(frames)["pixel_values"]
    assert pixel_values.shape == (1, 1, 2, 3, 16, 16)
    expected = (1.0 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(pixel_values[0, 0, 0, :, 5, 5], expected)


def test_preprocess_clip_gives_the_spatial_views_of_one_window():
    clip = raw_processor().preprocess_clip(coordinate_frames(5, 40, 60))
    assert clip.shape == (3, 5, 3, 32, 32)
    assert corner_values(clip)[:, 0, 0].tolist() == [0, 14, 28]


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"^expected 4 frames \(test_num_segment=2 x num_frames=2\), got 3$"):
        raw_processor()(coordinate_frames(3, 40, 60))
    with pytest.raises(ValueError, match=r"expected uint8 frames of shape \(T, H, W, 3\), got \(4, 3, 40, 60\)"):
        raw_processor()(torch.zeros(4, 3, 40, 60, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"short_side_size \(16\) must be >= crop_size \(32\)"):
        AdhVitVideoProcessor(short_side_size=16, crop_size=32)


@pytest.mark.slow
def test_save_and_load_through_auto_image_processor_as_remote_code(tmp_path):
    processor = AdhVitVideoProcessor(
        num_frames=4,
        sampling_rate=2,
        sparse_sample=True,
        test_num_segment=2,
        test_num_crop=1,
        short_side_size=40,
        crop_size=32,
    )
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert saved["auto_map"] == {"AutoVideoProcessor": "processing_adhvit.AdhVitVideoProcessor"}
    assert (tmp_path / "processing_adhvit.py").is_file()
    assert AdhVitVideoProcessor.from_pretrained(tmp_path).to_dict() == processor.to_dict()
    # A fresh process that never imports adhvit_hf: the class comes from the copied file.
    script = (
        "import sys, torch\n"
        "from transformers import AutoVideoProcessor\n"
        f"p = AutoVideoProcessor.from_pretrained({str(tmp_path)!r}, trust_remote_code=True)\n"
        "out = p(torch.zeros(8, 40, 60, 3, dtype=torch.uint8))['pixel_values']\n"
        "print(type(p).__module__.startswith('transformers_modules'), tuple(out.shape), p.sparse_sample,\n"
        "      any(m.startswith('adhvit_hf') for m in sys.modules))\n"
    )
    env = dict(os.environ, HF_MODULES_CACHE=str(tmp_path / "modules"), HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, check=True
    )
    assert result.stdout.split("\n")[0] == "True (1, 2, 4, 3, 32, 32) True False"


def test_uint8_views_normalised_later_equal_the_float_views():
    processor = AdhVitVideoProcessor(
        num_frames=2, test_num_segment=2, test_num_crop=3, short_side_size=40, crop_size=32
    )
    frames = coordinate_frames(4, 40, 60)
    floats = processor(frames)["pixel_values"]
    views = processor(frames, do_normalize=False)["pixel_values"]
    assert views.dtype == torch.uint8 and views.shape == floats.shape == (1, 6, 2, 3, 32, 32)
    assert torch.equal(processor.normalize(views), floats)
    bf16 = processor.normalize(views, torch.bfloat16)
    assert bf16.dtype == torch.bfloat16 and torch.allclose(bf16.float(), floats, atol=0.02)
    with pytest.raises(ValueError, match="^expected uint8 views to normalise, got torch.float32$"):
        processor.normalize(floats)

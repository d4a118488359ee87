# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import random

import numpy as np
import pytest
import torch
from helpers.videos import write_index_video

from adhvit_hf.data.decoding import VideoDecodeError, open_video
from adhvit_hf.data.encoding import write_mp4
from adhvit_hf.data.transforms import ClipAugmentation, RandAugmentSpec, VideoTransform
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor


def processor(**kwargs):
    options = dict(
        num_frames=4, sampling_rate=2, test_num_segment=2, test_num_crop=3, short_side_size=32, crop_size=32
    )
    options.update(kwargs)
    return AdhVitVideoProcessor(**options)


def batch(video, hand="lh", seed=None, start=-1, end=-1, label=1):
    rows = {"video": [video], "start": [start], "end": [end], "label": [label], "hand": [hand]}
    if seed is not None:
        rows["seed"] = [seed]
    return rows


@pytest.fixture(scope="module")
def half_video(tmp_path_factory):
    """32x32 video: left half red, right half blue (shows whether a clip was flipped)."""
    frame = np.zeros((32, 32, 3), dtype=np.uint8)
    frame[:, :16, 0] = 255
    frame[:, 16:, 2] = 255
    path = str(tmp_path_factory.mktemp("videos") / "halves.mp4")
    write_mp4(path, [frame] * 12, gop_size=4, crf=0)
    return path


def test_parse_randaugment_string():
    assert RandAugmentSpec.parse("rand-m7-n4-mstd0.5-inc1") == RandAugmentSpec(7.0, 4, 0.5, increasing=True)
    # timm's defaults: magnitude 10, two ops, the plain (not increasing) op set; inc0 keeps the plain set.
    assert RandAugmentSpec.parse("rand-n1-inc0") == RandAugmentSpec(10.0, 1, 0.0, increasing=False)
    with pytest.raises(ValueError, match=r"--aa 'augmix-m5': only RandAugment strings starting with 'rand'"):
        RandAugmentSpec.parse("augmix-m5")
    with pytest.raises(ValueError, match=r"--aa 'rand-m7-x3': cannot parse 'x3'"):
        RandAugmentSpec.parse("rand-m7-x3")


def test_one_augmentation_for_every_frame_seeded_and_isolated():
    image = torch.randint(0, 256, (1, 3, 40, 56), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    clip = image.expand(6, -1, -1, -1).clone()
    augment = ClipAugmentation(
        32, [0.5] * 3, [0.5] * 3, aa="rand-m9-n4-mstd0.5-inc1", reprob=1.0, recount=3, remode="const"
    )
    global_state = torch.get_rng_state()
    python_state = random.getstate()
    out = augment(clip, 1)
    assert torch.equal(torch.get_rng_state(), global_state) and random.getstate() == python_state
    assert out.shape == (6, 3, 32, 32) and out.dtype == torch.float32
    for frame in out[1:]:
        assert torch.equal(frame, out[0])
    assert torch.equal(out, augment(clip, 1))
    assert not torch.equal(out, augment(clip, 2))


def test_train_rows_are_reproducible_from_their_seed(tmp_path):
    video = write_index_video(tmp_path / "v.mp4", num_frames=40, height=32, width=48)
    transform = VideoTransform(processor(), train=True, num_sample=3, aa="rand-m7-n4-mstd0.5-inc1", reprob=0.25)
    first = transform(batch(video, seed=7))
    assert first["pixel_values"][0].shape == (3, 4, 3, 32, 32)
    assert first["labels"] == [1] and first["hand"] == ["lh"]
    assert torch.equal(first["pixel_values"][0], transform(batch(video, seed=7))["pixel_values"][0])
    assert not torch.equal(first["pixel_values"][0], transform(batch(video, seed=8))["pixel_values"][0])
    # The repeated samples of one row are different augmentations of the same decoded clip.
    assert not torch.equal(first["pixel_values"][0][0], first["pixel_values"][0][1])


def is_flipped(sample):
    """True when the red half is on the right of the first frame."""
    red_minus_blue = sample[0, 0] - sample[0, 2]
    return bool(red_minus_blue[:, 16:].mean() > red_minus_blue[:, :16].mean())


def transform_without_crop(flip, num_sample=2):
    transform = VideoTransform(processor(), train=True, num_sample=num_sample, flip=flip)
    transform.augment = ClipAugmentation(32, [0.0] * 3, [1.0] * 3, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    return transform


@pytest.mark.parametrize("hand, other", [("lh", "rh"), ("rh", "lh")])
def test_swap_hands_flip_switches_the_hand(half_video, hand, other):
    transform = transform_without_crop("swap_hands")
    outcomes = set()
    for seed in range(16):
        out = transform(batch(half_video, hand=hand, seed=seed))
        flipped = [is_flipped(sample) for sample in out["pixel_values"][0]]
        assert flipped[0] == flipped[1]
        assert out["hand"] == [other if flipped[0] else hand]
        outcomes.add(flipped[0])
    assert outcomes == {True, False}


def test_plain_flip_keeps_the_hand_and_none_never_flips(half_video):
    plain, never = transform_without_crop("plain", num_sample=1), transform_without_crop("none", num_sample=1)
    flips = set()
    for seed in range(16):
        out = plain(batch(half_video, seed=seed))
        assert out["hand"] == ["lh"]
        flips.add(is_flipped(out["pixel_values"][0][0]))
        assert not is_flipped(never(batch(half_video, seed=seed))["pixel_values"][0][0])
    assert flips == {True, False}
    with pytest.raises(ValueError, match=r"--flip must be one of \('none', 'plain', 'swap_hands'\), got 'yes'"):
        VideoTransform(processor(), train=True, flip="yes")


def test_eval_views_match_the_processor_and_stay_uint8(tmp_path):
    video = write_index_video(tmp_path / "v.mp4", num_frames=40, height=32, width=48)
    eval_processor = processor()
    out = VideoTransform(eval_processor, train=False)(batch(video, start=4, end=30, hand="rh"))
    assert out["pixel_values"][0].shape == (6, 4, 3, 32, 32)
    assert out["labels"] == [1] and out["hand"] == ["rh"]
    indices = eval_processor.view_frame_indices(40, 4, 30)
    frames = open_video(video).get_frames(indices.flatten())
    views = out["pixel_values"][0]
    assert views.dtype == torch.uint8  # normalised on the device, by the trainer
    assert torch.equal(views, eval_processor(frames, do_normalize=False)["pixel_values"][0])
    assert torch.equal(eval_processor.normalize(views), eval_processor(frames)["pixel_values"][0])


@pytest.mark.parametrize("train", [True, False])
def test_corrupt_video_raises_naming_the_file(tmp_path, train):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(VideoDecodeError, match=f"^{corrupt}: cannot open video"):
        VideoTransform(processor(), train=train)(batch(str(corrupt), seed=0))


def test_bad_augmentation_options_name_the_flag():
    with pytest.raises(
        ValueError,
        match=r"--train_interpolation must be one of \('bilinear', 'bicubic', 'nearest'\), "
        r"got 'lanczos'",
    ):
        ClipAugmentation(32, [0.5] * 3, [0.5] * 3, interpolation="lanczos")
    with pytest.raises(ValueError, match=r"--remode must be one of \('pixel', 'const'\), got 'rand'"):
        ClipAugmentation(32, [0.5] * 3, [0.5] * 3, remode="rand")
    with pytest.raises(ValueError, match=r"--recount must be >= 1, got 0"):
        ClipAugmentation(32, [0.5] * 3, [0.5] * 3, recount=0)

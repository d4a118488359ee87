# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import numpy as np
import pytest
import torch

from adhvit_hf.data.sampling import train_clip_indices
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def upstream_short_video_indices(length, num_frames, rate):
    """VideoMAE V2's formula for a video no longer than the clip span, written with numpy as upstream does."""
    spread = np.linspace(0, length, num=length // rate)
    padded = np.concatenate((spread, np.ones(num_frames - length // rate) * length))
    return np.clip(padded, 0, length - 1).astype(np.int64).tolist()


def test_dense_clip_is_a_strided_window_ending_at_the_drawn_frame():
    end = int(torch.randint(16, 100, (1,), generator=generator(3)))
    indices = train_clip_indices(100, num_frames=4, sampling_rate=4, generator=generator(3))
    assert indices.tolist() == [end - 16, end - 11, end - 6, end - 1]
    assert indices.dtype == torch.long


@pytest.mark.parametrize(
    "length, expected",
    [
        (30, [0, 5, 10, 15, 20, 25] + [29] * 10),
        (10, [0, 2, 5, 7, 9] + [9] * 11),
        (3, [2] * 16),
    ],
)
def test_short_video_repeats_frames_like_videomae_v2(length, expected):
    assert train_clip_indices(length, 16, 2 if length == 10 else 4, generator()).tolist() == expected


SHORT_VIDEO_CASES = [
    (length, num_frames, rate)
    for num_frames, rate in [(16, 4), (8, 2), (4, 1)]
    for length in range(1, num_frames * rate + 1)
]


@pytest.mark.parametrize("length, num_frames, rate", SHORT_VIDEO_CASES)
def test_short_videos_match_upstream_formula(length, num_frames, rate):
    assert train_clip_indices(length, num_frames, rate, generator()).tolist() == upstream_short_video_indices(
        length, num_frames, rate
    )


def test_start_end_clip_samples_inside_its_range():
    assert train_clip_indices(100, 16, 4, generator(), start=40, end=69).tolist() == (
        [40, 45, 50, 55, 60, 65] + [69] * 10
    )
    for seed in range(30):
        indices = train_clip_indices(1000, 4, 4, generator(seed), start=200, end=299)
        assert 200 <= indices.min() and indices.max() <= 299
    # An end past the video is clipped to its last frame.
    assert train_clip_indices(20, 4, 4, generator(), start=15, end=90).tolist() == [15, 19, 19, 19]


def test_sparse_sampling_one_random_frame_per_segment():
    offsets = torch.randint(0, 9, (4,), generator=generator(5))
    indices = train_clip_indices(40, 4, 99, generator(5), sparse=True)
    assert indices.tolist() == (torch.arange(4) * 10 + offsets).tolist()
    assert train_clip_indices(6, 4, 1, generator(), sparse=True).tolist() == [0, 1, 2, 3]
    assert train_clip_indices(3, 4, 1, generator(), sparse=True).tolist() == [0, 0, 1, 2]
    assert train_clip_indices(100, 4, 1, generator(), start=50, end=53, sparse=True).tolist() == [50, 51, 52, 53]


def test_same_generator_seed_same_clip():
    first = train_clip_indices(500, 16, 4, generator(11))
    assert torch.equal(first, train_clip_indices(500, 16, 4, generator(11)))
    assert not torch.equal(first, train_clip_indices(500, 16, 4, generator(12)))


def processor(**kwargs):
    options = dict(
        num_frames=4, sampling_rate=4, test_num_segment=3, test_num_crop=3, short_side_size=32, crop_size=32
    )
    options.update(kwargs)
    return AdhVitVideoProcessor(**options)


def test_dense_test_views():
    assert processor().view_frame_indices(100).tolist() == [[0, 4, 8, 12], [40, 44, 48, 52], [84, 88, 92, 96]]
    assert processor().view_frame_indices(100, start=10, end=59).tolist() == [
        [10, 14, 18, 22],
        [26, 30, 34, 38],
        [46, 50, 54, 58],
    ]
    assert processor().view_frame_indices(6).tolist() == [[0, 4, 4, 4]] * 3
    assert processor(test_num_segment=1).view_frame_indices(100).tolist() == [[40, 44, 48, 52]]


def test_sparse_test_views():
    views = processor(sparse_sample=True, test_num_segment=2).view_frame_indices(40)
    assert views.tolist() == [[0, 10, 20, 30], [5, 15, 25, 35]]
    assert views.shape == (2, 4)

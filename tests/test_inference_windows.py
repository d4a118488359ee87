# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Sliding windows and the window-to-frame rule."""

import pytest
import torch

from adhvit_hf.inference.windows import window_centres, window_frame_indices, windows_to_frames


def test_windows_start_every_stride_and_one_more_ends_flush_with_the_video():
    windows = window_frame_indices(20, num_frames=4, sampling_rate=2, stride=3)

    assert windows.tolist() == [
        [0, 2, 4, 6],
        [3, 5, 7, 9],
        [6, 8, 10, 12],
        [9, 11, 13, 15],
        [12, 14, 16, 18],
        [13, 15, 17, 19],
    ]
    assert window_centres(windows).tolist() == [3.0, 6.0, 9.0, 12.0, 15.0, 16.0]


def test_windows_that_fit_exactly_get_no_extra_window():
    assert window_frame_indices(13, num_frames=4, sampling_rate=2, stride=3).tolist() == [
        [0, 2, 4, 6],
        [3, 5, 7, 9],
        [6, 8, 10, 12],
    ]


def test_a_video_shorter_than_one_window_repeats_its_last_sampled_frame_like_evaluation():
    windows = window_frame_indices(5, num_frames=4, sampling_rate=2, stride=3)

    assert windows.tolist() == [[0, 2, 4, 4]]
    assert window_centres(windows).tolist() == [2.5]
    # every 4th frame of 6 is frames 0 and 4 (frame 5 is never reached), as evaluation's test views take them
    assert window_frame_indices(6, num_frames=4, sampling_rate=4, stride=1).tolist() == [[0, 4, 4, 4]]


@pytest.mark.parametrize("argument", ["num_video_frames", "num_frames", "sampling_rate", "stride"])
def test_window_arguments_must_be_positive(argument):
    arguments = {**dict(num_video_frames=10, num_frames=4, sampling_rate=2, stride=1), argument: 0}
    with pytest.raises(ValueError, match=f"{argument} must be at least 1, got 0"):
        window_frame_indices(**arguments)


def test_frames_hold_outside_the_centres_and_interpolate_linearly_between():
    centres = torch.tensor([3.0, 6.0, 9.0, 10.0], dtype=torch.float64)
    values = torch.tensor([[0.0, 1.0], [30.0, -1.0], [60.0, 5.0], [100.0, 5.0]])

    per_frame = windows_to_frames(values, centres, num_video_frames=13)

    assert per_frame.shape == (2, 13)
    expected_first = [0, 0, 0, 0, 10, 20, 30, 40, 50, 60, 100, 100, 100]
    assert per_frame[0].tolist() == pytest.approx(expected_first)
    expected_second = [1, 1, 1, 1, 1 / 3, -1 / 3, -1, 1, 3, 5, 5, 5, 5]
    assert per_frame[1].tolist() == pytest.approx(expected_second)
    # A centre frame gets its window's result exactly.
    assert torch.equal(per_frame[:, [3, 6, 9, 10]], values.T)


def test_a_single_window_is_held_over_the_whole_video():
    per_frame = windows_to_frames(torch.tensor([[2.0, -3.0]]), torch.tensor([2.5], dtype=torch.float64), 5)

    assert per_frame.tolist() == [[2.0] * 5, [-3.0] * 5]


def test_window_values_and_centres_must_match():
    with pytest.raises(ValueError, match="Got 2 window values for 3 window centres"):
        windows_to_frames(torch.zeros(2, 4), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), 10)

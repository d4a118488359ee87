# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Sliding windows, the window-to-frame rule, timeline segments and atomic writes."""

import os
import stat

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg

from adhvit_hf.inference.timeline import fit_label, label_colours, plot_timelines, timeline_segments
from adhvit_hf.inference.windows import window_centres, window_frame_indices, windows_to_frames
from adhvit_hf.utils import atomic_write, save_json, save_npy


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


def test_timeline_segments_are_runs_of_the_arg_max_label():
    logits = torch.zeros(3, 10)
    logits[0, :4] = 2.0
    logits[2, 4:9] = 1.0
    logits[1, 9] = 3.0

    segments = timeline_segments(logits, {0: "grasp", 1: "screw", 2: "place"}, fps=4.0)

    strong = torch.tensor([2.0, 0, 0]).softmax(0)[0]
    weak = torch.tensor([0, 0, 1.0]).softmax(0)[2]
    last = torch.tensor([0, 3.0, 0]).softmax(0)[1]
    assert segments == [
        {
            "start_frame": 0,
            "end_frame": 3,
            "start_time": 0.0,
            "end_time": 1.0,
            "label": "grasp",
            "confidence": pytest.approx(strong.item()),
        },
        {
            "start_frame": 4,
            "end_frame": 8,
            "start_time": 1.0,
            "end_time": 2.25,
            "label": "place",
            "confidence": pytest.approx(weak.item()),
        },
        {
            "start_frame": 9,
            "end_frame": 9,
            "start_time": 2.25,
            "end_time": 2.5,
            "label": "screw",
            "confidence": pytest.approx(last.item()),
        },
    ]


def test_timeline_segments_without_a_frame_rate_have_no_times():
    (segment,) = timeline_segments(torch.zeros(2, 3), {0: "a", 1: "b"}, fps=None)

    assert (segment["start_time"], segment["end_time"], segment["end_frame"]) == (None, None, 2)


def test_confidence_is_averaged_over_the_segment():
    logits = torch.tensor([[1.0, 3.0], [0.0, 0.0]])

    (segment,) = timeline_segments(logits, {0: "a", 1: "b"}, fps=10.0)

    probabilities = logits.softmax(dim=0)[0]
    assert segment["confidence"] == pytest.approx(probabilities.mean().item())


def test_atomic_output_leaves_nothing_when_the_write_fails(tmp_path):
    target = tmp_path / "features" / "video.npy"
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_write(target, "wb") as file:
            file.write(b"partial")
            raise RuntimeError("killed")

    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_atomic_output_replaces_the_old_file_only_when_complete(tmp_path):
    target = tmp_path / "video.npy"
    save_npy(target, np.arange(3, dtype=np.float32))
    with pytest.raises(RuntimeError):
        with atomic_write(target, "wb") as file:
            file.write(b"partial")
            raise RuntimeError("killed")
    assert np.load(target).tolist() == [0.0, 1.0, 2.0]

    save_npy(target, np.ones((2, 2), dtype=np.float32))
    assert np.load(target).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert [path.name for path in tmp_path.iterdir()] == ["video.npy"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_write_respects_the_umask_like_open(tmp_path, umask):
    """Row: output files get the permissions a plain open() gives them (mkstemp alone makes them 0600)."""
    old = os.umask(umask)
    try:
        save_npy(tmp_path / "a.npy", np.zeros(2))
        save_json(tmp_path / "a.json", {"a": 1})
        with open(tmp_path / "plain.txt", "w") as handle:
            handle.write("x")
    finally:
        os.umask(old)
    modes = {name: stat.S_IMODE(os.stat(tmp_path / name).st_mode) for name in ("a.npy", "a.json", "plain.txt")}
    assert modes == {"a.npy": 0o666 & ~umask, "a.json": 0o666 & ~umask, "plain.txt": 0o666 & ~umask}


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    target = tmp_path / "list.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with atomic_write(target) as handle:
        handle.write("new")
    assert (target.read_text(), stat.S_IMODE(os.stat(target).st_mode)) == ("new", 0o640)


def test_label_colours_are_distinct_for_up_to_seventy_labels():
    """Row: timeline colours at HA-ViD scale (tab20 repeated every 20 ids)."""
    for count in (3, 12, 41, 70):
        colours = label_colours([f"label {i}" for i in range(count)])
        assert len(set(colours.values())) == count


def test_fit_label_breaks_after_underscores_or_gives_up():
    assert fit_label("insert_cylinder_pin", 19) == "insert_cylinder_pin"
    assert fit_label("insert_cylinder_pin", 9) == "insert_\ncylinder_\npin"
    assert fit_label("pick up the screw", 6) == "pick\nup the\nscrew"
    assert fit_label("pick up the screw", 5) is None  # four lines
    assert fit_label("screwdriver", 5) is None


def test_timeline_figure_at_havid_scale_lists_only_present_labels_below_the_bars():
    """Row: timeline PNG of a 75-class model: legend of the labels present, below the axes; segments labelled."""
    names = [f"task_{i:02d}" for i in range(75)]
    segments = {
        "lh": [
            {"start_frame": 0, "end_frame": 2999, "label": "task_07"},
            {"start_frame": 3000, "end_frame": 3009, "label": "task_70"},
        ],
        "rh": [{"start_frame": 0, "end_frame": 3009, "label": "task_03"}],
    }
    figure = plot_timelines(segments, {"lh": names, "rh": names}, 3010, 30.0, title="v")
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    (legend,) = figure.legends
    assert [text.get_text() for text in legend.get_texts()] == ["task_03", "task_07", "task_70"]
    axes = figure.axes[0]
    # below the axes with their tick labels and x label, never over them
    assert legend.get_window_extent(canvas.get_renderer()).y1 <= axes.get_tightbbox(canvas.get_renderer()).y0
    assert sorted(text.get_text() for text in axes.texts) == ["task_03", "task_07"]  # task_70 is 10 frames wide
    colours = [handle.get_facecolor() for handle in legend.legend_handles]
    assert len(set(colours)) == 3

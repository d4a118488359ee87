# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Timeline segments of per-frame labels and the timeline figure."""

import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg

from adhvit_hf.inference.timeline import fit_label, label_colours, plot_timelines, timeline_segments


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

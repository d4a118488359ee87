# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Per-hand action timelines: frame-wise labels grouped into segments, and a picture of both hands against time."""

import io
import os
from collections.abc import Mapping

import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..configuration_adhvit import HAND_NAMES
from ..utils import atomic_write




def timeline_segments(frame_logits: torch.Tensor, id2label: Mapping[int, str]) -> list[dict]:
    """Groups frame-wise predictions into segments.

    Args:
        frame_logits: class logits per frame, [num_labels, T] (the layout of `lh_features`/`rh_features`).
        id2label: label name per class id.

    Returns:
        One dict per run of frames with the same arg-max class, in time order: `start_frame`, `end_frame` (both
        inclusive), `label`, and `mean_confidence` (the mean softmax probability of that label over the run).
    """
    probabilities = torch.as_tensor(frame_logits).double().softmax(dim=0)
    labels = probabilities.argmax(dim=0)
    run_labels, run_lengths = torch.unique_consecutive(labels, return_counts=True)
    segments, start = [], 0
    for label, length in zip(run_labels.tolist(), run_lengths.tolist()):
        end = start + length
        segments.append({
            "start_frame": start,
            "end_frame": end - 1,
            "label": id2label[label],
            "mean_confidence": probabilities[label, start:end].mean().item(),
        })
        start = end
    return segments


def plot_timelines(
    hand_segments: Mapping[str, list[dict]],
    label_order: Mapping[str, list[str]],
    num_video_frames: int,
    fps: float | None,
    title: str,
) -> Figure:
    """Draws one horizontal bar per hand, coloured by label, against time (seconds when `fps` is known, else frames).

    `hand_segments` maps "lh"/"rh" to `timeline_segments` output; `label_order` maps each hand to its label names in
    class-id order, which fixes each label's colour.
    """
    scale = 1.0 / fps if fps else 1.0
    figure = Figure(figsize=(12, 2.8), layout="constrained")
    axes = figure.add_subplot()
    colours = colormaps["tab20"]
    legend = {}
    hands = list(hand_segments)
    for row, hand in enumerate(hands):
        for segment in hand_segments[hand]:
            label = segment["label"]
            colour = colours(label_order[hand].index(label) % colours.N)
            legend.setdefault(label, colour)
            start = segment["start_frame"] * scale
            width = (segment["end_frame"] + 1 - segment["start_frame"]) * scale
            axes.broken_barh([(start, width)], (row - 0.4, 0.8), facecolors=colour)
    axes.set_yticks(range(len(hands)), [HAND_NAMES.get(hand, hand) for hand in hands])
    axes.set_ylim(len(hands) - 0.5, -0.5)
    axes.set_xlim(0, num_video_frames * scale)
    axes.set_xlabel("time (s)" if fps else "frame")
    axes.set_title(title)
    axes.legend(
        handles=[Patch(color=colour, label=label) for label, colour in legend.items()],
        loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False,
    )
    return figure


def save_figure(path: str | os.PathLike, figure: Figure) -> None:
    """Writes `figure` as a PNG to `path`, atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    with atomic_write(path, "wb") as file:
        file.write(buffer.getvalue())

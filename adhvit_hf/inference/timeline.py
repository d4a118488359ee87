# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Per-hand action timelines: frame-wise labels grouped into segments, and a picture of both hands against time."""

import re
from collections.abc import Mapping

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..configuration_adhvit import HAND_NAMES


def timeline_segments(frame_logits: torch.Tensor, id2label: Mapping[int, str], fps: float | None) -> list[dict]:
    """Groups frame-wise predictions into segments.

    Args:
        frame_logits: class logits per frame, [num_labels, T] (the layout of `lh_features`/`rh_features`).
        id2label: label name per class id.
        fps: the video's frame rate, for the times (None or 0 when unknown: the times are None).

    Returns:
        One dict per run of frames with the same arg-max class, in time order: `start_frame`, `end_frame` (both
        inclusive), `start_time`, `end_time` (seconds: the start of the first frame, the end of the last), `label`, and
        `confidence` (the mean softmax probability of that label over the run).
    """
    probabilities = torch.as_tensor(frame_logits).double().softmax(dim=0)
    labels = probabilities.argmax(dim=0)
    run_labels, run_lengths = torch.unique_consecutive(labels, return_counts=True)
    segments, start = [], 0
    for label, length in zip(run_labels.tolist(), run_lengths.tolist()):
        end = start + length
        segments.append(
            {
                "start_frame": start,
                "end_frame": end - 1,
                "start_time": start / fps if fps else None,
                "end_time": end / fps if fps else None,
                "label": id2label[label],
                "confidence": probabilities[label, start:end].mean().item(),
            }
        )
        start = end
    return segments


def labels_present(hand_segments: Mapping[str, list[dict]], label_order: Mapping[str, list[str]]) -> list[str]:
    """The labels occurring in `hand_segments`, each hand's in class-id order (`label_order`), a label both hands
    share listed once (HA-ViD's hands share one set): the legend of a timeline."""
    occurring = {segment["label"] for segments in hand_segments.values() for segment in segments}
    return list(dict.fromkeys(label for hand in hand_segments for label in label_order[hand] if label in occurring))


# Qualitative palettes, most distinct first; a figure takes as many colours as it has labels, in this order.
PALETTES = ("tab10", "tab20", "tab20b", "tab20c")
LEGEND_COLUMNS = 6
# Approximate width of one character of a segment label (fontsize 7 at 100 dpi, a little generous), in pixels.
LABEL_CHAR_PIXELS = 4.4


def label_colours(labels: list[str]) -> dict[str, tuple]:
    """A colour per label, all distinct up to 70 labels: tab10 for up to 10, tab20 for up to 20, then tab20b/c and
    evenly spaced hues beyond."""
    if len(labels) <= 10:
        colours = list(colormaps["tab10"].colors)
    elif len(labels) <= 20:
        colours = list(colormaps["tab20"].colors)
    else:
        colours = [colour for name in PALETTES[1:] for colour in colormaps[name].colors]
        extra = len(labels) - len(colours)
        colours += [colormaps["hsv"](i / extra) for i in range(extra)] if extra > 0 else []
    return dict(zip(labels, colours))


def label_hex_colours(labels: list[str]) -> dict[str, str]:
    """`label_colours` as CSS hex colours (the app's timelines use the picture's palette)."""
    return {label: to_hex(colour) for label, colour in label_colours(labels).items()}


# Lines of a segment label that fit in a bar (fontsize 7 in a bar 0.8 of a row high).
MAX_LABEL_LINES = 3


def fit_label(label: str, max_chars: int) -> str | None:
    """`label` as at most MAX_LABEL_LINES lines of at most `max_chars` characters, broken after `_` or at spaces;
    None when it does not fit."""
    if len(label) <= max_chars:
        return label
    words = re.findall(r"[^_ ]+(?:_|\s+|$)", label)
    lines = [""]
    for word in words:
        if lines[-1] and len(lines[-1] + word.rstrip()) > max_chars:
            lines.append("")
        lines[-1] += word
    lines = [line.strip() for line in lines]
    if len(lines) > MAX_LABEL_LINES or max(map(len, lines)) > max_chars:
        return None
    return "\n".join(lines)


def _text_colour(colour) -> str:
    red, green, blue = colour[:3]
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"


def plot_timelines(
    hand_segments: Mapping[str, list[dict]],
    label_order: Mapping[str, list[str]],
    num_video_frames: int,
    fps: float | None,
    title: str,
    agreement: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> Figure:
    """Draws one horizontal bar per hand, coloured by label, against time (seconds when `fps` is known, else frames).

    `hand_segments` maps "lh"/"rh" to `timeline_segments` output; `label_order` maps each hand to its label names in
    class-id order, which orders the legend (every label of `hand_segments` must be in it). Only the labels that occur get a colour and a legend entry (below the
    bars, never over them), and every segment wide enough for its label's name is labelled in place, so a timeline
    of a 75-class model stays readable. `agreement` ({camera: {hand: bool per frame}}, synchronised cameras) adds a
    panel below with a row per camera and hand, dark where that camera alone predicts the fused label, and the share
    of frames it does in the row's name.
    """
    scale = 1.0 / fps if fps else 1.0
    hands = list(hand_segments)
    present = labels_present(hand_segments, label_order)
    colours = label_colours(present)
    legend_rows = -(-len(present) // LEGEND_COLUMNS)
    width = 12.0
    agreement_rows = [(camera, hand) for camera in agreement or {} for hand in hands]
    height = 1.2 + 0.6 * len(hands) + 0.25 * legend_rows + 0.25 * len(agreement_rows)
    figure = Figure(figsize=(width, height), layout="constrained")
    if agreement_rows:
        axes, agreement_axes = figure.subplots(
            2, 1, sharex=True, height_ratios=[0.6 * len(hands), 0.25 * len(agreement_rows)]
        )
        plot_agreement(agreement_axes, agreement, agreement_rows, scale)
    else:
        axes = figure.add_subplot()
    # Pixels per frame of the bars, for deciding which segments have room for their label.
    pixels_per_frame = 0.85 * width * figure.dpi / max(num_video_frames, 1)
    for row, hand in enumerate(hands):
        for segment in hand_segments[hand]:
            label = segment["label"]
            start, length = segment["start_frame"], segment["end_frame"] + 1 - segment["start_frame"]
            axes.broken_barh([(start * scale, length * scale)], (row - 0.4, 0.8), facecolors=colours[label])
            text = fit_label(label, int((length * pixels_per_frame - 6) // LABEL_CHAR_PIXELS))
            if text:
                axes.text(
                    (start + length / 2) * scale,
                    row,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=_text_colour(colours[label]),
                    clip_on=True,
                )
    axes.set_yticks(range(len(hands)), [HAND_NAMES.get(hand, hand) for hand in hands])
    axes.set_ylim(len(hands) - 0.5, -0.5)
    axes.set_xlim(0, num_video_frames * scale)
    (agreement_axes if agreement_rows else axes).set_xlabel("time (s)" if fps else "frame")
    axes.set_title(title)
    figure.legend(
        handles=[Patch(color=colours[label], label=label) for label in present],
        loc="outside lower center",
        ncols=min(LEGEND_COLUMNS, max(len(present), 1)),
        fontsize="small",
        frameon=False,
    )
    return figure


def plot_agreement(axes, agreement, rows: list[tuple[str, str]], scale: float) -> None:
    """One thin row per (camera, hand): dark grey where the camera agrees with the fused timeline."""
    for row, (camera, hand) in enumerate(rows):
        agrees = np.asarray(agreement[camera][hand], dtype=bool)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], agrees.astype(np.int8), [0]])))
        spans = [(start * scale, (end - start) * scale) for start, end in zip(edges[::2], edges[1::2])]
        axes.broken_barh([(0, len(agrees) * scale)], (row - 0.35, 0.7), facecolors="#e8e8e8")
        axes.broken_barh(spans, (row - 0.35, 0.7), facecolors="#505050")
    labels = [
        f"camera {camera} {HAND_NAMES.get(hand, hand)} {100 * np.mean(agreement[camera][hand]):.0f}%"
        for camera, hand in rows
    ]
    axes.set_yticks(range(len(rows)), labels, fontsize=7)
    axes.set_ylim(len(rows) - 0.5, -0.5)

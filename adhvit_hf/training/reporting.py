# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Per-video predictions and per-hand confusion matrices of a test run."""

import csv
import json
import os

import numpy as np
from matplotlib.figure import Figure

from ..configuration_adhvit import HAND_NAMES
from ..utils import atomic_write, save_figure


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_labels: int) -> np.ndarray:
    """Counts [true, predicted]."""
    return np.bincount(labels * num_labels + predicted, minlength=num_labels * num_labels).reshape(
        num_labels, num_labels
    )


def write_prediction_reports(outputs: dict, datasets: dict, config, output_dir: str, top_k: int = 5) -> None:
    """`predictions.jsonl` (top-k names and scores per hand and video) and `confusion_{hand}.csv/.png`."""
    os.makedirs(output_dir, exist_ok=True)
    lines = []
    for hand, output in outputs.items():
        id2label = getattr(config, f"{hand}_id2label")
        num_labels = len(id2label)
        scores = np.asarray(output.predictions, dtype=np.float64)
        labels = np.asarray(output.label_ids, dtype=np.int64)
        videos = datasets[hand].with_format(None)["video"]
        ranking = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
        for video, label, row, ranked in zip(videos, labels, scores, ranking):
            lines.append(
                json.dumps(
                    {
                        "hand": hand,
                        "video": video,
                        "label": id2label[int(label)],
                        "top_k": [{"label": id2label[int(c)], "score": round(float(row[c]), 6)} for c in ranked],
                    }
                )
            )
        matrix = confusion_matrix(labels, ranking[:, 0], num_labels)
        names = [id2label[i] for i in range(num_labels)]
        with atomic_write(os.path.join(output_dir, f"confusion_{hand}.csv"), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["true \\ predicted", *names])
            writer.writerows([name, *row] for name, row in zip(names, matrix.tolist()))
        size = max(4, num_labels * 0.25)
        # A bare Figure draws without pyplot, so the caller's matplotlib backend stays as it was.
        fig = Figure(figsize=(size + 1, size), layout="constrained")
        ax = fig.subplots()
        image = ax.imshow(matrix, cmap="Blues")
        fig.colorbar(image, ax=ax)
        if num_labels <= 30:
            ax.set_xticks(range(num_labels), names, rotation=90, fontsize=7)
            ax.set_yticks(range(num_labels), names, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(HAND_NAMES[hand])
        save_figure(os.path.join(output_dir, f"confusion_{hand}.png"), fig)
    with atomic_write(os.path.join(output_dir, "predictions.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Collating clips into model batches with per-hand labels, for training and for evaluation."""

import torch

from .mixup import mix_hand_rows


class ClipCollator:
    """Stacks clips into a model batch with per-hand labels.

    Training items (from `AlternatingClipDataset`, they name their `stream`) hold `num_sample`
    augmented views `(k, T, C, H, W)` that become k batch rows; evaluation items hold all views
    `(V, T, C, H, W)` of one video, kept together as `(B, V, ...)`.
    Labels go to `lh_labels`/`rh_labels` by each row's hand (-100 elsewhere). With `mixup`, each
    hand's rows are mixed among themselves and the labels become soft targets (all-zero rows for
    the other hand's rows). `hand` is the stream the batch was drawn from (None when both are).
    """

    def __init__(self, num_labels: dict[str, int], mixup: dict | None = None):
        self.num_labels = num_labels
        self.mixup = mixup

    def __call__(self, features: list[dict]) -> dict:
        train = "stream" in features[0]
        if not train:
            pixel_values = torch.stack([f["pixel_values"] for f in features])
            repeats = 1
        else:
            rows = [row for f in features for row in f["pixel_values"]]
            repeats = len(rows) // len(features)
            # Decoded clips (--device_augmentation) of videos of different sizes stay a list until augmented.
            pixel_values = torch.stack(rows) if len({row.shape for row in rows}) == 1 else rows
        labels = torch.tensor([f["labels"] for f in features]).repeat_interleave(repeats)
        row_hands = [f["hand"] for f in features for _ in range(repeats)]
        mixup = self.mixup if train else None
        generator = torch.Generator().manual_seed(features[0]["seed"]) if mixup else None
        batch = mix_hand_rows(pixel_values, labels, row_hands, mixup, self.num_labels, generator)
        if "augment_seeds" in features[0]:  # --device_augmentation: the trainer augments and mixes on the device
            batch["augment_seeds"] = torch.tensor([s for f in features for s in f["augment_seeds"]])
            batch["augment_flips"] = torch.tensor([b for f in features for b in f["augment_flips"]])
            batch["mixup_seed"] = features[0]["seed"]
        streams = {f.get("stream", f["hand"]) for f in features}
        batch["hand"] = streams.pop() if len(streams) == 1 else None
        if train:
            batch["replaced_videos"] = [path for f in features for path in f.get("replaced_videos", [])]
        return batch

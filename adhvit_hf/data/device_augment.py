# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Clip augmentation and mixup on the training device (`--device_augmentation`): the DataLoader workers only decode.

The workers' `VideoTransform(device_augmentation=True)` sends each row's decoded uint8 frames with the seeds and
flips it drew; the collator stacks them. `DeviceAugmentation` then runs the same `ClipAugmentation` (torch kernels
batched over the frames of a clip, on whatever device the frames are on) and the same per-hand mixup with the same
seeds, so a batch is the one the CPU workers would have made: exactly on the CPU, to float rounding on a GPU
(its interpolation and reduction kernels round differently).
"""

from __future__ import annotations

import torch

from ..configuration_adhvit import HANDS, IGNORE_INDEX
from .mixup import mix_hand_rows
from .transforms import ClipAugmentation


class DeviceAugmentation:
    """Turns a collated batch of decoded clips (uint8, with "augment_seeds", "augment_flips", "mixup_seed") into
    the model batch: augmented float clips and per-hand labels (soft targets with mixup). The clips travel to the
    device one by one, so videos of different sizes can share a batch."""

    def __init__(self, augmentation: ClipAugmentation, mixup: dict | None, num_labels: dict[str, int]):
        self.augmentation = augmentation
        self.mixup = mixup
        self.num_labels = num_labels

    def __call__(self, batch: dict, device: torch.device | str) -> dict:
        batch = dict(batch)
        frames = batch.pop("pixel_values")  # one uint8 tensor, or a list when the videos' sizes differ
        seeds, flips = batch.pop("augment_seeds").tolist(), batch.pop("augment_flips").tolist()
        mixup_seed = batch.pop("mixup_seed")
        clips = torch.stack(
            [
                self.augmentation(clip.to(device, non_blocking=True), seed, flip)
                for clip, seed, flip in zip(frames, seeds, flips)
            ]
        )
        # The collator left class indices with IGNORE_INDEX on the other hand's rows: recover each row's hand.
        labels = torch.full((clips.shape[0],), IGNORE_INDEX, dtype=torch.long)
        row_hands = [None] * clips.shape[0]
        for hand in HANDS:
            hand_labels = batch.pop(f"{hand}_labels", None)
            if hand_labels is None:
                continue
            rows = hand_labels.cpu() != IGNORE_INDEX
            labels[rows] = hand_labels.cpu()[rows]
            row_hands = [hand if row else previous for row, previous in zip(rows.tolist(), row_hands)]
        generator = torch.Generator().manual_seed(mixup_seed) if self.mixup else None
        batch.update(mix_hand_rows(clips, labels.to(device), row_hands, self.mixup, self.num_labels, generator))
        return batch

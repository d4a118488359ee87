# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Mixup / CutMix with label smoothing on clip batches (timm's batch mode, drawn from a torch.Generator).

torchvision's v2.MixUp/CutMix are not used: they draw from the global RNG, take no label smoothing and no
cutmix_minmax, which the original's flags (--mixup, --cutmix, --cutmix_minmax, --smoothing) need.
"""

from __future__ import annotations

import math

import torch

from ..configuration_adhvit import HANDS, IGNORE_INDEX
from .transforms import seed_from


def smoothed_one_hot(labels: torch.Tensor, num_labels: int, smoothing: float) -> torch.Tensor:
    """(B,) int labels -> (B, num_labels) targets with `smoothing` spread evenly over all classes."""
    off_value = smoothing / num_labels
    targets = torch.full((labels.shape[0], num_labels), off_value, device=labels.device)
    return targets.scatter_(1, labels.view(-1, 1), 1.0 - smoothing + off_value)


def sample_beta(alpha: float, generator: torch.Generator) -> float:
    """One Beta(alpha, alpha) draw from `generator` (torch's Beta sampler takes no generator, so fork the RNG)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_from(generator))
        return float(torch.distributions.Beta(alpha, alpha).sample())


class ClipMixup:
    """Mix a clip batch with its reversed self: the same lambda and the same CutMix box for every frame.

    Call with pixel_values (B, T, 3, H, W), labels (B,) and a generator; returns (mixed pixel_values, soft targets
    (B, num_labels)). Only mode "batch" (one lambda per batch) is implemented.
    """

    def __init__(
        self,
        mixup_alpha: float = 0.8,
        cutmix_alpha: float = 1.0,
        cutmix_minmax: tuple[float, float] | None = None,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        mode: str = "batch",
        label_smoothing: float = 0.1,
        num_labels: int = 1000,
    ):
        if mode != "batch":
            raise ValueError(f"--mixup_mode {mode!r} is not supported; only 'batch' is implemented")
        if cutmix_minmax is not None:
            if len(cutmix_minmax) != 2:
                raise ValueError(f"--cutmix_minmax needs two values (min max), got {list(cutmix_minmax)}")
            # As in timm, a min/max box ratio turns CutMix on and replaces its alpha.
            cutmix_alpha = 1.0
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.cutmix_minmax = cutmix_minmax
        self.prob = prob
        self.switch_prob = switch_prob
        self.label_smoothing = label_smoothing
        self.num_labels = num_labels

    def _draw(self, generator: torch.Generator) -> tuple[float, bool]:
        """(lambda, use_cutmix) for one batch."""
        if float(torch.rand((), generator=generator)) >= self.prob:
            return 1.0, False
        if self.mixup_alpha > 0 and self.cutmix_alpha > 0:
            use_cutmix = float(torch.rand((), generator=generator)) < self.switch_prob
        elif self.cutmix_alpha > 0:
            use_cutmix = True
        elif self.mixup_alpha > 0:
            use_cutmix = False
        else:
            return 1.0, False
        return sample_beta(self.cutmix_alpha if use_cutmix else self.mixup_alpha, generator), use_cutmix

    def _box(self, lam: float, height: int, width: int, generator: torch.Generator) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) of the CutMix box."""

        def randint(low: int, high: int) -> int:
            return int(torch.randint(low, max(high, low + 1), (1,), generator=generator))

        if self.cutmix_minmax is not None:
            low, high = self.cutmix_minmax
            cut_h = randint(int(height * low), int(height * high))
            cut_w = randint(int(width * low), int(width * high))
            top, left = randint(0, height - cut_h), randint(0, width - cut_w)
            return top, top + cut_h, left, left + cut_w
        ratio = math.sqrt(1.0 - lam)
        cut_h, cut_w = int(height * ratio), int(width * ratio)
        center_y, center_x = randint(0, height), randint(0, width)
        top, bottom = max(center_y - cut_h // 2, 0), min(center_y + cut_h // 2, height)
        left, right = max(center_x - cut_w // 2, 0), min(center_x + cut_w // 2, width)
        return top, bottom, left, right

    def __call__(
        self, pixel_values: torch.Tensor, labels: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        lam, use_cutmix = self._draw(generator)
        mixed = pixel_values.clone()
        partner = pixel_values.flip(0)
        if use_cutmix:
            height, width = pixel_values.shape[-2:]
            top, bottom, left, right = self._box(lam, height, width, generator)
            mixed[..., top:bottom, left:right] = partner[..., top:bottom, left:right]
            # The box is clipped at the borders, so lambda is the share of pixels really kept.
            lam = 1.0 - (bottom - top) * (right - left) / float(height * width)
        elif lam < 1.0:
            mixed = pixel_values * lam + partner * (1.0 - lam)
        targets = smoothed_one_hot(labels, self.num_labels, self.label_smoothing)
        return mixed, targets * lam + targets.flip(0) * (1.0 - lam)


def mix_hand_rows(
    pixel_values: torch.Tensor,
    labels: torch.Tensor,
    row_hands: list[str],
    mixup: dict | None,
    num_labels: dict[str, int],
    generator: torch.Generator | None,
) -> dict[str, torch.Tensor]:
    """{"pixel_values", "lh_labels"/"rh_labels"} of a training batch whose rows belong to `row_hands`.

    Without `mixup` the labels stay class indices (IGNORE_INDEX on the other hand's rows). With it (a `ClipMixup`
    per hand) each hand's rows are mixed among themselves and become soft targets, all-zero rows for the other
    hand's rows. Runs wherever `pixel_values` lives (the collator's CPU or the training device).
    """
    batch = {"pixel_values": pixel_values}
    for hand in HANDS:
        rows = torch.tensor([h == hand for h in row_hands], device=labels.device)
        if not rows.any():
            continue
        if mixup is None:
            batch[f"{hand}_labels"] = torch.where(rows, labels, IGNORE_INDEX)
            continue
        if rows.all():  # every alternating step: no gather and scatter copies of the clips
            batch["pixel_values"], batch[f"{hand}_labels"] = mixup[hand](pixel_values, labels, generator)
            continue
        mixed, targets = mixup[hand](pixel_values[rows], labels[rows], generator)
        pixel_values[rows] = mixed
        soft = torch.zeros(len(row_hands), num_labels[hand], device=labels.device)
        soft[rows] = targets
        batch[f"{hand}_labels"] = soft
    return batch

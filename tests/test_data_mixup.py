# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import pytest
import torch

from adhvit_hf.data.mixup import ClipMixup, smoothed_one_hot


def clips():
    """(4, 3, 3, 8, 8): clip b, frame t has every pixel at 10 * b + t."""
    values = torch.arange(4).view(4, 1, 1, 1, 1) * 10.0 + torch.arange(3).view(1, 3, 1, 1, 1)
    return values.expand(4, 3, 3, 8, 8).clone()


LABELS = torch.tensor([0, 1, 2, 3])


def test_smoothed_one_hot():
    assert smoothed_one_hot(torch.tensor([2]), 4, 0.1).tolist() == [pytest.approx([0.025, 0.025, 0.925, 0.025])]


def test_no_mixing_keeps_clips_and_smooths_labels():
    mixed, targets = ClipMixup(prob=0.0, label_smoothing=0.1, num_labels=4)(clips(), LABELS, torch.Generator())
    assert torch.equal(mixed, clips())
    assert torch.allclose(targets, smoothed_one_hot(LABELS, 4, 0.1))


def test_mixup_blends_with_the_reversed_batch():
    mixup = ClipMixup(mixup_alpha=0.8, cutmix_alpha=0.0, label_smoothing=0.0, num_labels=4)
    mixed, targets = mixup(clips(), LABELS, torch.Generator().manual_seed(0))
    lam = float(targets[0, 0])
    assert 0.0 < lam < 1.0 and torch.allclose(targets[0], torch.tensor([lam, 0, 0, 1 - lam]))
    assert torch.allclose(mixed, clips() * lam + clips().flip(0) * (1 - lam))
    again, _ = mixup(clips(), LABELS, torch.Generator().manual_seed(0))
    assert torch.equal(mixed, again)


@pytest.mark.parametrize("minmax", [None, (0.3, 0.6)])
def test_cutmix_uses_one_box_for_every_frame(minmax):
    mixup = ClipMixup(mixup_alpha=0.0, cutmix_alpha=1.0, cutmix_minmax=minmax, label_smoothing=0.0, num_labels=4)
    for seed in range(5):
        mixed, targets = mixup(clips(), LABELS, torch.Generator().manual_seed(seed))
        pasted = mixed != clips()
        for frame in range(3):
            assert torch.equal(pasted[:, frame], pasted[:, 0])
        assert torch.equal(mixed[pasted], clips().flip(0)[pasted])
        kept = 1.0 - pasted[0, 0, 0].float().mean().item()
        assert targets[0].tolist() == pytest.approx([kept, 0.0, 0.0, 1.0 - kept])


def test_only_batch_mode():
    with pytest.raises(ValueError, match=r"--mixup_mode 'elem' is not supported; only 'batch' is implemented"):
        ClipMixup(mode="elem")

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import pytest
import torch
from helpers.models import TINY_MODEL
from helpers.videos import write_index_video

from adhvit_hf.data.collate import ClipCollator
from adhvit_hf.data.device_augment import DeviceAugmentation
from adhvit_hf.data.mixup import ClipMixup
from adhvit_hf.data.transforms import VideoTransform
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor
from adhvit_hf.training.alternating_data import AlternatingClipDataset


NUM_LABELS = {"lh": 3, "rh": 4}


def processor():
    return AdhVitVideoProcessor(num_frames=4, sampling_rate=2, short_side_size=32, crop_size=32)


def transform(device_augmentation: bool, flip: str) -> VideoTransform:
    return VideoTransform(
        processor(),
        train=True,
        num_sample=2,
        aa="rand-m9-n4-mstd0.5-inc1",
        reprob=0.5,
        flip=flip,
        device_augmentation=device_augmentation,
    )


def mixups():
    return {
        hand: ClipMixup(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_labels=n)
        for hand, n in NUM_LABELS.items()
    }


@pytest.fixture(scope="module")
def hand_rows(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    videos = [
        write_index_video(folder / "v0.mp4", num_frames=24, height=36, width=48),
        write_index_video(folder / "v1.mp4", num_frames=24, height=32, width=40),
    ]
    return {
        hand: [{"video": v, "start": -1, "end": -1, "label": i + 1, "hand": hand} for i, v in enumerate(videos)]
        for hand in NUM_LABELS
    }


@pytest.mark.parametrize("flip", ["swap_hands", "plain"])
def test_device_batches_equal_worker_batches(hand_rows, flip):
    """Same seeds, same batch: the workers' augmentation + collator mixup against decode-only workers + device."""
    keys = [("lh", 0, 11), ("lh", 1, 12), ("rh", 0, 13), ("rh", 1, 14)]
    worker = AlternatingClipDataset(hand_rows, transform(False, flip))
    decode_only = AlternatingClipDataset(hand_rows, transform(True, flip))
    expected = ClipCollator(NUM_LABELS, mixup=mixups())([worker[key] for key in keys])
    collated = ClipCollator(NUM_LABELS)([decode_only[key] for key in keys])
    # Two video sizes: the decoded clips stay a list of uint8 rows until the device augments them.
    assert [row.shape for row in collated["pixel_values"]] == [(4, 3, 36, 48)] * 2 + [(4, 3, 32, 40)] * 2 + [
        (4, 3, 36, 48)
    ] * 2 + [(4, 3, 32, 40)] * 2
    assert all(row.dtype == torch.uint8 for row in collated["pixel_values"])
    device_augmentation = DeviceAugmentation(worker.transform.augment, mixups(), NUM_LABELS)
    batch = device_augmentation(collated, "cpu")
    assert set(batch) == set(expected)
    assert torch.equal(batch["pixel_values"], expected["pixel_values"])
    for hand in NUM_LABELS:
        assert torch.equal(batch[f"{hand}_labels"], expected[f"{hand}_labels"])
    assert batch["hand"] == expected["hand"] and batch["replaced_videos"] == expected["replaced_videos"] == []


def test_device_batches_without_mixup_keep_class_indices(hand_rows):
    keys = [("rh", 1, 5), ("rh", 0, 6)]
    worker = AlternatingClipDataset(hand_rows, transform(False, "none"))
    decode_only = AlternatingClipDataset(hand_rows, transform(True, "none"))
    expected = ClipCollator(NUM_LABELS)([worker[key] for key in keys])
    batch = DeviceAugmentation(worker.transform.augment, None, NUM_LABELS)(
        ClipCollator(NUM_LABELS)([decode_only[key] for key in keys]), "cpu"
    )
    assert torch.equal(batch["pixel_values"], expected["pixel_values"])
    assert batch["rh_labels"].tolist() == expected["rh_labels"].tolist() == [2, 2, 1, 1]
    assert "lh_labels" not in batch and batch["hand"] == "rh"


@pytest.mark.slow
def test_training_with_device_augmentation_gives_the_same_model(demo_data, tmp_path):
    """Two steps of the same run, with and without --device_augmentation: the same weights (CPU, exact)."""
    from adhvit_hf.training import (
        AlternatingTrainingArguments,
        DataArguments,
        ModelArguments,
        build_trainer,
    )

    weights = []
    for device_augmentation in (False, True):
        model_args = ModelArguments(
            architecture="vit_small_patch16_224",
            lh_num_labels=6,
            rh_num_labels=6,
            image_size=32,
            config_overrides=TINY_MODEL,
        )
        data_args = DataArguments(
            lh_data_path=f"{demo_data}/lh",
            rh_data_path=f"{demo_data}/rh",
            num_frames=4,
            sampling_rate=2,
            short_side_size=32,
            num_sample=2,
            aa="rand-m7-n4-mstd0.5-inc1",
            reprob=0.25,
            mixup=0.8,
            cutmix=1.0,
            device_augmentation=device_augmentation,
        )
        training_args = AlternatingTrainingArguments(
            output_dir=str(tmp_path / str(device_augmentation)),
            max_steps=2,
            per_device_train_batch_size=2,
            learning_rate=1e-2,
            alternation_steps=1,
            dataloader_num_workers=0,
            report_to="none",
            save_strategy="no",
            eval_strategy="no",
            seed=3,
        )
        torch.manual_seed(0)  # the same initial weights
        trainer = build_trainer(model_args, data_args, training_args)
        assert (trainer.device_augmentation is not None) == device_augmentation
        trainer.train()
        weights.append({k: v.clone() for k, v in trainer.model.state_dict().items()})
    assert weights[0].keys() == weights[1].keys()
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key

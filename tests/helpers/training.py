# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""A two-step `AlternatingTrainer` of the tiny model on synthetic clips (no videos): the Hub and checkpoint tests'."""

import torch

from .models import LH_LABELS, RH_LABELS, tiny_model, tiny_processor


class SyntheticClipTransform:
    """Stands in for the data package's VideoTransform: one (1, T, C, H, W) clip per row, drawn from the row's seed."""

    def __call__(self, batch: dict) -> dict:
        clips = [torch.randn(1, 4, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) for seed in batch["seed"]]
        return {"pixel_values": clips, "labels": batch["label"], "hand": batch["hand"]}


def two_step_trainer(output_dir, **extra_args):
    """An AlternatingTrainer of the tiny model for two steps (one per hand) that saves checkpoint-2."""
    from adhvit_hf.data.collate import ClipCollator
    from adhvit_hf.training.alternating_data import AlternatingClipDataset
    from adhvit_hf.training.arguments import AlternatingTrainingArguments
    from adhvit_hf.training.trainer import AlternatingTrainer

    hand_rows = {
        hand: [{"video": f"{hand}{i}.mp4", "label": i % len(labels), "hand": hand} for i in range(4)]
        for hand, labels in (("lh", LH_LABELS), ("rh", RH_LABELS))
    }
    args = AlternatingTrainingArguments(
        output_dir=str(output_dir),
        max_steps=2,
        alternation_steps=1,
        alternation_strategy="fixed",
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        warmup_epochs=0,
        save_strategy="steps",
        save_steps=2,
        eval_strategy="no",
        report_to="none",
        use_cpu=True,
        **extra_args,
    )
    return AlternatingTrainer(
        model=tiny_model(lh_id2label=LH_LABELS, rh_id2label=RH_LABELS),
        args=args,
        train_dataset=AlternatingClipDataset(hand_rows, SyntheticClipTransform()),
        data_collator=ClipCollator({"lh": len(LH_LABELS), "rh": len(RH_LABELS)}),
        processing_class=tiny_processor(test_num_segment=1, test_num_crop=1),
    )

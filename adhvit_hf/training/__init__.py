# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Training ADH-ViT: the argument dataclasses, the data of alternating training, `AlternatingTrainer`, and
`build_trainer`, which makes all of them from the three argument dataclasses (see README "Training from Python")."""

from ..data.collate import ClipCollator
from .alternating_data import AlternatingBatchSampler, AlternatingClipDataset
from .arguments import AlternatingTrainingArguments, DataArguments, ModelArguments
from .build import HandData, build_datasets, build_mixup, build_model, build_processor, build_trainer
from .trainer import AlternatingTrainer


__all__ = [
    "AlternatingBatchSampler",
    "AlternatingClipDataset",
    "AlternatingTrainer",
    "AlternatingTrainingArguments",
    "ClipCollator",
    "DataArguments",
    "HandData",
    "ModelArguments",
    "build_datasets",
    "build_mixup",
    "build_model",
    "build_processor",
    "build_trainer",
]

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""ADH-ViT as a native Hugging Face Transformers package.

Importing the package registers AdhVit with transformers' Auto classes and the `dual-hand-video-classification`
pipeline task. The training side (`AlternatingTrainer`, which pulls in transformers' Trainer, accelerate and
evaluate) is imported on first use, so inference-only users do not pay for it.
"""

import importlib

from .configuration_adhvit import AdhVitConfig
from .modeling_adhvit import (
    AdhVitDualHandClassifierOutput,
    AdhVitForDualHandClassification,
    AdhVitModel,
    AdhVitOutput,
    AdhVitPreTrainedModel,
)
from .pipeline_adhvit import DualHandVideoClassificationPipeline
from .processing_adhvit import AdhVitVideoProcessor
from .publishing import add_remote_code
from .registration import register
from .videomae_v2 import config_from_model_name, convert_videomae_v2_checkpoint, load_pretrained_backbone


register()

_LAZY_ATTRIBUTES = {"AlternatingTrainer": ".training.trainer"}


def __getattr__(name: str):
    if name in _LAZY_ATTRIBUTES:
        value = getattr(importlib.import_module(_LAZY_ATTRIBUTES[name], __name__), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AdhVitConfig",
    "AdhVitDualHandClassifierOutput",
    "AdhVitForDualHandClassification",
    "AdhVitModel",
    "AdhVitOutput",  # the old name of AdhVitDualHandClassifierOutput
    "AdhVitPreTrainedModel",
    "AdhVitVideoProcessor",
    "AlternatingTrainer",  # noqa: F822 (imported on first use by __getattr__)
    "DualHandVideoClassificationPipeline",
    "add_remote_code",
    "config_from_model_name",
    "convert_videomae_v2_checkpoint",
    "load_pretrained_backbone",
]

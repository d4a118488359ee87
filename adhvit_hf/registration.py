# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Registers AdhVit with transformers: the Auto classes and the `dual-hand-video-classification` pipeline task."""

from typing import Any

from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification, AutoVideoProcessor
from transformers.pipelines import PIPELINE_REGISTRY

from .configuration_adhvit import AdhVitConfig
from .modeling_adhvit import AdhVitForDualHandClassification
from .pipeline_adhvit import PIPELINE_TASK, DualHandVideoClassificationPipeline
from .processing_adhvit import AdhVitVideoProcessor


def register() -> None:
    """Registers AdhVit with transformers' Auto classes and the `dual-hand-video-classification` task (idempotent).

    `register_for_auto_class` makes `save_pretrained` write `auto_map` and copy the configuration, modeling and
    processing modules next to the weights.
    """
    AutoConfig.register(AdhVitConfig.model_type, AdhVitConfig, exist_ok=True)
    AutoModel.register(AdhVitConfig, AdhVitForDualHandClassification, exist_ok=True)
    AutoModelForVideoClassification.register(AdhVitConfig, AdhVitForDualHandClassification, exist_ok=True)
    AutoVideoProcessor.register(AdhVitConfig, AdhVitVideoProcessor, exist_ok=True)
    AdhVitConfig.register_for_auto_class()
    AdhVitForDualHandClassification.register_for_auto_class("AutoModel")
    AdhVitVideoProcessor.register_for_auto_class("AutoVideoProcessor")
    if PIPELINE_REGISTRY.supported_tasks.get(PIPELINE_TASK, {}).get("impl") is not DualHandVideoClassificationPipeline:
        PIPELINE_REGISTRY.register_pipeline(
            PIPELINE_TASK,
            pipeline_class=DualHandVideoClassificationPipeline,
            pt_model=AutoModelForVideoClassification,
            type="video",
        )


def custom_pipelines() -> dict[str, dict[str, Any]]:
    """The `config.json` `custom_pipelines` entry of the registered task, in the form `Pipeline.save_pretrained`
    writes it: the registry's classes as `module.Class` and Auto-class names."""
    entry = dict(PIPELINE_REGISTRY.supported_tasks[PIPELINE_TASK])
    entry["impl"] = f"{entry['impl'].__module__.rsplit('.', 1)[-1]}.{entry['impl'].__name__}"
    entry["pt"] = [model_class.__name__ for model_class in entry["pt"]]
    return {PIPELINE_TASK: entry}

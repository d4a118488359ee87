# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Inference: the dual-hand pipeline and untrimmed-video feature extraction.

The pipeline task is registered by `import adhvit_hf` (see `adhvit_hf.publishing`). Feature extraction lives in
`adhvit_hf.inference.features`; it is not imported here so that importing the package does not pull in matplotlib.
"""

from .pipeline_adhvit import PIPELINE_TASK, DualHandVideoClassificationPipeline


__all__ = ["PIPELINE_TASK", "DualHandVideoClassificationPipeline"]

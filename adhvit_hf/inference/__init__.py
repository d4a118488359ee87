"""Inference: the dual-hand pipeline (registered on import) and untrimmed-video feature extraction.

Feature extraction lives in `adhvit_hf.inference.features`; it is not imported here so that importing the package
does not pull in matplotlib.
"""

from transformers import AutoModelForVideoClassification
from transformers.pipelines import PIPELINE_REGISTRY

from .pipeline_adhvit import PIPELINE_TASK, DualHandVideoClassificationPipeline
from .remote_code import add_pipeline_to_folder


PIPELINE_REGISTRY.register_pipeline(
    PIPELINE_TASK,
    pipeline_class=DualHandVideoClassificationPipeline,
    pt_model=AutoModelForVideoClassification,
    type="video",
)

__all__ = ["PIPELINE_TASK", "DualHandVideoClassificationPipeline", "add_pipeline_to_folder"]

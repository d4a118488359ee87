"""ADH-ViT as a native Hugging Face Transformers package."""

from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification, AutoVideoProcessor

from .configuration_adhvit import AdhVitConfig
from .convert_videomae_v2 import config_from_model_name, convert_videomae_v2_checkpoint, load_pretrained_backbone
from .inference import DualHandVideoClassificationPipeline, add_pipeline_to_folder  # registers the pipeline task
from .modeling_adhvit import AdhVitForDualHandClassification, AdhVitModel, AdhVitOutput, AdhVitPreTrainedModel
from .processing_adhvit import AdhVitVideoProcessor
from .training.trainer import AlternatingTrainer


AutoConfig.register(AdhVitConfig.model_type, AdhVitConfig, exist_ok=True)
AutoModel.register(AdhVitConfig, AdhVitForDualHandClassification, exist_ok=True)
AutoModelForVideoClassification.register(AdhVitConfig, AdhVitForDualHandClassification, exist_ok=True)
AutoVideoProcessor.register(AdhVitConfig, AdhVitVideoProcessor, exist_ok=True)
# save_pretrained then writes `auto_map` and copies configuration_adhvit.py + modeling_adhvit.py next to the weights,
# so the folder loads with trust_remote_code=True where adhvit_hf is not installed
AdhVitConfig.register_for_auto_class()
AdhVitForDualHandClassification.register_for_auto_class("AutoModel")

__all__ = [
    "AdhVitConfig",
    "AdhVitForDualHandClassification",
    "AdhVitModel",
    "AdhVitOutput",
    "AdhVitPreTrainedModel",
    "AdhVitVideoProcessor",
    "AlternatingTrainer",
    "DualHandVideoClassificationPipeline",
    "add_pipeline_to_folder",
    "config_from_model_name",
    "convert_videomae_v2_checkpoint",
    "load_pretrained_backbone",
]

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""VideoMAE V2 weights into AdhVit: the architecture names (`architectures`), `.pth` checkpoints (`checkpoint`), the
runtime `--finetune` backbone loader (`pretrained`) and the converter that writes a folder (`conversion`)."""

from .architectures import config_from_model_name
from .checkpoint import infer_config, read_videomae_v2_state_dict, videomae_v2_to_adhvit
from .conversion import convert_videomae_v2_checkpoint, evaluation_processor
from .pretrained import load_pretrained_backbone


__all__ = [
    "config_from_model_name",
    "convert_videomae_v2_checkpoint",
    "evaluation_processor",
    "infer_config",
    "load_pretrained_backbone",
    "read_videomae_v2_state_dict",
    "videomae_v2_to_adhvit",
]

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Converts a VideoMAE V2 `.pth` checkpoint into an AdhVit model, optionally written as a folder that loads as it is.

A converted folder holds only what was converted: loading it reports the heads (and `fc_norm` of a pre-training
checkpoint) as missing, so they are initialised anew, and nothing untrained passes for trained weights.
"""

import logging

from ..configuration_adhvit import AdhVitConfig, as_pair
from ..modeling_adhvit import AdhVitForDualHandClassification
from ..processing_adhvit import AdhVitVideoProcessor
from ..publishing import add_remote_code
from .checkpoint import infer_config, read_videomae_v2_state_dict, videomae_v2_to_adhvit
from .pretrained import copy_backbone


logger = logging.getLogger(__name__)

# VideoMAE V2's evaluation resizes the short side to 224 (--short_side_size) before cropping --input_size
VIDEOMAE_V2_SHORT_SIDE = 224


def convert_videomae_v2_checkpoint(
    path, output_dir=None, *, model_key: str = "model|module", model_prefix: str = "", **config_overrides
) -> AdhVitForDualHandClassification:
    """
    Build an [`AdhVitForDualHandClassification`] from a VideoMAE V2 `.pth` checkpoint.

    The architecture (width, depth, patch and tubelet size, and the frame count when the file stores a position table)
    is read from the tensors; `config_overrides` set any config field (e.g. `lh_num_labels=20`, `num_frames=16`).
    With `output_dir`, the converted tensors are written there with `save_pretrained` (the heads, still untrained, are
    left out, so loading the folder reports them as missing) together with `preprocessor_config.json`
    ([`evaluation_processor`]), so the prediction and feature tools and the pipeline read the folder as it is.
    """
    state_dict = read_videomae_v2_state_dict(path, model_key, model_prefix)
    model = AdhVitForDualHandClassification(infer_config(state_dict, **config_overrides))
    converted = videomae_v2_to_adhvit(state_dict, str(path))
    copy_backbone(model, converted, str(path))
    if output_dir is not None:
        # only the converted tensors: the new heads must load as missing, never as trained weights
        model.save_pretrained(output_dir, state_dict={name: model.state_dict()[name] for name in converted})
        evaluation_processor(model.config).save_pretrained(output_dir)
        add_remote_code(output_dir)
        logger.info(f"Saved the converted backbone and VideoMAE V2's evaluation preprocessing to {output_dir}")
    return model


def evaluation_processor(config: AdhVitConfig) -> AdhVitVideoProcessor:
    """
    VideoMAE V2's evaluation preprocessing for `config`'s clips: every 4th frame, 10 segments x 3 crops, short side
    224 (or the crop size, if larger), crop `image_size`, ImageNet mean and std.
    """
    crop_size = as_pair(config.image_size)[0]
    return AdhVitVideoProcessor(
        num_frames=config.num_frames, crop_size=crop_size, short_side_size=max(VIDEOMAE_V2_SHORT_SIDE, crop_size)
    )

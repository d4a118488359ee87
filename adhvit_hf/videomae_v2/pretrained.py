# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The runtime backbone loader (the original's `--finetune`): pretrained VideoMAE V2 weights copied into a model.

The sources: a VideoMAE V2 `.pth` checkpoint, a Hugging Face VideoMAE folder (`VideoMAEModel`,
`VideoMAEForVideoClassification`, `VideoMAEForPreTraining`) or an AdhVit folder (converted or trained). The backbone
(and `fc_norm` where the source has one) is copied; the two hand heads always stay new.
"""

import logging
from pathlib import Path

from transformers import VideoMAEForVideoClassification, VideoMAEModel
from transformers.configuration_utils import PreTrainedConfig
from transformers.utils import logging as transformers_logging

from ..configuration_adhvit import AdhVitConfig
from ..modeling_adhvit import AdhVitForDualHandClassification
from .checkpoint import read_videomae_v2_state_dict, videomae_v2_to_adhvit


logger = logging.getLogger(__name__)

HEAD_PREFIXES = ("lh_classifier.", "rh_classifier.")


def load_pretrained_backbone(model, path, model_key: str = "model|module", model_prefix: str = "") -> None:
    """
    Copy pretrained backbone weights into `model` (an [`AdhVitForDualHandClassification`]) in place.

    `path` is a VideoMAE V2 `.pth` file (the original's `--finetune`, with `--model_key`/`--model_prefix`), a Hugging
    Face VideoMAE folder or an AdhVit folder (converted or trained). The heads stay as they are; `fc_norm` is copied
    when the source has one; one warning line names the modules left new. Raises ValueError naming the tensor and both
    shapes when the architectures differ.
    """
    if Path(path).is_dir():
        state_dict = _hf_videomae_state_dict(path)
    else:
        state_dict = videomae_v2_to_adhvit(read_videomae_v2_state_dict(path, model_key, model_prefix), str(path))
    copy_backbone(model, state_dict, str(path))


def _hf_videomae_state_dict(path) -> dict:
    config_dict, _ = PreTrainedConfig.get_config_dict(path)
    if config_dict.get("model_type") == AdhVitConfig.model_type:
        return _adhvit_backbone_state_dict(path)
    if "VideoMAEForVideoClassification" in (config_dict.get("architectures") or []):
        source = VideoMAEForVideoClassification.from_pretrained(path)
        state_dict = {f"videomae.{name}": tensor for name, tensor in source.videomae.state_dict().items()}
        if source.fc_norm is not None:
            state_dict.update({f"fc_norm.{name}": tensor for name, tensor in source.fc_norm.state_dict().items()})
    else:
        source = VideoMAEModel.from_pretrained(path)
        state_dict = {f"videomae.{name}": tensor for name, tensor in source.state_dict().items()}
    for name in [name for name in state_dict if name.startswith("videomae.layernorm.")]:
        logger.info(f"{path}: skipping {name} (AdhVit pools by mean + fc_norm)")
        del state_dict[name]
    return state_dict


def _adhvit_backbone_state_dict(path) -> dict:
    """The backbone and `fc_norm` tensors an AdhVit folder really holds (heads and absent tensors left out)."""
    verbosity = transformers_logging.get_verbosity()
    # the load report would list the heads a converted folder lacks; copy_backbone says which modules are new
    transformers_logging.set_verbosity_error()
    try:
        source, info = AdhVitForDualHandClassification.from_pretrained(
            path, output_loading_info=True, ignore_mismatched_sizes=True
        )
    finally:
        transformers_logging.set_verbosity(verbosity)
    absent = set(info["missing_keys"]) | {name for name, *_ in info["mismatched_keys"]}
    return {
        name: tensor
        for name, tensor in source.state_dict().items()
        if name not in absent and not name.startswith(HEAD_PREFIXES)
    }


def copy_backbone(model, state_dict: dict, source: str) -> None:
    """Loads AdhVit-named backbone tensors (and `fc_norm`) into `model`, refusing any that do not fit it."""
    target = model.state_dict()
    backbone_names = {name for name in target if not name.startswith(HEAD_PREFIXES + ("fc_norm.",))}
    for name, tensor in state_dict.items():
        if name not in target or name.startswith(HEAD_PREFIXES):
            raise ValueError(
                f"{source}: {name} {tuple(tensor.shape)} has no place in the model ({model.config.num_hidden_layers} "
                f"layers of width {model.config.hidden_size}); the architectures differ."
            )
        if tensor.shape != target[name].shape:
            raise ValueError(
                f"{source}: {name} has shape {tuple(tensor.shape)} in the checkpoint but {tuple(target[name].shape)} "
                "in the model; the architectures differ."
            )
    missing = sorted(backbone_names - state_dict.keys())
    if missing:
        raise ValueError(f"{source}: no weights for {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}.")
    model.load_state_dict(state_dict, strict=False)
    new_modules = ["lh_classifier", "rh_classifier"] + ([] if "fc_norm.weight" in state_dict else ["fc_norm"])
    logger.warning(
        f"Loaded {len(state_dict)} backbone tensors from {source}; newly initialised: {', '.join(new_modules)}"
    )

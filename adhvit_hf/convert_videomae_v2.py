# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""
Load VideoMAE V2 weights into AdhVit.

Two sources are understood:

- VideoMAE V2 `.pth` checkpoints in the layout of OpenGVLab/VideoMAEv2 (e.g. `vit_b_k710_dl_from_giant.pth`): an
  optional `model`/`module` wrapper, `_orig_mod.`/`backbone.`/`encoder.` prefixes, fused `qkv.weight` with separate
  `q_bias`/`v_bias`, and a classification `head` that is dropped.
- Hugging Face VideoMAE folders (`VideoMAEModel`, `VideoMAEForVideoClassification`, `VideoMAEForPreTraining`).

- AdhVit folders (converted or trained): their backbone and `fc_norm`.

The backbone (and `fc_norm` where the source has one) is copied; the two hand heads always stay new. A converted folder
holds only what was converted: loading it reports the heads (and `fc_norm` of a pre-training checkpoint) as missing,
so they are initialised anew, and nothing untrained passes for trained weights.
"""

import logging
import os
import pickle
import re
import struct
from pathlib import Path

import torch
from transformers import VideoMAEForVideoClassification, VideoMAEModel
from transformers.configuration_utils import PreTrainedConfig
from transformers.utils import logging as transformers_logging

from .configuration_adhvit import AdhVitConfig, as_pair
from .modeling_adhvit import AdhVitForDualHandClassification, sinusoid_position_table
from .processing_adhvit import AdhVitVideoProcessor


logger = logging.getLogger(__name__)

# name -> (hidden_size, num_hidden_layers, num_attention_heads, intermediate_size), as in VideoMAE V2's model registry
MODEL_SIZES = {
    "small": (384, 12, 6, 1536),
    "base": (768, 12, 12, 3072),
    "large": (1024, 24, 16, 4096),
    "huge": (1280, 32, 16, 5120),
    "giant": (1408, 40, 16, 6144),
}
MODEL_NAME_PATTERN = re.compile(r"vit_(?P<size>small|base|large|huge|giant)_patch(?P<patch>14|16)_224(_alternating)?")
KNOWN_MODEL_NAMES = [
    f"vit_{size}_patch{patch}_224{suffix}"
    for size in MODEL_SIZES
    for patch in (14, 16)
    for suffix in ("", "_alternating")
]
# pretraining/finetuning tensors that have no counterpart in the AdhVit backbone
DROPPED_PREFIXES = ("head.", "norm.", "decoder.", "encoder_to_decoder.", "mask_token")
HEAD_PREFIXES = ("lh_classifier.", "rh_classifier.")
# VideoMAE V2's evaluation resizes the short side to 224 (--short_side_size) before cropping --input_size
VIDEOMAE_V2_SHORT_SIDE = 224

# VideoMAE V2 block tensor -> AdhVit tensor (inside videomae.encoder.layer.{i}.)
BLOCK_RENAMES = {
    "norm1": "layernorm_before",
    "attn.q_bias": "attention.attention.query.bias",
    "attn.v_bias": "attention.attention.value.bias",
    "attn.proj": "attention.output.dense",
    "norm2": "layernorm_after",
    "mlp.fc1": "intermediate.dense",
    "mlp.fc2": "output.dense",
}
BLOCK_KEY = re.compile(r"blocks\.(?P<index>\d+)\.(?P<name>.+)")


def config_from_model_name(name: str, **overrides) -> AdhVitConfig:
    """
    AdhVitConfig for an original ADH-ViT `--model` name such as `vit_base_patch16_224_alternating`; `overrides` set
    any field.
    """
    match = MODEL_NAME_PATTERN.fullmatch(name)
    if match is None:
        raise ValueError(f"Unknown model name {name!r}; known names: {', '.join(KNOWN_MODEL_NAMES)}.")
    hidden_size, num_layers, num_heads, intermediate_size = MODEL_SIZES[match["size"]]
    fields = {
        "hidden_size": hidden_size,
        "num_hidden_layers": num_layers,
        "num_attention_heads": num_heads,
        "intermediate_size": intermediate_size,
        "patch_size": int(match["patch"]),
        "image_size": 224,
    }
    return AdhVitConfig(**{**fields, **overrides})


def read_videomae_v2_state_dict(path, model_key: str = "model|module", model_prefix: str = "") -> dict:
    """
    Tensors of a VideoMAE V2 `.pth` file with the wrappers and prefixes of the original's `--finetune` removed.

    `model_key` lists (`|`-separated) the keys that may wrap the state dict; `model_prefix` is stripped from every
    key that has it (keys without it are left out). The file is opened with `torch.load(weights_only=True)`.
    """
    if not os.path.isfile(path):
        raise ValueError(f"{path}: checkpoint file not found.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"{path}: refused to load, the file holds Python objects that would run code when unpickled "
            f"(torch.load(weights_only=True) said: {str(error).splitlines()[0]})."
        ) from error
    except (RuntimeError, EOFError, struct.error) as error:  # struct.error: a file of a few bytes
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({error}).") from error
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path}: expected a dict of tensors, got {type(checkpoint).__name__}.")
    for key in model_key.split("|"):
        if key in checkpoint:
            logger.info(f"{path}: reading the state dict under key {key!r}")
            checkpoint = checkpoint[key]
            break
    state_dict = {}
    for name, tensor in checkpoint.items():
        if not isinstance(tensor, torch.Tensor):
            continue  # epoch counters, args, optimizer state next to the weights
        name = name.removeprefix("_orig_mod.")
        if model_prefix:
            if not name.startswith(model_prefix):
                continue
            name = name.removeprefix(model_prefix)
        for prefix in ("backbone.", "encoder."):
            if name.startswith(prefix):
                name = name.removeprefix(prefix)
                break
        state_dict[name] = tensor
    if not state_dict:
        raise ValueError(f"{path}: no tensors found (model_key={model_key!r}, model_prefix={model_prefix!r}).")
    return state_dict


def videomae_v2_to_adhvit(state_dict: dict, source: str = "checkpoint") -> dict:
    """Rename VideoMAE V2 tensors to AdhVit names and split fused `qkv.weight`; drops heads, decoders and tables."""
    converted = {}
    unknown = []
    for name, tensor in state_dict.items():
        if name == "pos_embed":
            _check_fixed_position_table(tensor, source)
        elif name.startswith(DROPPED_PREFIXES):
            logger.info(f"{source}: skipping {name} (not part of the AdhVit backbone)")
        elif name.startswith("patch_embed.proj."):
            converted[f"videomae.embeddings.patch_embeddings.projection.{name.rsplit('.', 1)[1]}"] = tensor
        elif name.startswith("fc_norm."):
            converted[name] = tensor
        elif (block := BLOCK_KEY.fullmatch(name)) is not None and (renamed := _rename_block_tensor(block, tensor)):
            converted.update(renamed)
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(
            f"{source}: tensors with no AdhVit counterpart: {', '.join(sorted(unknown))} (layer scale, cosine "
            "attention and learnable position embeddings are not supported)."
        )
    return converted


def _rename_block_tensor(block: re.Match, tensor: torch.Tensor) -> dict | None:
    prefix = f"videomae.encoder.layer.{block['index']}."
    name = block["name"]
    if name == "attn.qkv.weight":
        query, key, value = tensor.chunk(3, dim=0)
        return {
            f"{prefix}attention.attention.query.weight": query,
            f"{prefix}attention.attention.key.weight": key,
            f"{prefix}attention.attention.value.weight": value,
        }
    module, _, leaf = name.rpartition(".")
    if name in BLOCK_RENAMES:
        return {prefix + BLOCK_RENAMES[name]: tensor}
    if module in BLOCK_RENAMES:
        return {f"{prefix}{BLOCK_RENAMES[module]}.{leaf}": tensor}
    return None


def _check_fixed_position_table(pos_embed: torch.Tensor, source: str) -> None:
    # VideoMAE V2 uses a fixed sin-cos table, which AdhVit recomputes from its config; a table that differs was learnt
    num_positions, dim = pos_embed.shape[-2:]
    if not torch.allclose(pos_embed.reshape(num_positions, dim).float(), sinusoid_position_table(num_positions, dim)):
        raise ValueError(
            f"{source}: pos_embed is not the fixed sin-cos table; learnable position embeddings are not supported."
        )


def infer_config(state_dict: dict, **overrides) -> AdhVitConfig:
    """AdhVitConfig of the backbone a VideoMAE V2 state dict (after `read_videomae_v2_state_dict`) holds."""
    projection = state_dict.get("patch_embed.proj.weight")
    if projection is None or projection.ndim != 5:
        raise ValueError("Not a VideoMAE V2 ViT checkpoint: no 5-D patch_embed.proj.weight tensor.")
    hidden_size, num_channels, tubelet_size, patch_size, _ = projection.shape
    block_indices = {int(match["index"]) for name in state_dict if (match := BLOCK_KEY.fullmatch(name))}
    sizes_by_width = {spec[0]: (name, spec) for name, spec in MODEL_SIZES.items()}
    size_name, (_, _, num_heads, _) = sizes_by_width.get(hidden_size, (None, (None, None, None, None)))
    if num_heads is None and "num_attention_heads" not in overrides:
        raise ValueError(
            f"Cannot infer num_attention_heads for hidden size {hidden_size} (known: "
            f"{', '.join(f'{name}={spec[0]}' for name, spec in MODEL_SIZES.items())}); pass num_attention_heads=..."
        )
    fields = {
        "hidden_size": hidden_size,
        "num_channels": num_channels,
        "tubelet_size": tubelet_size,
        "patch_size": patch_size,
        "num_hidden_layers": max(block_indices) + 1,
        "num_attention_heads": num_heads,
        "intermediate_size": state_dict["blocks.0.mlp.fc1.weight"].shape[0],
        "qv_bias": "blocks.0.attn.q_bias" in state_dict,
    }
    fields.update(overrides)
    image_size = fields.setdefault("image_size", 224)
    if "pos_embed" in state_dict and "num_frames" not in overrides:
        # the saved table fixes the token count, hence the number of frames at this image size
        spatial_tokens = (image_size // patch_size) ** 2
        fields["num_frames"] = state_dict["pos_embed"].shape[-2] // spatial_tokens * tubelet_size
    logger.info(
        f"Inferred a VideoMAE V2 ViT-{size_name or 'custom'}: patch {patch_size}, tubelet {tubelet_size}, "
        f"{fields['num_hidden_layers']} layers, hidden {hidden_size}"
    )
    return AdhVitConfig(**fields)


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
    _copy_backbone(model, state_dict, str(path))


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
    # the load report would list the heads a converted folder lacks; _copy_backbone says which modules are new
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


def _copy_backbone(model, state_dict: dict, source: str) -> None:
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
    _copy_backbone(model, converted, str(path))
    if output_dir is not None:
        # only the converted tensors: the new heads must load as missing, never as trained weights
        model.save_pretrained(output_dir, state_dict={name: model.state_dict()[name] for name in converted})
        evaluation_processor(model.config).save_pretrained(output_dir)
        from .publishing import add_remote_code  # publishing imports this module's neighbours; import it late

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


__all__ = [
    "config_from_model_name",
    "convert_videomae_v2_checkpoint",
    "evaluation_processor",
    "infer_config",
    "load_pretrained_backbone",
    "read_videomae_v2_state_dict",
    "videomae_v2_to_adhvit",
]

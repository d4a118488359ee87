# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The tiny architecture (spelled once, here), tiny saved models and an independent VideoMAE V2 reference."""

import math
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from adhvit_hf import AdhVitConfig, AdhVitForDualHandClassification
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor


TINY = dict(
    image_size=32,
    patch_size=16,
    num_frames=4,
    tubelet_size=2,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    lh_num_labels=3,
    rh_num_labels=4,
)
# The same architecture as run_havid's --config_overrides (with --model vit_small_patch16_224 and --input_size 32).
TINY_MODEL = ",".join(
    f"{name}={TINY[name]}" for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
)
LH_LABELS = {0: "grasp", 1: "screw", 2: "place"}
RH_LABELS = {0: "hold", 1: "insert", 2: "push", 3: "idle"}
# Matches the tiny model: 4 frames, 32 x 32 crops. Short side 32 keeps 32-px-high videos at their native size.
TINY_PROCESSOR = dict(
    num_frames=4, sampling_rate=2, test_num_segment=2, test_num_crop=3, short_side_size=32, crop_size=32
)


def tiny_config(**overrides) -> AdhVitConfig:
    """The tiny architecture; given `{hand}_id2label`, the hand's label count follows it."""
    config = {**TINY, **overrides}
    for hand in ("lh", "rh"):
        if f"{hand}_id2label" in overrides and f"{hand}_num_labels" not in overrides:
            del config[f"{hand}_num_labels"]
    return AdhVitConfig(**config)


def tiny_processor(**overrides) -> AdhVitVideoProcessor:
    return AdhVitVideoProcessor(**{**TINY_PROCESSOR, **overrides})


def tiny_model(seed: int = 0, **overrides) -> AdhVitForDualHandClassification:
    """A tiny model in eval mode whose q/v biases and heads are non-zero, so a lost tensor shows in the logits."""
    torch.manual_seed(seed)
    model = AdhVitForDualHandClassification(tiny_config(**overrides)).eval()
    with torch.no_grad():
        for layer in model.videomae.encoder.layer:
            layer.attention.attention.query.bias.normal_()
            layer.attention.attention.value.bias.normal_()
        for head in (model.lh_classifier, model.rh_classifier):
            head.weight.normal_()
            head.bias.normal_()
    return model


def tiny_pixels(batch: int = 2, seed: int = 1, **overrides) -> torch.Tensor:
    config = {**TINY, **overrides}
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, config["num_frames"], 3, config["image_size"], config["image_size"])
    return torch.randn(shape, generator=generator)


def videomae_v2_state_dict(
    hidden=32, depth=2, mlp=64, patch=16, tubelet=2, num_classes=7, seed=0, wrap="model", prefix="", scale=0.2
) -> dict:
    """Random tensors in the layout of a VideoMAE V2 fine-tuned checkpoint (fused qkv, separate q/v biases, head);
    weights of standard deviation `scale`."""
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=scale):
        return torch.randn(shape, generator=generator) * scale

    state = {"patch_embed.proj.weight": rand(hidden, 3, tubelet, patch, patch), "patch_embed.proj.bias": rand(hidden)}
    for index in range(depth):
        block = f"blocks.{index}."
        state.update(
            {
                block + "norm1.weight": 1 + rand(hidden),
                block + "norm1.bias": rand(hidden),
                block + "attn.qkv.weight": rand(3 * hidden, hidden),
                block + "attn.q_bias": rand(hidden, scale=1.0),
                block + "attn.v_bias": rand(hidden, scale=1.0),
                block + "attn.proj.weight": rand(hidden, hidden),
                block + "attn.proj.bias": rand(hidden),
                block + "norm2.weight": 1 + rand(hidden),
                block + "norm2.bias": rand(hidden),
                block + "mlp.fc1.weight": rand(mlp, hidden),
                block + "mlp.fc1.bias": rand(mlp),
                block + "mlp.fc2.weight": rand(hidden, mlp),
                block + "mlp.fc2.bias": rand(hidden),
            }
        )
    state.update(
        {
            "fc_norm.weight": 1 + rand(hidden),
            "fc_norm.bias": rand(hidden),
            "head.weight": rand(num_classes, hidden),
            "head.bias": rand(num_classes),
        }
    )
    state = {prefix + name: tensor for name, tensor in state.items()}
    return {wrap: state, "epoch": 3} if wrap else state


def reference_sinusoid_table(num_positions: int, dim: int) -> torch.Tensor:
    """VideoMAE's table written out with math, entry by entry."""
    table = torch.empty(num_positions, dim, dtype=torch.float64)
    for position in range(num_positions):
        for channel in range(dim):
            angle = position / math.pow(10000, 2 * (channel // 2) / dim)
            table[position, channel] = math.sin(angle) if channel % 2 == 0 else math.cos(angle)
    return table.float()


def reference_pooled_features(state: dict, video_bcthw: torch.Tensor, num_heads: int, eps: float = 1e-6):
    """VideoMAE V2 `forward_features` (fc_norm of the token mean) in plain torch ops, on upstream's (B, C, T, H, W)."""
    weight = state["patch_embed.proj.weight"]
    tubelet, patch = weight.shape[2], weight.shape[3]
    tokens = F.conv3d(video_bcthw, weight, state["patch_embed.proj.bias"], stride=(tubelet, patch, patch))
    tokens = tokens.flatten(2).transpose(1, 2)
    batch, length, dim = tokens.shape
    tokens = tokens + reference_sinusoid_table(length, dim)
    depth = len({name.split(".")[1] for name in state if name.startswith("blocks.")})
    head_dim = dim // num_heads
    for index in range(depth):
        block = f"blocks.{index}."
        p = {name.removeprefix(block): t for name, t in state.items() if name.startswith(block)}
        normed = F.layer_norm(tokens, (dim,), p["norm1.weight"], p["norm1.bias"], eps)
        qkv_bias = torch.cat([p["attn.q_bias"], torch.zeros_like(p["attn.v_bias"]), p["attn.v_bias"]])
        qkv = F.linear(normed, p["attn.qkv.weight"], qkv_bias).reshape(batch, length, 3, num_heads, head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attention = ((q * head_dim**-0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        mixed = (attention @ v).transpose(1, 2).reshape(batch, length, dim)
        tokens = tokens + F.linear(mixed, p["attn.proj.weight"], p["attn.proj.bias"])
        normed = F.layer_norm(tokens, (dim,), p["norm2.weight"], p["norm2.bias"], eps)
        hidden = F.gelu(F.linear(normed, p["mlp.fc1.weight"], p["mlp.fc1.bias"]))
        tokens = tokens + F.linear(hidden, p["mlp.fc2.weight"], p["mlp.fc2.bias"])
    return F.layer_norm(tokens.mean(1), (dim,), state["fc_norm.weight"], state["fc_norm.bias"], eps)


_WITHOUT_ADHVIT_HF = """
import sys
sys.modules["adhvit_hf"] = None  # as if only transformers were installed
try:
    import adhvit_hf
except ImportError:
    pass
else:
    raise SystemExit("adhvit_hf should not be importable here")
"""


def run_without_adhvit_hf(script: str, args: list[str], work_dir) -> subprocess.CompletedProcess:
    """Runs `script` in a fresh Python where `import adhvit_hf` fails, offline, with its own HF cache."""
    env = dict(os.environ, HF_HOME=str(work_dir / "hf_home"), HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_ADHVIT_HF + textwrap.dedent(script), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=work_dir,
        timeout=300,
    )


def tiny_videomae_config(num_labels: int = 9):
    """A tiny stock transformers VideoMAE config (the architecture of `tiny_model`'s backbone)."""
    from transformers import VideoMAEConfig

    architecture = (
        "image_size",
        "patch_size",
        "num_frames",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
    )
    return VideoMAEConfig(
        **{name: TINY[name] for name in architecture},
        intermediate_size=TINY["intermediate_size"],
        num_labels=num_labels,
    )


def save_tiny_model(folder, seed: int = 0, **processor_overrides):
    """Saves a tiny AdhVit model (named labels, non-trivial heads) and its processor to `folder`."""
    model = tiny_model(seed=seed, lh_id2label=LH_LABELS, rh_id2label=RH_LABELS)
    model.save_pretrained(folder)
    processor = tiny_processor(**processor_overrides)
    processor.save_pretrained(folder)
    return model, processor


def save_stock_videomae(folder) -> None:
    """A stock VideoMAE classification folder (tiny) with an ADH-ViT preprocessor config beside it."""
    from transformers import VideoMAEForVideoClassification

    VideoMAEForVideoClassification(tiny_videomae_config(num_labels=3)).save_pretrained(folder)
    tiny_processor().save_pretrained(folder)


class HalfBrightnessModel(nn.Module):
    """Stands in for ADH-ViT on `two_hand_frames` videos, with outputs that are a known function of the frames.

    Class 1 of a hand scores `10 * (f - 1/2)` and class 0 `-10 * (f - 1/2)`, where f is the fraction of the window's
    frames whose half of the picture (left: left hand, right: right hand) is bright; the pooled feature is
    (f_lh, f_rh). So a window is labelled "after the switch" exactly when most of its frames are.
    """

    def __init__(self, num_frames: int = 4):
        super().__init__()
        self.config = SimpleNamespace(
            num_frames=num_frames,
            lh_id2label={0: "before", 1: "after"},
            rh_id2label={0: "before", 1: "after"},
        )
        self.register_buffer("anchor", torch.zeros(()))

    @property
    def device(self):
        return self.anchor.device

    @property
    def dtype(self):
        return self.anchor.dtype

    def forward(self, pixel_values, hand=None):
        width = pixel_values.shape[-1]
        bright = {
            "lh": (pixel_values[..., : width // 2].mean(dim=(2, 3, 4)) > 0).float().mean(dim=1),
            "rh": (pixel_values[..., width // 2 :].mean(dim=(2, 3, 4)) > 0).float().mean(dim=1),
        }
        logits = {hand: torch.stack([-10 * (f - 0.5), 10 * (f - 0.5)], dim=1) for hand, f in bright.items()}
        return SimpleNamespace(
            pooled_output=torch.stack([bright["lh"], bright["rh"]], dim=1),
            lh_logits=logits["lh"],
            rh_logits=logits["rh"],
        )

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""VideoMAE V2's ViT-S, B, L, H and g: `--model` names, conversion and `--finetune` of each shape, with parity to
VideoMAE V2's own `forward_features` on shape-exact stand-ins (random weights, full width, two blocks)."""

import pytest
import torch
from helpers.models import reference_pooled_features, tiny_pixels, videomae_v2_state_dict

from adhvit_hf import AdhVitForDualHandClassification
from adhvit_hf.videomae_v2 import config_from_model_name, convert_videomae_v2_checkpoint, load_pretrained_backbone


# VideoMAE V2 models/modeling_finetune.py: (patch_size, embed_dim, depth, num_heads, mlp hidden = embed_dim x mlp_ratio)
VIDEOMAE_V2_SHAPES = {
    "vit_small_patch16_224": (16, 384, 12, 6, 1536),
    "vit_base_patch16_224": (16, 768, 12, 12, 3072),
    "vit_large_patch16_224": (16, 1024, 24, 16, 4096),
    "vit_huge_patch16_224": (16, 1280, 32, 16, 5120),
    "vit_giant_patch14_224": (14, 1408, 40, 16, 6144),  # mlp_ratio 48 / 11
}
# Reduced depth and geometry: two blocks, 2 x 2 patches per frame, 4 frames (8 tokens).
DEPTH = 2


@pytest.mark.parametrize("name", VIDEOMAE_V2_SHAPES)
def test_model_names_give_videomae_v2_shapes(name):
    patch, width, depth, heads, mlp = VIDEOMAE_V2_SHAPES[name]
    for variant in (name, f"{name}_alternating"):
        config = config_from_model_name(variant)
        shape = (config.patch_size, config.hidden_size, config.num_hidden_layers, config.num_attention_heads)
        assert (*shape, config.intermediate_size) == (patch, width, depth, heads, mlp)
        assert (config.image_size, config.tubelet_size, config.qv_bias, config.layer_norm_eps) == (224, 2, True, 1e-6)


@pytest.mark.parametrize("name", VIDEOMAE_V2_SHAPES)
def test_each_backbone_converts_and_finetunes_with_videomae_v2_features(name, tmp_path):
    patch, width, _, heads, mlp = VIDEOMAE_V2_SHAPES[name]
    state = videomae_v2_state_dict(hidden=width, depth=DEPTH, mlp=mlp, patch=patch, scale=0.02)
    torch.save(state, tmp_path / "v2.pth")
    pixels = tiny_pixels(batch=2, image_size=2 * patch, num_frames=4)
    expected = reference_pooled_features(state["model"], pixels.permute(0, 2, 1, 3, 4), num_heads=heads)

    converted = convert_videomae_v2_checkpoint(tmp_path / "v2.pth", image_size=2 * patch, num_frames=4).eval()
    config = converted.config
    assert (config.hidden_size, config.num_attention_heads, config.intermediate_size) == (width, heads, mlp)
    assert (config.patch_size, config.num_hidden_layers) == (patch, DEPTH)
    config = config_from_model_name(name, num_hidden_layers=DEPTH, image_size=2 * patch, num_frames=4)
    finetuned = AdhVitForDualHandClassification(config)
    load_pretrained_backbone(finetuned, tmp_path / "v2.pth")
    with torch.no_grad():
        for model in (converted, finetuned.eval()):
            torch.testing.assert_close(model(pixels).pooled_output, expected, rtol=0, atol=1e-4)

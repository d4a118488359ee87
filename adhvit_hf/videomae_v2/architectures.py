# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The original ADH-ViT's architecture names (`vit_base_patch16_224_alternating`, ...), as in VideoMAE V2's model
registry, and the `AdhVitConfig` each stands for."""

import re

from ..configuration_adhvit import AdhVitConfig


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

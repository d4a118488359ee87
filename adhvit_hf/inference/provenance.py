# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""What made a video's feature outputs: its source file and the run's settings, recorded beside the outputs.

`adhvit-extract` into a folder that already holds results reuses a video's outputs only when the record says they
were made from the same file (path, size, modification time) by the same run settings (model weights, processor,
stride, precision). The record is a dict of named parts, so a new setting (cameras, say) is one more key.
"""

import hashlib
import json
import os
from pathlib import Path

import torch

from ..utils import UserInputError


RECORD_FOLDER = "provenance"
# Settings whose change makes every earlier output of the folder another run's, with the words that name them.
RUN_SETTINGS = {
    "model": "model",
    "weights": "model weights",
    "processor": "preprocessing",
    "stride": "--stride",
    "precision": "precision",
}


def record_path(output_dir: str | os.PathLike, name: str) -> Path:
    return Path(output_dir) / RECORD_FOLDER / f"{name}.json"


def source_record(video: str | os.PathLike) -> dict:
    """The source file as found now: absolute path, size and modification time."""
    stat = os.stat(video)
    return {"path": str(Path(video).resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def weights_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 over every tensor of the model's state dict (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def run_record(model, processor, stride: int, bf16: bool) -> dict:
    """The settings of this extraction that every output depends on."""
    return {
        "model": str(getattr(model.config, "_name_or_path", "") or ""),
        "weights": weights_fingerprint(model),
        "processor": json.loads(processor.to_json_string()),
        "stride": stride,
        "precision": "bf16" if bf16 else "fp32",
    }


def read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def reuse_decision(output_dir, name: str, video, run: dict) -> tuple[bool, str | None]:
    """Whether the existing, complete outputs of `video` can be kept (True, None) or must be redone (False, why).
    Raises `UserInputError` where redoing would destroy another run's or another video's results."""
    path = record_path(output_dir, name)
    record = read_record(path)
    if record is None:
        return False, "no record of what made its outputs"
    for key, words in RUN_SETTINGS.items():
        if record.get("run", {}).get(key) != run[key]:
            before, now = record.get("run", {}).get(key), run[key]
            detail = f" ({before} then, {now} now)" if key in ("stride", "precision", "model") else ""
            raise UserInputError(
                f"{path}: the outputs in {output_dir} were made with other {words}{detail}; choose another --output_dir, "
                "or --overwrite to redo them with these settings"
            )
    source = source_record(video)
    if record.get("source", {}).get("path") != source["path"]:
        raise UserInputError(
            f"{path}: the outputs named {name!r} in {output_dir} were made from {record.get('source', {}).get('path')}"
            f", not {source['path']}: another video of the same name; choose another --output_dir, or --overwrite"
        )
    if record["source"] != source:
        return False, "the video changed since its outputs were made (size or modification time)"
    return True, None

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


# Settings whose change makes every earlier output of the folder another run's, with the words that name them.
RUN_SETTINGS = {
    "model": "model",
    "weights": "model weights",
    "processor": "preprocessing",
    "stride": "--stride",
    "precision": "precision",
}


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


def reuse_decision(path: Path, output_dir, name: str, source: dict, run: dict) -> str | None:
    """None when the complete outputs whose record is `path` were made from `source` by `run`; else why they must be
    redone. Raises `UserInputError` where redoing would destroy another run's or another video's results."""
    record = read_record(path)
    if record is None or "run" not in record or "source" not in record:
        return "no record of what made its outputs"
    for key, words in RUN_SETTINGS.items():
        before, now = record["run"].get(key), run[key]
        if before != now:
            detail = f" ({before} then, {now} now)" if key in ("stride", "precision", "model") else ""
            raise UserInputError(
                f"{path}: the outputs in {output_dir} were made with other {words}{detail}; choose another "
                "--output_dir, or --overwrite to redo them with these settings"
            )
    paths = (
        {key: value["path"] for key, value in record["source"].items()}
        if "path" not in record["source"]
        else {"": record["source"]["path"]}
    )
    now_paths = {key: value["path"] for key, value in source.items()} if "path" not in source else {"": source["path"]}
    if paths != now_paths:
        raise UserInputError(
            f"{path}: the outputs named {name!r} in {output_dir} were made from {', '.join(paths.values())}, not "
            f"{', '.join(now_paths.values())}: another video of the same name; choose another --output_dir, or "
            "--overwrite"
        )
    if record["source"] != source:
        return "the video changed since its outputs were made (size or modification time)"
    return None

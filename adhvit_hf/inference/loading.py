# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Loading a trained ADH-ViT for inference and evaluation: a wrong folder is refused, never run on random weights.

`from_pretrained` builds a model from a folder of another architecture, or with tensors missing, and fills the gaps
with freshly initialised weights. Starting training from a backbone wants exactly that (new heads); predicting,
extracting features or evaluating with it gives confident-looking answers from noise. Everything here turns such a
folder, and the other ways loading fails on user input (no such folder, no config.json, a damaged config or weight
file, a device that is not there), into one `UserInputError` naming the file or flag and what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle

import torch
from huggingface_hub.errors import StrictDataclassError
from huggingface_hub.utils import HFValidationError, validate_repo_id
from safetensors import SafetensorError
from transformers import PretrainedConfig
from transformers.utils import CONFIG_NAME

from ..configuration_adhvit import AdhVitConfig
from ..modeling_adhvit import AdhVitForDualHandClassification, without_progress_bars
from ..processing_adhvit import AdhVitVideoProcessor
from ..utils import UserInputError


PROCESSOR_CONFIG_NAME = "preprocessor_config.json"
# How many tensor names a message lists before it only gives the count.
MAX_LISTED_TENSORS = 8
# Errors transformers and safetensors raise for a damaged or unreadable weight file.
WEIGHT_FILE_ERRORS = (OSError, SafetensorError, pickle.UnpicklingError, EOFError)


def is_hub_repo_id(name: str) -> bool:
    """Whether `name` can only mean a Hub repo: `owner/name`, valid for the Hub, and not a path on this machine.

    A single word or anything path-like (leading `/`, `.` or `~`, more than one `/`, an `owner` that is a local
    folder) is taken for a folder the user mistyped, so it fails at once instead of after network retries.
    """
    if name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") != 1:
        return False
    if os.path.isdir(name.split("/")[0]):
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def _listed(names, what: str) -> str:
    names = sorted(names)
    more = f" and {len(names) - MAX_LISTED_TENSORS} more" if len(names) > MAX_LISTED_TENSORS else ""
    return f"{len(names)} {what}: {', '.join(names[:MAX_LISTED_TENSORS])}{more}"


def check_model_source(name_or_path: str | os.PathLike, flag: str = "--model") -> str:
    """`name_or_path` as a string, after refusing what cannot be a saved model: a missing folder that is no Hub repo
    id, a file, or a folder without config.json (its `checkpoint-N` subfolders are suggested)."""
    source = str(name_or_path)
    if os.path.isdir(source):
        if not os.path.isfile(os.path.join(source, CONFIG_NAME)):
            checkpoints = sorted(
                (entry for entry in os.listdir(source) if entry.startswith("checkpoint-")),
                key=lambda entry: (len(entry), entry),
            )
            hint = (
                f"; its checkpoint folders ({', '.join(checkpoints)}) hold models"
                if checkpoints
                else "; give the folder written by save_pretrained or adhvit-train"
            )
            raise UserInputError(f"{flag} {source}: no {CONFIG_NAME} in this folder, so it is not a saved model{hint}")
        return source
    if os.path.exists(source):
        raise UserInputError(f"{flag} {source}: is a file; give the model folder (the one holding {CONFIG_NAME})")
    if not is_hub_repo_id(source):
        raise UserInputError(f"{flag} {source}: no such folder (and not a Hub repo id of the form owner/name)")
    return source


def read_config_dict(source: str, flag: str = "--model") -> dict:
    """The config of a model folder or Hub repo as a dict; a missing or damaged config.json names the file."""
    if os.path.isdir(source):
        path = os.path.join(source, CONFIG_NAME)
        try:
            with open(path, encoding="utf-8-sig") as handle:
                config = json.load(handle)
        except json.JSONDecodeError as error:
            raise UserInputError(f"{path}: not valid JSON ({error})") from None
        except UnicodeDecodeError as error:
            raise UserInputError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
        except OSError as error:
            raise UserInputError(f"{path}: cannot read ({error.strerror})") from None
        if not isinstance(config, dict):
            raise UserInputError(f"{path}: expected a JSON object, got a {type(config).__name__}")
        return config
    try:
        config, _ = PretrainedConfig.get_config_dict(source)
    except (OSError, ValueError) as error:
        raise UserInputError(
            f"{flag} {source}: no such folder, and the Hub repo could not be loaded ({error})"
        ) from None
    return config


def check_adhvit_config(config: dict, where: str) -> None:
    """Refuses a config of another architecture: its heads (and maybe more) would be freshly initialised."""
    model_type = config.get("model_type")
    if model_type != AdhVitConfig.model_type:
        raise UserInputError(
            f"{where}: model_type {model_type!r} is not an ADH-ViT model (model_type {AdhVitConfig.model_type!r}); "
            "loading it would run the dual-hand heads on random weights. Give a folder saved by adhvit-train, or "
            "convert a VideoMAE V2 checkpoint with adhvit-convert and fine-tune it first"
        )


def check_loading_info(loading_info: dict, source: str) -> None:
    """Refuses a model whose weight file lacked tensors or held others (`from_pretrained(output_loading_info=True)`).

    For inference every tensor must come from the file: a missing one would be random, an unexpected one means the
    file belongs to another model.
    """
    problems = []
    if loading_info.get("missing_keys"):
        problems.append(_listed(loading_info["missing_keys"], "tensor(s) missing from the weights, so random"))
    if loading_info.get("unexpected_keys"):
        problems.append(_listed(loading_info["unexpected_keys"], "unexpected tensor(s) the model has no place for"))
    if loading_info.get("mismatched_keys"):
        problems.append(
            _listed(
                [str(key[0]) if isinstance(key, tuple) else str(key) for key in loading_info["mismatched_keys"]],
                "tensor(s) of another shape",
            )
        )
    if loading_info.get("error_msgs"):
        problems.append("; ".join(loading_info["error_msgs"]))
    if problems:
        missing = loading_info.get("missing_keys") or []
        heads_only = (
            missing
            and len(problems) == 1
            and all(name.startswith(("lh_classifier.", "rh_classifier.")) for name in missing)
        )
        advice = (
            "a converted backbone has no trained hand heads: fine-tune it first (adhvit-train --model_name_or_path)"
            if heads_only
            else "this folder holds another or an incomplete model, and predictions from it would be wrong"
        )
        raise UserInputError(f"{source}: the weights do not match the model ({'; '.join(problems)}); {advice}")


def resolve_device(device: str | None, flag: str = "--device") -> torch.device:
    """The torch device for `device` ("cpu", "cuda", "cuda:1", "mps"; None: GPU 0 if any, else CPU), refusing one
    that is not there."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise UserInputError(f"{flag} {device!r}: not a torch device; use cpu, cuda, cuda:N or mps") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise UserInputError(f"{flag} {device}: no CUDA GPU is available on this machine; use {flag} cpu")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise UserInputError(
                f"{flag} {device}: this machine has {torch.cuda.device_count()} CUDA GPU(s) (cuda:0 to "
                f"cuda:{torch.cuda.device_count() - 1})"
            )
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise UserInputError(f"{flag} {device}: Apple's MPS is not available on this machine; use {flag} cpu")
    elif resolved.type not in ("cpu", "cuda", "mps"):
        raise UserInputError(f"{flag} {device}: unsupported device type {resolved.type!r}; use cpu, cuda or mps")
    return resolved


def load_model_for_inference(
    name_or_path: str | os.PathLike, device: torch.device | str | None = None, flag: str = "--model", **kwargs
) -> AdhVitForDualHandClassification:
    """An `AdhVitForDualHandClassification` in eval mode whose every tensor came from `name_or_path`.

    Args:
        name_or_path: a model folder or a Hub repo id (`owner/name`).
        device: where to put the model (a torch device or its name; None leaves it on the CPU).
        flag: the command-line flag that gave `name_or_path`, for messages.
        kwargs: passed to `from_pretrained` (e.g. `attn_implementation`, `dtype`).

    Raises:
        `UserInputError` naming the folder or file: no such folder, no config.json, a config that is not valid JSON or
        not ADH-ViT's (naming its model_type), unreadable weights, or weights that miss tensors or hold others (naming
        them).
    """
    source = check_model_source(name_or_path, flag)
    config_dict = read_config_dict(source, flag)
    config_file = os.path.join(source, CONFIG_NAME) if os.path.isdir(source) else f"{source} ({CONFIG_NAME})"
    check_adhvit_config(config_dict, config_file)
    try:
        config = AdhVitConfig.from_dict(config_dict)
    except (TypeError, ValueError, KeyError, AttributeError, StrictDataclassError) as error:
        # Field validation errors span several lines; the message stays one line.
        raise UserInputError(f"{config_file}: not a valid ADH-ViT config ({' '.join(str(error).split())})") from None
    try:
        # a local folder loads in a blink; a Hub repo keeps its download bars
        with without_progress_bars() if os.path.isdir(source) else contextlib.nullcontext():
            model, loading_info = AdhVitForDualHandClassification.from_pretrained(
                source, config=config, output_loading_info=True, **kwargs
            )
    except WEIGHT_FILE_ERRORS as error:
        raise UserInputError(f"{flag} {source}: cannot read the model weights ({error})") from None
    check_loading_info(loading_info, source)
    if device is not None:
        model.to(device)
    return model.eval()


def load_processor_for_inference(name_or_path: str | os.PathLike, flag: str = "--model") -> AdhVitVideoProcessor:
    """The `AdhVitVideoProcessor` saved with a model; a missing or damaged preprocessor_config.json names the file."""
    source = str(name_or_path)
    local = os.path.isdir(source)
    where = os.path.join(source, PROCESSOR_CONFIG_NAME) if local else f"{source} ({PROCESSOR_CONFIG_NAME})"
    if local and not os.path.isfile(where):
        raise UserInputError(
            f"{flag} {source}: no {PROCESSOR_CONFIG_NAME} (the video processor saved with the model: frames per clip, "
            "crop size, normalisation); save it with AdhVitVideoProcessor.save_pretrained"
        )
    try:
        return AdhVitVideoProcessor.from_pretrained(source)
    except OSError as error:
        raise UserInputError(f"{where}: cannot be loaded ({error})") from None
    except (ValueError, TypeError) as error:
        raise UserInputError(f"{where}: {error}") from None

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The model card a saved folder carries: README.md rendered from the `model_card.md` template with huggingface_hub's
card data, stating the labels, the per-hand results (as a model-index) and the training recipe."""

import json
import os
import re
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..configuration_adhvit import HAND_NAMES, HANDS, AdhVitConfig
from ..utils import atomic_write
from .remote_code import PROCESSOR_CONFIG_NAMES


MODEL_CARD_TEMPLATE = Path(__file__).with_name("model_card.md")
MODEL_CARD_NAME = "README.md"

METRIC_SPLITS = {"eval": "validation", "test": "test"}  # Trainer metric prefix -> dataset split
HAND_METRICS = {  # metric key suffix -> (model-index metric type, readable name)
    "top1": ("accuracy", "top-1 accuracy"),
    "top5": ("top_5_accuracy", "top-5 accuracy"),
    "mean_class_acc": ("mean_class_accuracy", "mean class accuracy"),
}
RECIPE_NAMES = {
    "alternation_strategy": "alternation strategy",
    "alternation_steps": "optimizer steps per hand before switching",
    "num_train_epochs": "epochs",
    "max_steps": "optimizer steps",
    "learning_rate": "learning rate (peak)",
    "total_train_batch_size": "batch size (all devices, with accumulation)",
    "weight_decay": "weight decay",
    "layer_decay": "layer-wise LR decay",
    "warmup_epochs": "warmup epochs",
    "drop_path_rate": "drop path",
    "num_frames": "frames per clip",
    "sampling_rate": "frame sampling rate",
    "seed": "seed",
}


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _label_rows(id2label: dict) -> list[tuple[int, str]]:
    rows = sorted((int(index), name) for index, name in id2label.items())
    return [(index, _format_value(name)) for index, name in rows]


def hand_eval_results(metrics: dict[str, float], dataset_name: str, dataset_type: str) -> list[EvalResult]:
    """Model-index results from Trainer metrics (`eval_lh_top1`, `test_rh_mean_class_acc`, ...): one per metric."""
    results = []
    for prefix, split in METRIC_SPLITS.items():
        for hand in HANDS:
            for suffix, (metric_type, metric_name) in HAND_METRICS.items():
                value = metrics.get(f"{prefix}_{hand}_{suffix}")
                if value is None:
                    continue
                results.append(
                    EvalResult(
                        task_type="video-classification",
                        task_name=f"Video classification ({HAND_NAMES[hand]})",
                        dataset_type=dataset_type,
                        dataset_name=dataset_name,
                        dataset_config=hand,
                        dataset_split=split,
                        metric_type=metric_type,
                        metric_name=f"{HAND_NAMES[hand]} {metric_name}",
                        metric_value=float(value),
                    )
                )
    return results


def _results_rows(metrics: dict[str, float]) -> tuple[list[dict], list[dict]]:
    rows, mean_top1 = [], []
    for prefix, split in METRIC_SPLITS.items():
        for hand in HANDS:
            values = {suffix: metrics.get(f"{prefix}_{hand}_{suffix}") for suffix in HAND_METRICS}
            if any(value is not None for value in values.values()):
                cells = {key: "-" if value is None else f"{value:.2f}" for key, value in values.items()}
                rows.append({"hand": HAND_NAMES[hand], "split": split, **cells})
        if metrics.get(f"{prefix}_mean_top1") is not None:
            mean_top1.append({"split": split, "value": f"{metrics[f'{prefix}_mean_top1']:.2f}"})
    return rows, mean_top1


def training_summary_from_args(args, processor=None, config: AdhVitConfig | None = None) -> dict[str, Any]:
    """The training recipe for the model card, from (Alternating)TrainingArguments, the processor and the config."""
    summary = {
        "alternation_strategy": getattr(args, "alternation_strategy", None),
        "alternation_steps": getattr(args, "alternation_steps", None),
        "num_train_epochs": args.num_train_epochs,
        "max_steps": args.max_steps if args.max_steps > 0 else None,
        "learning_rate": args.learning_rate,
        "total_train_batch_size": (
            args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
        ),
        "weight_decay": args.weight_decay,
        "layer_decay": getattr(args, "layer_decay", None),
        "warmup_epochs": getattr(args, "warmup_epochs", None),
        "drop_path_rate": getattr(config, "drop_path_rate", None),
        "num_frames": getattr(processor, "num_frames", getattr(config, "num_frames", None)),
        "sampling_rate": getattr(processor, "sampling_rate", None),
        "seed": args.seed,
    }
    return {name: value for name, value in summary.items() if value is not None}


def _public_name(reference: str | None) -> str | None:
    """A Hub repo id as is; a local file or folder by its name only (its directory is nobody's business)."""
    if reference is None or (re.fullmatch(r"[\w.-]+/[\w.-]+", reference) and not os.path.exists(reference)):
        return reference
    return Path(reference).name


def _processor_auto_class(output_dir: Path) -> str:
    for name in PROCESSOR_CONFIG_NAMES:
        if (output_dir / name).is_file():
            auto_map = json.loads((output_dir / name).read_text(encoding="utf-8")).get("auto_map", {})
            if auto_map:
                return next(iter(auto_map))
    return "AutoVideoProcessor"


def render_model_card(
    output_dir: str | os.PathLike,
    config: AdhVitConfig,
    metrics: dict[str, float],
    training_summary: dict[str, Any],
    hub_model_id: str | None = None,
    *,
    dataset_name: str = "custom dual-hand video data",
    dataset_type: str | None = None,
    base_model: str | None = None,
    finetuned_from: str | None = None,
    license: str | None = None,  # noqa: A002 - the model card field's name
) -> Path:
    """Writes `output_dir/README.md` from the `model_card.md` template; returns its path.

    `metrics` are Trainer metrics (`eval_`/`test_` + `lh_`/`rh_` + `top1`/`top5`/`mean_class_acc`, and
    `..._mean_top1`; other keys are ignored): they become the card's model-index and results table.
    `training_summary` maps recipe settings (see `training_summary_from_args`) to values, shown in that order.
    `base_model` is a Hub repo id (card metadata); `finetuned_from` is any starting point, e.g. a VideoMAE V2 `.pth`
    (named in the text only; a local path by its name, so no local directory ends up in a public card).
    """
    if not MODEL_CARD_TEMPLATE.is_file():
        raise FileNotFoundError(
            f"Model card template {MODEL_CARD_TEMPLATE} not found: it is package data of adhvit_hf, so this "
            "installation is incomplete; reinstall adhvit-hf."
        )
    output_dir = Path(output_dir)
    model_name = (hub_model_id or str(output_dir.resolve())).rstrip("/").split("/")[-1]
    dataset_type = dataset_type or "-".join(dataset_name.lower().split())
    eval_results = hand_eval_results(metrics, dataset_name, dataset_type)
    card_data = ModelCardData(
        model_name=model_name,
        library_name="transformers",
        pipeline_tag="video-classification",
        tags=["video-classification", "action-recognition", "videomae", "adh-vit", "dual-hand", "custom_code"],
        license=license,
        base_model=base_model,
        metrics=sorted({result.metric_type for result in eval_results}) or None,
        eval_results=eval_results or None,
    )
    results, mean_top1 = _results_rows(metrics)
    card = ModelCard.from_template(
        card_data,
        template_path=str(MODEL_CARD_TEMPLATE),
        model_name=model_name,
        repo_id=hub_model_id or str(output_dir),
        processor_class=_processor_auto_class(output_dir),
        dataset_name=dataset_name,
        initialised_from=base_model or _public_name(finetuned_from),
        num_layers=config.num_hidden_layers,
        hidden_size=config.hidden_size,
        patch_size=config.patch_size,
        tubelet_size=config.tubelet_size,
        num_frames=config.num_frames,
        image_size=config.image_size,
        lh_labels=_label_rows(config.lh_id2label),
        rh_labels=_label_rows(config.rh_id2label),
        results=results,
        mean_top1=mean_top1,
        recipe=[
            {"name": RECIPE_NAMES.get(key, key.replace("_", " ")), "value": _format_value(value)}
            for key, value in training_summary.items()
        ],
    )
    path = output_dir / MODEL_CARD_NAME
    with atomic_write(path, "wb") as file:
        file.write(str(card).encode("utf-8"))
    return path

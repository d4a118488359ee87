# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Publishing ADH-ViT: the Auto-class and pipeline registration, the remote code a saved folder carries, the model
card, and the Trainer hooks that push both.

Every folder the package writes (converted checkpoints, training outputs and checkpoints, Hub pushes) goes through
`add_remote_code`, so it loads with `AutoModel`/`AutoVideoProcessor.from_pretrained(folder, trust_remote_code=True)`
and `pipeline("dual-hand-video-classification", model=folder, trust_remote_code=True)` in a process that has only
`transformers` installed; its README.md states the labels, the per-hand results and the training recipe.
"""

import json
import os
import re
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification, AutoVideoProcessor
from transformers.dynamic_module_utils import custom_object_save
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.utils import CONFIG_NAME

from .configuration_adhvit import HAND_NAMES, HANDS, AdhVitConfig
from .inference.pipeline_adhvit import PIPELINE_TASK, DualHandVideoClassificationPipeline
from .modeling_adhvit import AdhVitForDualHandClassification
from .processing_adhvit import AdhVitVideoProcessor
from .utils import atomic_write, save_json


MODEL_CARD_TEMPLATE = Path(__file__).with_name("model_card.md")
MODEL_CARD_NAME = "README.md"
PROCESSOR_CONFIG_NAMES = ("preprocessor_config.json", "video_preprocessor_config.json")
# The classes whose modules (and the files those import relatively) a published folder carries.
REMOTE_CODE_CLASSES = (
    AdhVitConfig,
    AdhVitForDualHandClassification,
    AdhVitVideoProcessor,
    DualHandVideoClassificationPipeline,
)

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


def register() -> None:
    """Registers AdhVit with transformers' Auto classes and the `dual-hand-video-classification` task (idempotent).

    `register_for_auto_class` makes `save_pretrained` write `auto_map` and copy the configuration, modeling and
    processing modules next to the weights.
    """
    AutoConfig.register(AdhVitConfig.model_type, AdhVitConfig, exist_ok=True)
    AutoModel.register(AdhVitConfig, AdhVitForDualHandClassification, exist_ok=True)
    AutoModelForVideoClassification.register(AdhVitConfig, AdhVitForDualHandClassification, exist_ok=True)
    AutoVideoProcessor.register(AdhVitConfig, AdhVitVideoProcessor, exist_ok=True)
    AdhVitConfig.register_for_auto_class()
    AdhVitForDualHandClassification.register_for_auto_class("AutoModel")
    AdhVitVideoProcessor.register_for_auto_class("AutoVideoProcessor")
    if PIPELINE_REGISTRY.supported_tasks.get(PIPELINE_TASK, {}).get("impl") is not DualHandVideoClassificationPipeline:
        PIPELINE_REGISTRY.register_pipeline(
            PIPELINE_TASK,
            pipeline_class=DualHandVideoClassificationPipeline,
            pt_model=AutoModelForVideoClassification,
            type="video",
        )


def custom_pipelines() -> dict[str, dict[str, Any]]:
    """The `config.json` `custom_pipelines` entry of the registered task, in the form `Pipeline.save_pretrained`
    writes it: the registry's classes as `module.Class` and Auto-class names."""
    entry = dict(PIPELINE_REGISTRY.supported_tasks[PIPELINE_TASK])
    entry["impl"] = f"{entry['impl'].__module__.rsplit('.', 1)[-1]}.{entry['impl'].__name__}"
    entry["pt"] = [model_class.__name__ for model_class in entry["pt"]]
    return {PIPELINE_TASK: entry}


def add_remote_code(output_dir: str | os.PathLike) -> list[str]:
    """Puts every file remote code needs into `output_dir`; returns their names.

    Copies the configuration, modeling, processing and pipeline modules (with the files they import relatively) and,
    once `output_dir` holds a `config.json`, names the pipeline there (`custom_pipelines`) and checks that each module
    named by an `auto_map` (config and processor config) or `custom_pipelines` entry is present. The Trainer's
    intermediate pushes copy only weights and configs into `output_dir`, so call this before every push.

    Where adhvit_hf is imported, the installed pipeline serves the task declared there (`AdhVitConfig.custom_pipelines`
    leaves out the tasks the installed package registered), so nothing from the folder runs; elsewhere transformers
    builds it from the folder's copy, with `trust_remote_code=True`.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    copied = {Path(path).name for cls in REMOTE_CODE_CLASSES for path in custom_object_save(cls, output_dir)}
    config_path = output_dir / CONFIG_NAME
    if config_path.is_file():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if config.get("custom_pipelines") != custom_pipelines():
            save_json(config_path, {**config, "custom_pipelines": custom_pipelines()})
        _check_remote_code_references(output_dir)
    return sorted(copied)


def _check_remote_code_references(folder: Path) -> None:
    config_path = folder / CONFIG_NAME
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if not config.get("auto_map"):
        raise ValueError(
            f"{config_path} has no auto_map, so the model cannot load with trust_remote_code: save a model whose "
            "class was registered with register_for_auto_class (importing adhvit_hf does this)."
        )
    references = [(config_path, "auto_map", ref) for ref in config["auto_map"].values()]
    references += [(config_path, "custom_pipelines", task["impl"]) for task in config["custom_pipelines"].values()]
    for name in PROCESSOR_CONFIG_NAMES:
        if (folder / name).is_file():
            processor_config = json.loads((folder / name).read_text(encoding="utf-8"))
            references += [(folder / name, "auto_map", ref) for ref in processor_config.get("auto_map", {}).values()]
    for path, field, reference in references:
        module = reference.split("--")[-1].split(".")[0]
        if not (folder / f"{module}.py").is_file():
            raise ValueError(f"{path}: {field} entry {reference!r} needs {module}.py, which is not in {folder}")


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


def trainer_metrics(trainer) -> dict[str, float]:
    """The newest value of every metric a Trainer logged, updated with `output_dir/all_results.json` if saved."""
    metrics = {}
    for entry in trainer.state.log_history:
        metrics.update(entry)
    results_path = Path(trainer.args.output_dir) / "all_results.json"
    if results_path.is_file():
        metrics.update(json.loads(results_path.read_text(encoding="utf-8")))
    return metrics


class HubPushMixin:
    """Put before `Trainer` in a subclass's bases: its pushes then carry remote code and the ADH-ViT model card.

    Every saved folder (checkpoints and `output_dir`) gets the remote-code files; every push (intermediate and final)
    first refreshes `output_dir`'s remote code and README.md. Set `model_card_kwargs` (e.g. `dataset_name`,
    `base_model`, `license`) to fill the card.
    """

    model_card_kwargs: dict[str, Any] = {}

    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        super()._save(output_dir, state_dict=state_dict)
        if self.args.should_save:
            add_remote_code(output_dir or self.args.output_dir)

    def _push_from_checkpoint(self, checkpoint_folder: str) -> None:
        if self.is_world_process_zero():
            add_remote_code(self.args.output_dir)
            self.create_model_card()
        super()._push_from_checkpoint(checkpoint_folder)

    def create_model_card(self, finetuned_from: str | None = None, **kwargs) -> None:
        """Renders `output_dir/README.md` from `model_card.md`; Trainer's other card arguments are not used."""
        if not self.is_world_process_zero():
            return
        model = self.accelerator.unwrap_model(self.model)
        render_model_card(
            self.args.output_dir,
            model.config,
            trainer_metrics(self),
            training_summary_from_args(self.args, self.processing_class, model.config),
            hub_model_id=self.hub_model_id or self.args.hub_model_id,
            **{"finetuned_from": finetuned_from, **self.model_card_kwargs},
        )

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Training as a library: the datasets, the model and the `AlternatingTrainer` of one run, from its three argument
dataclasses (what `adhvit-train` parses from its command line).

    trainer = build_trainer(model_args, data_args, training_args)
    trainer.train()
"""

import logging
from dataclasses import dataclass, replace

from transformers import AutoModel, TrainerCallback

from ..data.clip_list import read_label_names
from ..data.collate import ClipCollator
from ..data.device_augment import DeviceAugmentation
from ..data.hand_splits import load_hand_splits
from ..data.mixup import ClipMixup
from ..data.transforms import VideoTransform
from ..modeling_adhvit import AdhVitForDualHandClassification
from ..pipeline_adhvit import check_model
from ..processing_adhvit import AdhVitVideoProcessor
from ..videomae_v2 import config_from_model_name, load_pretrained_backbone
from .alternating_data import AlternatingClipDataset
from .arguments import AlternatingTrainingArguments, DataArguments, ModelArguments
from .checkpoints import resolve_resume_checkpoint
from .preflight import check_gpu_decoding, check_training_backend, check_videos, check_writable
from .trainer import AlternatingTrainer


logger = logging.getLogger(__name__)


@dataclass
class HandData:
    """One run's data: the alternating training set and each hand's evaluation and test sets."""

    train: AlternatingClipDataset
    validation: dict
    test: dict
    processor: AdhVitVideoProcessor


def build_processor(model_args: ModelArguments, data_args: DataArguments) -> AdhVitVideoProcessor:
    return AdhVitVideoProcessor(
        num_frames=data_args.num_frames,
        sampling_rate=data_args.sampling_rate,
        sparse_sample=data_args.sparse_sample,
        test_num_segment=data_args.test_num_segment,
        test_num_crop=data_args.test_num_crop,
        short_side_size=data_args.short_side_size,
        crop_size=model_args.image_size,
    )


def build_datasets(model_args: ModelArguments, data_args: DataArguments) -> HandData:
    """Each hand's clip lists with their transforms; with `one_stream` both hands read the LH lists."""
    sources = {
        "lh": (data_args.lh_data_path, data_args.lh_data_root),
        "rh": (data_args.lh_data_path, data_args.lh_data_root)
        if data_args.one_stream
        else (data_args.rh_data_path, data_args.rh_data_root),
    }
    num_labels = {"lh": model_args.lh_num_labels, "rh": model_args.rh_num_labels}
    splits = {
        hand: load_hand_splits(
            path,
            hand,
            num_labels[hand],
            data_root=root,
            skip_missing=data_args.skip_missing,
            cameras=data_args.cameras,
        )
        for hand, (path, root) in sources.items()
    }
    processor = build_processor(model_args, data_args)
    train_transform = VideoTransform(
        processor,
        train=True,
        num_sample=data_args.num_sample,
        aa=None if data_args.aa.lower() in ("", "none") else data_args.aa,
        reprob=data_args.reprob,
        remode=data_args.remode,
        recount=data_args.recount,
        flip=data_args.flip,
        train_interpolation=data_args.train_interpolation,
        crop_scale=data_args.train_crop_scale,
        backend=data_args.backend,
        device_augmentation=data_args.device_augmentation,
        decode_device="cuda" if data_args.gpu_decoding else None,
        cameras=data_args.cameras,
        camera_training=data_args.camera_training,
    )
    eval_transform = VideoTransform(processor, train=False, backend=data_args.backend, cameras=data_args.cameras)
    # Validation during training sees one centred view per video, as the original's; the test all views.
    validation_transform = eval_transform
    if not data_args.multi_view_validation:
        single_view = build_processor(model_args, replace(data_args, test_num_segment=1, test_num_crop=1))
        validation_transform = VideoTransform(
            single_view, train=False, backend=data_args.backend, cameras=data_args.cameras
        )
    return HandData(
        train=AlternatingClipDataset({hand: s["train"] for hand, s in splits.items()}, train_transform),
        validation={hand: s["validation"].with_transform(validation_transform) for hand, s in splits.items()},
        test={hand: s["test"].with_transform(eval_transform) for hand, s in splits.items()},
        processor=processor,
    )


def build_model(model_args: ModelArguments, data_args: DataArguments) -> AdhVitForDualHandClassification:
    """A saved model (`model_name_or_path`), or a new one by `architecture` name, with `finetune`'s backbone."""
    label_names = {
        hand: read_label_names(path, getattr(model_args, f"{hand}_num_labels"))
        for hand, path in (("lh", data_args.lh_data_path), ("rh", data_args.rh_data_path or data_args.lh_data_path))
    }
    overrides = dict(
        lh_num_labels=model_args.lh_num_labels,
        rh_num_labels=model_args.rh_num_labels,
        num_frames=data_args.num_frames,
        image_size=model_args.image_size,
        tubelet_size=model_args.tubelet_size,
        drop_path_rate=model_args.drop_path_rate,
        head_dropout=model_args.head_dropout,
        init_scale=model_args.init_scale,
        hidden_dropout_prob=model_args.hidden_dropout_prob,
        attention_probs_dropout_prob=model_args.attention_probs_dropout_prob,
        **{f"{hand}_id2label": names for hand, names in label_names.items() if names},
    )
    if data_args.camera_training == "feature_fusion":
        # recorded in the config, so the saved model fuses its cameras the same way in evaluation and inference
        overrides["camera_feature_fusion"] = data_args.camera_feature_fusion
    # --camera_models: the first camera's model is the run's (each camera's scores it in evaluation)
    name_or_path = model_args.model_name_or_path or (model_args.camera_models or [None])[0]
    if name_or_path:
        model = AutoModel.from_pretrained(
            name_or_path, attn_implementation=model_args.attn_implementation, **overrides
        )
    else:
        config = config_from_model_name(model_args.architecture, **overrides)
        if model_args.config_overrides:
            config.update_from_string(model_args.config_overrides)
        model = AdhVitForDualHandClassification._from_config(
            config, attn_implementation=model_args.attn_implementation
        )
    if model_args.finetune:
        load_pretrained_backbone(
            model, model_args.finetune, model_key=model_args.model_key, model_prefix=model_args.model_prefix
        )
    return model


def load_camera_models(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: AlternatingTrainingArguments,
    model: AdhVitForDualHandClassification,
) -> list[AdhVitForDualHandClassification]:
    """`--camera_models`: one saved single-camera model per camera (HA-ViD's protocol), checked against the run's
    cameras and labels, in evaluation mode on the run's device."""
    if training_args.do_train:
        raise ValueError("--camera_models scores separately trained models: it needs --eval (no training)")
    if not data_args.cameras or len(model_args.camera_models) != len(data_args.cameras):
        raise ValueError(
            f"--camera_models gives {len(model_args.camera_models)} model(s) for the cameras "
            f"{' '.join(data_args.cameras or []) or '(none: pass --cameras)'}: one model per camera, in --cameras order"
        )
    models = []
    for path in model_args.camera_models:
        camera_model = AutoModel.from_pretrained(path, attn_implementation=model_args.attn_implementation)
        check_model(camera_model, path)
        for hand in ("lh", "rh"):
            if getattr(camera_model.config, f"{hand}_id2label") != getattr(model.config, f"{hand}_id2label"):
                raise ValueError(
                    f"--camera_models {path}: its {hand} labels differ from the run's ({hand}_id2label in config.json)"
                )
        models.append(camera_model.to(training_args.device).eval())
    return models


def build_mixup(data_args: DataArguments, num_labels: dict[str, int]) -> dict | None:
    """Per-hand mixup/cutmix; without them `ClipMixup` still makes smoothed targets (the original's smoothing loss)."""
    if data_args.mixup <= 0 and data_args.cutmix <= 0 and not data_args.cutmix_minmax and data_args.smoothing <= 0:
        return None
    return {
        hand: ClipMixup(
            mixup_alpha=data_args.mixup,
            cutmix_alpha=data_args.cutmix,
            cutmix_minmax=data_args.cutmix_minmax,
            prob=data_args.mixup_prob,
            switch_prob=data_args.mixup_switch_prob,
            mode=data_args.mixup_mode,
            label_smoothing=data_args.smoothing,
            num_labels=n,
        )
        for hand, n in num_labels.items()
    }


def build_trainer(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: AlternatingTrainingArguments,
    callbacks: list[TrainerCallback] | None = None,
    data: HandData | None = None,
    model: AdhVitForDualHandClassification | None = None,
) -> AlternatingTrainer:
    """The trainer of one run. `trainer.train()` continues from the checkpoint the output_dir rule picks
    (`resolve_resume_checkpoint`); `trainer.test_dataset` holds each hand's test set for `evaluate_hands`."""
    data = data or build_datasets(model_args, data_args)
    model = model or build_model(model_args, data_args)
    num_labels = {"lh": model.config.lh_num_labels, "rh": model.config.rh_num_labels}
    if training_args.should_save:
        check_writable(training_args.output_dir)
    # Before the Trainer exists: with --overwrite_output_dir this deletes the old checkpoints.
    checkpoint = resolve_resume_checkpoint(training_args, model.config) if training_args.do_train else None
    evaluated = []
    if training_args.do_eval or (training_args.do_train and training_args.eval_strategy != "no"):
        evaluated += data.validation.values()
    if training_args.do_predict:
        evaluated += data.test.values()
    check_gpu_decoding(data_args, training_args)
    check_videos(evaluated, data_args.backend, data_args.cameras)
    check_training_backend(data.train.hand_datasets.values(), data_args.backend, data_args.cameras)
    mixup = build_mixup(data_args, num_labels)
    device_augmentation = (
        DeviceAugmentation(data.train.transform.augment, mixup, num_labels) if data_args.device_augmentation else None
    )
    trainer = AlternatingTrainer(
        model=model,
        args=training_args,
        train_dataset=data.train,
        eval_dataset=data.validation,
        data_collator=ClipCollator(num_labels, mixup=None if data_args.device_augmentation else mixup),
        processing_class=data.processor,
        callbacks=callbacks,
        resume_checkpoint=checkpoint,
        test_dataset=data.test,
        device_augmentation=device_augmentation,
        model_card_kwargs={"dataset_name": data_args.data_set},
        cameras=data_args.cameras,
        camera_fusion=data_args.camera_fusion,
        camera_models=load_camera_models(model_args, data_args, training_args, model)
        if model_args.camera_models
        else None,
    )
    return trainer

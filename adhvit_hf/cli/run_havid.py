#!/usr/bin/env python
"""Fine-tune ADH-ViT on HA-ViD-style clip lists with alternating dual-hand training.

    python scripts/run_havid.py --lh_data_path DATA/lh --rh_data_path DATA/rh --finetune vit_b_k710_dl_from_giant.pth \
        --output_dir output/havid --batch_size 4 --epochs 50 --lr 1e-3 ...
    python scripts/run_havid.py configs/havid_vit_b.json

The seed's command line (ADH-ViT main.py) works with only the script name changed; HF's own
TrainingArguments names work too. A single `.json` argument is read as a config file.
"""

import json
import logging
import os
import sys

import transformers
from transformers import AutoModel, HfArgumentParser, set_seed

from adhvit_hf import AdhVitForDualHandClassification
from adhvit_hf.convert_videomae_v2 import (
    config_from_model_name,
    load_pretrained_backbone,
)
from adhvit_hf.data.clip_list import read_label_names
from adhvit_hf.data.datasets import load_hand_splits
from adhvit_hf.data.mixup import ClipMixup
from adhvit_hf.data.transforms import VideoTransform
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor
from adhvit_hf.training.alternating_data import AlternatingClipDataset, ClipCollator
from adhvit_hf.training.arguments import (
    SEED_SWITCHES,
    AlternatingTrainingArguments,
    DataArguments,
    ModelArguments,
    translate_seed_args,
)
from adhvit_hf.training.checkpoints import resolve_resume_checkpoint
from adhvit_hf.training.ema import ModelEmaCallback
from adhvit_hf.training.preemption import PreemptionCallback, resume_message
from adhvit_hf.training.reporting import write_prediction_reports
from adhvit_hf.training.trainer import AlternatingTrainer
from adhvit_hf.utils import run_cli

logger = logging.getLogger(__name__)


def parse_args(argv: list[str]):
    """A leading `.json` file gives the arguments; flags after it override them (seed or HF names)."""
    if argv and argv[0].endswith(".json"):
        argv = [*json_to_argv(argv[0]), *argv[1:]]
    parser = HfArgumentParser((ModelArguments, DataArguments, AlternatingTrainingArguments))
    return parser.parse_args_into_dataclasses(args=translate_seed_args(argv))


def json_to_argv(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    if not isinstance(config, dict):
        raise ValueError(f"{path}: a config file holds one JSON object of argument names and values")
    argv = []
    for name, value in config.items():
        # `true` is a bare switch, so the seed's switches (--no_auto_resume, --one_stream) work too; `null`, and
        # `false` for a seed switch, leave the default.
        if value is None or (value is False and f"--{name}" in SEED_SWITCHES):
            continue
        values = [] if value is True else value if isinstance(value, list) else [value]
        argv += [f"--{name}", *map(str, values)]
    return argv


def load_data(data_args: DataArguments, model_args: ModelArguments) -> dict:
    """Each hand's train/validation/test datasets; with --one_stream both hands read the LH lists."""
    sources = {
        "lh": (data_args.lh_data_path, data_args.lh_data_root),
        "rh": (data_args.lh_data_path, data_args.lh_data_root)
        if data_args.one_stream
        else (data_args.rh_data_path, data_args.rh_data_root),
    }
    num_labels = {"lh": model_args.lh_num_labels, "rh": model_args.rh_num_labels}
    return {
        hand: load_hand_splits(path, hand, num_labels[hand], data_root=root, skip_missing=data_args.skip_missing)
        for hand, (path, root) in sources.items()
    }


def build_model(model_args: ModelArguments, data_args: DataArguments) -> AdhVitForDualHandClassification:
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
    if model_args.model_name_or_path:
        model = AutoModel.from_pretrained(
            model_args.model_name_or_path, attn_implementation=model_args.attn_implementation, **overrides
        )
    else:
        config = config_from_model_name(model_args.model, **overrides)
        if model_args.config_overrides:
            config.update_from_string(model_args.config_overrides)
        model = AdhVitForDualHandClassification._from_config(config, attn_implementation=model_args.attn_implementation)
    if model_args.finetune:
        load_pretrained_backbone(model, model_args.finetune, model_key=model_args.model_key, model_prefix=model_args.model_prefix)
    return model


def build_mixup(data_args: DataArguments, num_labels: dict[str, int]) -> dict | None:
    # Without mixup and cutmix, ClipMixup still turns the labels into smoothed targets (the seed's smoothing loss).
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
            num_classes=n,
        )
        for hand, n in num_labels.items()
    }


def main(argv: list[str] | None = None, callbacks: list | None = None) -> dict:
    """Runs the job; `callbacks` are extra `TrainerCallback`s for programmatic use. Returns all metrics."""
    # ---- arguments ----
    model_args, data_args, training_args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=training_args.get_process_log_level())
    transformers.utils.logging.set_verbosity(training_args.get_process_log_level())
    # Our own progress messages (hand switches, resumes, skipped videos) show on the logging process.
    logging.getLogger("adhvit_hf").setLevel(logging.INFO if training_args.should_log else logging.WARNING)
    if training_args.log_dir:
        os.environ["TENSORBOARD_LOGGING_DIR"] = training_args.log_dir
    set_seed(training_args.seed)

    # ---- data ----
    splits = load_data(data_args, model_args)
    processor = AdhVitVideoProcessor(
        num_frames=data_args.num_frames,
        sampling_rate=data_args.sampling_rate,
        sparse_sample=data_args.sparse_sample,
        test_num_segment=data_args.test_num_segment,
        test_num_crop=data_args.test_num_crop,
        short_side_size=data_args.short_side_size,
        crop_size=model_args.image_size,
    )
    augment = dict(
        aa=None if data_args.aa.lower() in ("", "none") else data_args.aa,
        reprob=data_args.reprob,
        remode=data_args.remode,
        recount=data_args.recount,
        flip=data_args.flip,
        train_interpolation=data_args.train_interpolation,
        crop_scale=data_args.train_crop_scale,
        backend=data_args.decoder,
    )
    train_transform = VideoTransform(processor, train=True, num_sample=data_args.num_sample, **augment)
    eval_transform = VideoTransform(processor, train=False, backend=data_args.decoder)
    train_dataset = AlternatingClipDataset({hand: s["train"] for hand, s in splits.items()}, train_transform)
    eval_dataset = {hand: s["validation"].with_transform(eval_transform) for hand, s in splits.items()}
    test_dataset = {hand: s["test"].with_transform(eval_transform) for hand, s in splits.items()}

    # ---- model ----
    model = build_model(model_args, data_args)
    num_labels = {"lh": model.config.lh_num_labels, "rh": model.config.rh_num_labels}

    # The seed's --lr is per 256 clips of global batch (VideoMAE's convention).
    if training_args.base_lr is not None:
        global_batch = training_args.per_device_train_batch_size * training_args.gradient_accumulation_steps
        global_batch *= max(1, training_args.world_size)
        training_args.learning_rate = training_args.base_lr * global_batch / 256
        training_args.warmup_lr *= global_batch / 256
        training_args.min_lr *= global_batch / 256

    # ---- trainer ----
    checkpoint = resolve_resume_checkpoint(training_args, model.config) if training_args.do_train else None
    preemption = PreemptionCallback()
    callbacks = [preemption, *(callbacks or [])]
    if training_args.model_ema:
        callbacks.append(ModelEmaCallback(training_args.model_ema_decay, resume_from=checkpoint))
    trainer = AlternatingTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=ClipCollator(num_labels, mixup=build_mixup(data_args, num_labels)),
        processing_class=processor,
        callbacks=callbacks,
    )
    trainer.model_card_kwargs = {"dataset_name": data_args.data_set}
    if training_args.save_ckpt_freq:
        training_args.save_strategy, training_args.save_steps = "steps", training_args.save_ckpt_freq * trainer.updates_per_epoch
    results = {}

    # ---- train ----
    if training_args.do_train:
        train_result = trainer.train(resume_from_checkpoint=checkpoint)
        if preemption.stopped_at_step is not None:
            # The run is unfinished: leave only its checkpoint, no final model or metrics that look complete.
            logger.warning(resume_message(preemption.signal_name, training_args.output_dir,
                                          preemption.stopped_at_step, training_args.auto_resume))
            trainer.end()
            return {"preempted_at_step": preemption.stopped_at_step}
        trainer.save_model()
        metrics = {**train_result.metrics, "unreadable_videos_replaced": len(trainer.replaced_videos)}
        trainer.log_metrics("train", metrics)
        trainer.save_metrics("train", metrics)
        trainer.save_state()
        results.update(metrics)
    elif training_args.resume_from_checkpoint:
        trainer.load_checkpoint_weights(training_args.resume_from_checkpoint)

    # ---- evaluate ----
    if training_args.do_eval:
        metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)
        results.update(metrics)
    if training_args.do_predict:
        metrics, outputs = trainer.evaluate_hands(test_dataset, metric_key_prefix="test")
        trainer.log_metrics("test", metrics)
        trainer.save_metrics("test", metrics)
        if trainer.is_world_process_zero():
            write_prediction_reports(outputs, test_dataset, model.config, training_args.output_dir)
        results.update(metrics)

    # ---- push ----
    if training_args.push_to_hub:
        trainer.push_to_hub(finetuned_from=model_args.finetune or model_args.model_name_or_path)
    # Tear DDP down before the interpreter does: gloo's threads can abort a rank at exit otherwise.
    trainer.end()
    return results


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Fine-tune ADH-ViT on HA-ViD-style clip lists with alternating dual-hand training.

    python scripts/run_havid.py --lh_data_path DATA/lh --rh_data_path DATA/rh --finetune vit_b_k710_dl_from_giant.pth \
        --output_dir output/havid --batch_size 4 --epochs 50 --lr 1e-3 ...
    python scripts/run_havid.py configs/havid_vit_b.json

The original's command line (ADH-ViT main.py) works with only the script name changed; HF's own
TrainingArguments names work too. A single `.json` argument is read as a config file.
"""

import argparse
import json
import logging
import os
import sys
from dataclasses import MISSING, field, fields, make_dataclass
from typing import get_type_hints

import transformers
from transformers import HfArgumentParser, TrainingArguments, set_seed

from adhvit_hf.training import (
    AlternatingTrainingArguments,
    DataArguments,
    ModelArguments,
    build_datasets,
    build_model,
    build_trainer,
)
from adhvit_hf.training.camera_evaluation import write_camera_prediction_reports
from adhvit_hf.training.original_flags import (
    ORIGINAL_FLAGS,
    ORIGINAL_IGNORED_SWITCHES,
    ORIGINAL_IGNORED_WITH_VALUE,
    ORIGINAL_SWITCHES,
    translate_original_args,
)
from adhvit_hf.training.preemption import resume_message
from adhvit_hf.training.reporting import write_prediction_reports
from adhvit_hf.training.trainer import best_epochs
from adhvit_hf.utils import configure_logging, run_cli


logger = logging.getLogger(__name__)


class TrainingFlagParser(HfArgumentParser):
    """`HfArgumentParser` that keeps the argument groups it makes by title (`groups`), so flags can be added to them."""

    def __init__(self, *args, **kwargs):
        self.groups = {}
        super().__init__(*args, **kwargs)

    def add_argument_group(self, *args, **kwargs):
        group = super().add_argument_group(*args, **kwargs)
        self.groups[group.title] = group
        return group


def flag_group(title: str, names: list[str]) -> type:
    """A plain dataclass of the `AlternatingTrainingArguments` fields `names` that HfArgumentParser lists under
    `title` (its `_argument_group_name`); `parse_args` builds the one `AlternatingTrainingArguments` from both groups."""
    hints = get_type_hints(AlternatingTrainingArguments)
    spec = []
    for spelled in fields(AlternatingTrainingArguments):
        if spelled.name in names:
            default = (
                {"default": spelled.default}
                if spelled.default is not MISSING
                else {"default_factory": spelled.default_factory}
            )
            spec.append((spelled.name, hints[spelled.name], field(**default, metadata=spelled.metadata)))
    return make_dataclass(title.title().replace(" ", ""), spec, namespace={"_argument_group_name": title})


# Fields of `AlternatingTrainingArguments` that HF's `TrainingArguments` does not have, then HF's own (with the
# defaults this package sets).
HF_FIELDS = {spelled.name for spelled in fields(TrainingArguments)}
OWN_TRAINING_FLAGS = flag_group(
    "alternating training",
    [f.name for f in fields(AlternatingTrainingArguments) if f.init and f.name not in HF_FIELDS],
)
HF_TRAINING_FLAGS = flag_group(
    "Hugging Face TrainingArguments",
    [f.name for f in fields(AlternatingTrainingArguments) if f.init and f.name in HF_FIELDS],
)


def build_parser() -> HfArgumentParser:
    """The parser, its help ordered for a reader: this package's flags by group, then HF's `TrainingArguments`."""
    program = sys.argv[0] if sys.argv[0].endswith(".py") else os.path.basename(sys.argv[0])
    dataclass_types = (ModelArguments, DataArguments, OWN_TRAINING_FLAGS, HF_TRAINING_FLAGS)
    names = [spelled.name for dataclass_type in dataclass_types for spelled in fields(dataclass_type)]
    assert len(names) == len(set(names)), "two argument dataclasses share a field name"
    parser = TrainingFlagParser(
        dataclass_types,
        prog=program,
        usage="%(prog)s [CONFIG.json] [--flag VALUE ...]",
        description=__doc__.splitlines()[0],
        epilog=original_flags_help(),
        # `--no_X` below replaces HF's negation of a switch, whose help is a copy of the positive flag's
        conflict_handler="resolve",
    )
    for dataclass_type in dataclass_types:
        group = parser.groups[dataclass_type._argument_group_name]
        for spelled in fields(dataclass_type):
            if spelled.default is True:
                group.add_argument(
                    f"--no_{spelled.name}",
                    f"--no-{spelled.name.replace('_', '-')}",
                    action="store_false",
                    dest=spelled.name,
                    default=argparse.SUPPRESS,
                    help=f"Sets --{spelled.name} to False.",
                )
    return parser


def original_flags_help() -> str:
    renamed = ", ".join(f"{flag} ({ours})" for flag, ours in ORIGINAL_FLAGS.items())
    switches = ", ".join(ORIGINAL_SWITCHES)
    ignored = ", ".join(sorted(ORIGINAL_IGNORED_WITH_VALUE | ORIGINAL_IGNORED_SWITCHES))
    return (
        f"The original ADH-ViT's flags work too (docs/original_recipe.md): {renamed}, --epochs N (--num_train_epochs "
        "N --original_schedule: the original's epochs and schedule), --warmup_steps -1 (unset); "
        f"switches {switches}, "
        "--device cpu, --opt adamw, --opt_betas B1 B2; accepted without effect: " + ignored + "."
    )


def parse_args(argv: list[str]):
    """A leading `.json` file gives the arguments; flags after it override them (original or HF names)."""
    if argv and argv[0].endswith(".json"):
        argv = [*json_to_argv(argv[0]), *argv[1:]]
    model_args, data_args, own, huggingface = build_parser().parse_args_into_dataclasses(
        args=translate_original_args(argv)
    )
    return model_args, data_args, AlternatingTrainingArguments(**vars(own), **vars(huggingface))


def json_to_argv(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    if not isinstance(config, dict):
        raise ValueError(f"{path}: a config file holds one JSON object of argument names and values")
    argv = []
    for name, value in config.items():
        # `true` is a bare switch, so the original's switches (--no_auto_resume, --one_stream) work too; `null`, and
        # `false` for an original switch, leave the default.
        if value is None or (value is False and f"--{name}" in ORIGINAL_SWITCHES):
            continue
        values = [] if value is True else value if isinstance(value, list) else [value]
        argv += [f"--{name}", *map(str, values)]
    return argv


def main(argv: list[str] | None = None, callbacks: list | None = None) -> dict:
    """Runs the job; `callbacks` are extra `TrainerCallback`s for programmatic use. Returns all metrics."""
    # ---- arguments ----
    model_args, data_args, training_args = parse_args(sys.argv[1:] if argv is None else argv)
    log_level = training_args.get_process_log_level()
    configure_logging(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    # Our own progress messages (resumes, skipped videos) show on the logging process.
    logging.getLogger("adhvit_hf").setLevel(logging.INFO if training_args.should_log else logging.WARNING)
    if training_args.log_dir:
        os.environ["TENSORBOARD_LOGGING_DIR"] = training_args.log_dir
    set_seed(training_args.seed)

    # ---- data and model ----
    data = build_datasets(model_args, data_args)
    model = build_model(model_args, data_args)

    # ---- trainer ----
    trainer = build_trainer(model_args, data_args, training_args, callbacks=callbacks, data=data, model=model)
    results = {}

    # ---- train ----
    if training_args.do_train:
        train_result = trainer.train()
        preemption = trainer.preemption
        if preemption.stopped_at_step is not None:
            # The run is unfinished: leave only its checkpoint, no final model or metrics that look complete.
            logger.warning(
                resume_message(
                    preemption.signal_name,
                    training_args.output_dir,
                    preemption.stopped_at_step,
                    training_args.auto_resume,
                    overwrite=training_args.overwrite_output_dir,
                )
            )
            trainer.end()
            return {"preempted_at_step": preemption.stopped_at_step}
        trainer.save_model()
        metrics = {
            **train_result.metrics,
            **best_epochs(trainer.state.log_history),
            "unreadable_videos_replaced": len(trainer.replaced_videos),
        }
        trainer.log_metrics("train", metrics)
        trainer.save_metrics("train", metrics)
        trainer.save_state()
        results.update(metrics)
    elif training_args.resume_from_checkpoint:
        trainer.load_checkpoint_weights(training_args.resume_from_checkpoint)

    # ---- evaluate ----
    if training_args.do_eval:
        # The last epoch's evaluation already scored these weights (unless the best ones were loaded back).
        metrics = None if training_args.load_best_model_at_end else trainer.metrics_at_current_step()
        metrics = metrics or trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)
        results.update(metrics)
    if training_args.do_predict:
        metrics, outputs = trainer.evaluate_hands(data.test, metric_key_prefix="test")
        trainer.log_metrics("test", metrics)
        trainer.save_metrics("test", metrics)
        if trainer.is_world_process_zero() and data_args.cameras:
            write_camera_prediction_reports(
                outputs, data.test, model.config, training_args.output_dir, data_args.cameras
            )
        elif trainer.is_world_process_zero():
            write_prediction_reports(outputs, data.test, model.config, training_args.output_dir)
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

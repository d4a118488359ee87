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
from transformers import HfArgumentParser, set_seed

from adhvit_hf.training import (
    AlternatingTrainingArguments,
    DataArguments,
    ModelArguments,
    build_datasets,
    build_model,
    build_trainer,
)
from adhvit_hf.training.arguments import SEED_SWITCHES, translate_seed_args
from adhvit_hf.training.preemption import resume_message
from adhvit_hf.training.reporting import write_prediction_reports
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


def main(argv: list[str] | None = None, callbacks: list | None = None) -> dict:
    """Runs the job; `callbacks` are extra `TrainerCallback`s for programmatic use. Returns all metrics."""
    # ---- arguments ----
    model_args, data_args, training_args = parse_args(sys.argv[1:] if argv is None else argv)
    log_level = training_args.get_process_log_level()
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=log_level)
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
        metrics, outputs = trainer.evaluate_hands(data.test, metric_key_prefix="test")
        trainer.log_metrics("test", metrics)
        trainer.save_metrics("test", metrics)
        if trainer.is_world_process_zero():
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

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""`adhvit-train --help`: this package's flags first, each explained with its default, HF's after them."""

import sys
from dataclasses import fields

import pytest
from helpers.cli import cli_error, tiny_run_args
from helpers.training import two_step_trainer
from transformers.trainer_utils import seed_worker

from adhvit_hf.cli import run_havid
from adhvit_hf.training import DataArguments, ModelArguments


def help_text(program, monkeypatch, capsys) -> str:
    monkeypatch.setattr(sys, "argv", [program])
    with pytest.raises(SystemExit) as exit_info:
        run_havid.main(["--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("program", ["adhvit-train", "scripts/run_havid.py"])
def test_usage_names_the_program_the_user_typed(program, monkeypatch, capsys):
    assert (
        help_text(program, monkeypatch, capsys).splitlines()[0] == f"usage: {program} [CONFIG.json] [--flag VALUE ...]"
    )


def test_own_flags_come_first_each_with_help_and_default(monkeypatch, capsys):
    text = help_text("adhvit-train", monkeypatch, capsys)
    titles = [line[:-1] for line in text.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert titles == [
        "options",
        "model",
        "data and augmentation",
        "alternating training",
        "Hugging Face TrainingArguments",
    ]
    for dataclass_type in (ModelArguments, DataArguments, run_havid.OWN_TRAINING_FLAGS):
        for spelled in fields(dataclass_type):
            assert spelled.metadata.get("help"), f"--{spelled.name} has no help"
    alternating = text[text.index("alternating training:") : text.index("Hugging Face TrainingArguments:")]
    for hf_flag in ("--do_train", "--eval_strategy", "--dataloader_num_workers", "--logging_steps", "--optim"):
        assert hf_flag not in alternating and hf_flag in text
    assert "--num-frames NUM_FRAMES\n                        Frames per clip fed to the model. (default: 16)" in text
    assert "  --no_auto_resume, --no-auto-resume\n                        Sets --auto_resume to False.\n" in text
    assert "--lr (--base_lr)" in " ".join(text.split())
    assert text.index("--layer_decay") < text.index("Hugging Face TrainingArguments:") < text.index("--adam_beta1")


@pytest.mark.parametrize(
    "flag, value, message",
    [
        (
            "optim",
            "sgd",
            "--optim sgd: AlternatingTrainer builds AdamW over layer-wise LR decay groups (--layer_decay); "
            "use adamw_torch_fused or adamw_torch",
        ),
        (
            "optim_args",
            "momentum=0.9",
            "--optim_args is not used by AdamW here: set --adam_beta1, --adam_beta2, --adam_epsilon",
        ),
        (
            "lr_scheduler_type",
            "linear",
            "--lr_scheduler_type linear: the schedule is the original's warmup + cosine of "
            "the LR and the weight decay (--warmup_epochs, --warmup_lr, --min_lr, --weight_decay_end); only cosine is "
            "supported",
        ),
        (
            "lr_scheduler_kwargs",
            '{"num_cycles": 2}',
            "--lr_scheduler_kwargs is not used by the warmup + cosine "
            "schedule: set --warmup_epochs, --warmup_lr, --min_lr, --weight_decay_end",
        ),
        (
            "label_smoothing_factor",
            "0.1",
            "--label_smoothing_factor 0.1: each hand's loss is the model's; use "
            "--smoothing (the original's label smoothing of each hand's targets)",
        ),
        (
            "auto_find_batch_size",
            "True",
            "--auto_find_batch_size: the alternating batch sampler and its schedule are "
            "built for one batch size; give --per_device_train_batch_size (original: --batch_size)",
        ),
    ],
)
def test_hf_options_the_trainer_would_ignore_are_refused_naming_the_flag(flag, value, message, tmp_path, capsys):
    argv = tiny_run_args(tmp_path / "data", tmp_path / "out", **{flag: value})
    assert cli_error(run_havid.main, argv, capsys) == f"error: {message}"


def test_optimizer_and_dataloader_options_are_honoured(tmp_path):
    trainer = two_step_trainer(
        tmp_path / "out",
        optim="adamw_torch",
        dataloader_num_workers=1,
        dataloader_multiprocessing_context="spawn",
        dataloader_in_order=False,
    )
    assert trainer.create_optimizer().defaults["fused"] is None  # not fused: PyTorch's own choice
    assert two_step_trainer(tmp_path / "fused").create_optimizer().defaults["fused"] is True
    dataloader = trainer.get_train_dataloader()
    assert dataloader.multiprocessing_context.get_start_method() == "spawn"
    assert dataloader.in_order is False
    assert dataloader.worker_init_fn.func is seed_worker and dataloader.worker_init_fn.keywords == {
        "num_workers": 1,
        "rank": 0,
    }

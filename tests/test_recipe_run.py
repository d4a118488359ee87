# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The original run from its own flags: a tiny training run's optimizer steps and the LR and weight decay of every
step against the original's values (tests/fixtures/original_schedule.json), one-view validation, both recipes."""

import json
import re
from dataclasses import fields
from pathlib import Path

import pytest
from helpers.models import TINY_MODEL
from transformers import TrainerCallback

from adhvit_hf.cli import run_havid
from adhvit_hf.data.demo import make_demo_dataset
from adhvit_hf.training import build_datasets
from adhvit_hf.training.original_flags import translate_original_args


pytestmark = pytest.mark.slow


FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "original_schedule.json").read_text())
REPO = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def eleven_clips(tmp_path_factory):
    """Demo data with 11 training clips per hand; `hand_sizes` cuts the lists to the fixture's sizes."""
    root = tmp_path_factory.mktemp("eleven_clips")
    make_demo_dataset(str(root), seed=0, split_sizes={"train": 11, "val": 2, "test": 2})
    return root


def hand_sizes(root: Path, n_lh: int, n_rh: int) -> None:
    for hand, size in (("lh", n_lh), ("rh", n_rh)):
        listed, full = root / hand / "train_list_video.txt", root / hand / "train_all.txt"
        if not full.exists():
            full.write_text(listed.read_text())
        listed.write_text("".join(full.read_text().splitlines(keepends=True)[:size]))


class StepRecorder(TrainerCallback):
    """The LR of the heads' group (layer scale 1) and the decayed groups' weight decay each optimizer step runs with."""

    def __init__(self):
        self.lr, self.weight_decay = [], []

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.lr.append(max(group["lr"] for group in optimizer.param_groups))
        self.weight_decay.append(max(group["weight_decay"] for group in optimizer.param_groups))


def original_argv(root: Path, output_dir: Path, flags: dict) -> list[str]:
    """The original's flags of a fixture case (its names), on the tiny model."""
    argv = [
        "--lh_data_path",
        f"{root}/lh",
        "--rh_data_path",
        f"{root}/rh",
        "--output_dir",
        str(output_dir),
        "--model",
        "vit_small_patch16_224",
        "--config_overrides",
        TINY_MODEL,
        "--lh_num_classes",
        "6",
        "--rh_num_classes",
        "6",
        "--input_size",
        "32",
        "--short_side_size",
        "32",
        "--num_frames",
        "4",
        "--sampling_rate",
        "2",
        "--num_sample",
        "1",
        "--aa",
        "none",
        "--reprob",
        "0",
        "--num_workers",
        "0",
        "--report_to",
        "none",
        "--disable_eval_during_finetuning",
        "--no_save_ckpt",
        "--no_auto_resume",
        "--do_eval",
        "False",
        "--logging_steps",
        "1",
    ]
    for name in (
        "batch_size",
        "epochs",
        "warmup_epochs",
        "warmup_steps",
        "lr",
        "min_lr",
        "weight_decay",
        "weight_decay_end",
        "alternation_steps",
        "update_freq",
    ):
        if name in flags:
            argv += [f"--{name}", str(flags[name])]
    return argv


@pytest.mark.parametrize("case", ["balanced_short_run", "unbalanced_short_run"])
def test_a_run_from_the_original_flags_has_its_steps_lr_and_weight_decay(eleven_clips, tmp_path, case):
    expected = FIXTURE[case]
    flags = expected["flags"]
    hand_sizes(eleven_clips, flags["n_lh"], flags["n_rh"])
    recorder = StepRecorder()
    results = run_havid.main(original_argv(eleven_clips, tmp_path, flags), callbacks=[recorder])
    state = json.loads((tmp_path / "trainer_state.json").read_text())
    assert state["global_step"] == expected["total_steps"]
    assert results["epoch"] == flags["epochs"]
    assert recorder.lr == pytest.approx(expected["lr"], rel=0, abs=1e-12)
    assert recorder.weight_decay == pytest.approx(expected["weight_decay"], rel=0, abs=1e-12)
    # the logs show the same values (HF logs the LR the next step will use)
    logged = [
        (entry["step"], entry["learning_rate"], entry["weight_decay"])
        for entry in state["log_history"]
        if "learning_rate" in entry
    ]
    assert logged and all(
        lr == pytest.approx(expected["lr"][step], abs=1e-12) and wd == pytest.approx(expected["weight_decay"][step])
        for step, lr, wd in logged
        if step < expected["total_steps"]
    )


def test_validation_uses_one_centred_view_and_the_test_all_views(demo_data, tmp_path):
    model_args, data_args, _ = run_havid.parse_args(
        [
            "--lh_data_path",
            f"{demo_data}/lh",
            "--rh_data_path",
            f"{demo_data}/rh",
            "--output_dir",
            str(tmp_path),
            "--input_size",
            "32",
            "--short_side_size",
            "32",
            "--num_frames",
            "4",
            "--test_num_segment",
            "2",
            "--test_num_crop",
            "3",
        ]
    )
    data = build_datasets(model_args, data_args)
    assert data.validation["lh"][0]["pixel_values"].shape[:2] == (1, 4)
    assert data.test["rh"][0]["pixel_values"].shape[:2] == (6, 4)
    assert data.processor.num_views == 6  # the processor saved with the model keeps the test views
    data_args.multi_view_validation = True
    assert build_datasets(model_args, data_args).validation["lh"][0]["pixel_values"].shape[:2] == (6, 4)


def readme_original_command() -> list[str]:
    """The original's command line as the README shows it (the block after the 'original run' marker)."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- original command line -->\s*```bash\n(.*?)```", text, re.S).group(1)
    command = block.replace("\\\n", " ").split("\n")[0].split()
    assert command[:2] == ["python", "scripts/run_havid.py"]
    return command[2:]


def test_the_readme_original_command_line_and_the_original_config_are_the_same_run():
    from_readme = run_havid.parse_args(readme_original_command())
    from_config = run_havid.parse_args([str(REPO / "configs" / "havid_vit_b_original.json")])
    for readme_args, config_args in zip(from_readme, from_config):
        for field in fields(config_args):
            assert getattr(readme_args, field.name) == getattr(config_args, field.name), field.name
    model_args, data_args, training_args = from_config
    assert training_args.original_schedule and training_args.num_train_epochs == 50
    assert (training_args.warmup_epochs, training_args.learning_rate) == (5, 1e-3 * 4 / 256)
    assert (data_args.flip, data_args.multi_view_validation, data_args.test_num_segment) == ("plain", False, 5)


def test_the_recommended_recipe_uses_the_package_epoch_and_no_flip():
    model_args, data_args, training_args = run_havid.parse_args([str(REPO / "configs" / "havid_vit_b.json")])
    assert not training_args.original_schedule
    assert (training_args.num_train_epochs, training_args.warmup_epochs) == (25, 2.5)
    assert data_args.flip == "none"
    assert (model_args.lh_num_labels, training_args.alternation_steps) == (75, 50)


def test_original_flags_translate_with_their_meaning():
    assert translate_original_args(["--epochs", "50", "--warmup_steps", "-1", "--warmup_steps=7"]) == [
        "--num_train_epochs",
        "50",
        "--original_schedule",
        "True",
        "--warmup_steps",
        "7",
    ]
    assert translate_original_args(["--validation"]) == ["--do_eval", "True", "--do_train", "False"]
    *_, training_args = run_havid.parse_args(
        ["--lh_data_path", "l", "--rh_data_path", "r", "--output_dir", "o", "--weight_decay_end", "0.01"]
    )
    assert training_args.weight_decay_end == 0.01 and not training_args.original_schedule
    with pytest.raises(
        ValueError,
        match="--alternation_steps 3 is not a multiple of --update_freq 2: the original counts micro-batches",
    ):
        run_havid.parse_args(
            [
                "--lh_data_path",
                "l",
                "--rh_data_path",
                "r",
                "--output_dir",
                "o",
                "--epochs",
                "2",
                "--update_freq",
                "2",
                "--alternation_steps",
                "3",
            ]
        )

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Which checkpoint a run continues from: only complete ones, of the same model, never another run's by accident."""

import json
import logging
import os
import shutil
from types import SimpleNamespace

import pytest
import torch
from helpers.cli import tiny_run_args
from helpers.models import TINY

from adhvit_hf.cli import run_havid
from adhvit_hf.training.checkpoints import (
    COMPLETE_MARKER,
    CheckpointError,
    list_checkpoints,
    mark_checkpoint_complete,
    resolve_resume_checkpoint,
)
from adhvit_hf.utils import run_cli


# The config fields of a tiny run's checkpoint that decide whether it fits the run (6 demo classes per hand).
RUN_CONFIG = dict(
    model_type="adhvit",
    hidden_size=TINY["hidden_size"],
    num_hidden_layers=TINY["num_hidden_layers"],
    lh_num_labels=6,
    rh_num_labels=6,
)


def fake_checkpoint(output_dir, step: int, complete: bool = True, **config) -> str:
    folder = os.path.join(output_dir, f"checkpoint-{step}")
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as file:
        json.dump({**RUN_CONFIG, **config}, file)
    if complete:
        mark_checkpoint_complete(folder, step)
    return folder


def args(output_dir, resume=None, auto_resume=True, overwrite=False):
    return SimpleNamespace(
        output_dir=str(output_dir),
        resume_from_checkpoint=resume,
        auto_resume=auto_resume,
        overwrite_output_dir=overwrite,
        should_save=True,
    )


CONFIG = SimpleNamespace(**RUN_CONFIG)


def test_marker_is_written_last_and_holds_the_step(tmp_path):
    folder = fake_checkpoint(tmp_path, 4, complete=False)
    assert list_checkpoints(str(tmp_path)) == ([], [folder])
    mark_checkpoint_complete(folder, 4)
    assert json.loads(open(os.path.join(folder, COMPLETE_MARKER)).read()) == {"global_step": 4}
    assert list_checkpoints(str(tmp_path)) == ([folder], [])


def test_newest_complete_checkpoint_is_taken_and_incomplete_ones_are_named(tmp_path, caplog):
    fake_checkpoint(tmp_path, 2)
    ten = fake_checkpoint(tmp_path, 10)
    nine_hundred = fake_checkpoint(tmp_path, 900, complete=False)
    os.makedirs(tmp_path / "checkpoint-best")  # not a step: ignored
    with caplog.at_level(logging.INFO):
        assert resolve_resume_checkpoint(args(tmp_path), CONFIG) == ten
    assert f"skipping incomplete checkpoint {nine_hundred} (its save was interrupted)" in caplog.messages
    assert f"resuming from {ten} (--overwrite_output_dir starts afresh instead)" in caplog.messages


def test_only_incomplete_checkpoints_start_afresh(tmp_path):
    fake_checkpoint(tmp_path, 3, complete=False)
    assert resolve_resume_checkpoint(args(tmp_path), CONFIG) is None
    assert resolve_resume_checkpoint(args(tmp_path / "not-yet"), CONFIG) is None


def test_explicit_checkpoint_must_exist_and_be_complete(tmp_path):
    with pytest.raises(CheckpointError) as error:
        resolve_resume_checkpoint(args(tmp_path, resume=str(tmp_path / "gone")), CONFIG)
    assert str(error.value) == f"--resume_from_checkpoint {tmp_path / 'gone'}: no such checkpoint folder"
    half = fake_checkpoint(tmp_path, 5, complete=False)
    with pytest.raises(CheckpointError) as error:
        resolve_resume_checkpoint(args(tmp_path, resume=half), CONFIG)
    assert str(error.value) == (
        f"--resume_from_checkpoint {half}: incomplete checkpoint (no {COMPLETE_MARKER}: its save was interrupted); "
        "pick an earlier checkpoint"
    )


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    other = fake_checkpoint(tmp_path, 8, hidden_size=768)
    with pytest.raises(CheckpointError) as error:
        resolve_resume_checkpoint(args(tmp_path, resume=other), CONFIG)
    assert str(error.value) == (
        f"{other}/config.json: the checkpoint has hidden_size=768 but this run's model has hidden_size=32; "
        "it belongs to another run"
    )
    other_heads = fake_checkpoint(tmp_path / "heads", 8, lh_num_labels=75)
    with pytest.raises(CheckpointError) as error:
        resolve_resume_checkpoint(args(tmp_path / "heads"), CONFIG)
    assert str(error.value) == (
        f"{other_heads}/config.json: the checkpoint has lh_num_labels=75 but this run's model has lh_num_labels=6; "
        "it belongs to another run: choose another --output_dir, or --overwrite_output_dir to delete its checkpoints"
    )


def test_no_auto_resume_refuses_an_output_dir_with_checkpoints(tmp_path):
    fake_checkpoint(tmp_path, 2)
    fake_checkpoint(tmp_path, 4)
    with pytest.raises(CheckpointError) as error:
        resolve_resume_checkpoint(args(tmp_path, auto_resume=False), CONFIG)
    assert str(error.value) == (
        f"--output_dir {tmp_path} holds checkpoints of an earlier run (checkpoint-2, checkpoint-4): resume it "
        "(drop --no_auto_resume), start afresh with --overwrite_output_dir (deletes them), "
        "or choose another --output_dir"
    )


def test_overwrite_output_dir_deletes_only_the_checkpoints(tmp_path):
    fake_checkpoint(tmp_path, 2, hidden_size=768)
    fake_checkpoint(tmp_path, 3, complete=False)
    (tmp_path / "notes.txt").write_text("mine")
    assert resolve_resume_checkpoint(args(tmp_path, auto_resume=False, overwrite=True), CONFIG) is None
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_cli_refuses_another_runs_output_dir_in_one_line(demo_data, tmp_path, capsys):
    fake_checkpoint(tmp_path / "out", 8, hidden_size=768)
    argv = tiny_run_args(demo_data, tmp_path / "out")
    argv.remove("--no_auto_resume")
    with pytest.raises(SystemExit) as exit_info:
        run_cli(run_havid.main, argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: {tmp_path}/out/checkpoint-8/config.json: the checkpoint has hidden_size=768 but this run's model has "
        "hidden_size=32; it belongs to another run: choose another --output_dir, or --overwrite_output_dir to delete "
        "its checkpoints"
    )


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_code_running_pickle_in_a_checkpoint_is_refused_and_runs_nothing(demo_data, tmp_path, capsys):
    output_dir = tmp_path / "out"
    argv = tiny_run_args(demo_data, output_dir, save_strategy="steps", save_steps=1, max_steps=1)
    run_havid.main(argv)
    checkpoint = output_dir / "checkpoint-1"
    marker = tmp_path / "pwned"
    torch.save({"state": RunsCode(str(marker)), "param_groups": []}, checkpoint / "optimizer.pt")
    shutil.rmtree(output_dir / "runs", ignore_errors=True)
    with pytest.raises(SystemExit):
        run_cli(run_havid.main, [*argv, "--max_steps", "2", "--resume_from_checkpoint", str(checkpoint)])
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith(
        f"error: {checkpoint}: refused to load, a file holds Python objects that would run code when unpickled "
        "(torch.load(weights_only=True) said: Weights only load failed."
    )
    assert not marker.exists()

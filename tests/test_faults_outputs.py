# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Writers that never leave a file looking complete when it is not, the preemption signal handler, and output
folders: never trained over, moved without losing the best checkpoint, unwritable ones refused before training."""

import json
import os
import re
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers.callbacks import ScoreByEpoch
from helpers.cli import cli_error, tiny_run_args
from transformers import TrainerControl, TrainerState

from adhvit_hf.cli import run_havid
from adhvit_hf.training.preemption import PreemptionCallback, resume_message
from adhvit_hf.utils import atomic_write


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "train_list_video.txt"
    target.write_text("old 1\n")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_write(str(target)) as handle:
            handle.write("new 2\n")
            raise RuntimeError("disk full")
    assert target.read_text() == "old 1\n"
    assert os.listdir(tmp_path) == ["train_list_video.txt"]

    with atomic_write(str(target)) as handle:
        handle.write("new 2\n")
    assert target.read_text() == "new 2\n"
    assert os.listdir(tmp_path) == ["train_list_video.txt"]


def test_first_signal_asks_for_a_checkpoint_the_second_stops_at_once():
    callback = PreemptionCallback()
    args, state, control = SimpleNamespace(world_size=1), TrainerState(global_step=41), TrainerControl()
    previous = signal.getsignal(signal.SIGINT)
    callback.on_train_begin(args, state, control)

    signal.raise_signal(signal.SIGINT)  # Ctrl-C: no KeyboardInterrupt, the step finishes
    assert callback.signal_name == "SIGINT"
    assert not control.should_save
    state.global_step = 42
    callback.on_step_end(args, state, control)
    assert (control.should_save, control.should_training_stop, control.should_evaluate) == (True, True, False)
    assert callback.stopped_at_step == 42

    with pytest.raises(KeyboardInterrupt):  # the second Ctrl-C does not wait for the checkpoint
        signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is previous


def test_no_signal_changes_nothing_and_handlers_are_restored():
    callback = PreemptionCallback()
    args, state, control = SimpleNamespace(world_size=1), TrainerState(global_step=3), TrainerControl()
    previous = signal.getsignal(signal.SIGTERM)
    callback.on_train_begin(args, state, control)
    assert signal.getsignal(signal.SIGTERM) is not previous
    callback.on_step_end(args, state, control)
    assert (control.should_save, control.should_training_stop) == (False, False)
    callback.on_train_end(args, state, control)
    assert signal.getsignal(signal.SIGTERM) is previous
    assert callback.signal_name is None


def test_resume_message_without_auto_resume():
    assert resume_message("SIGTERM", "out", 7, auto_resume=False) == (
        "training stopped by SIGTERM at step 7; checkpoint saved in out/checkpoint-7. To resume, rerun the same "
        "command without --no_auto_resume, or add --resume_from_checkpoint out/checkpoint-7"
    )


def test_every_row_of_the_faults_table_names_an_existing_test():
    docs = Path(__file__).parents[1] / "docs" / "faults.md"
    rows = [line for line in docs.read_text().splitlines() if line.startswith("| ") and not line.startswith("| case")]
    rows = [row for row in rows if not row.startswith("| output |")]
    assert len(rows) > 40
    for row in rows:
        references = re.findall(r"`([a-z_]+)::(test_[a-z0-9_]+)`", row)
        assert references, f"no test named in: {row}"
        for module, test in references:
            source = (Path(__file__).parent / f"test_{module}.py").read_text()
            assert f"def {test}(" in source, f"{module}::{test} does not exist"


def test_a_non_empty_output_dir_with_nothing_to_resume_is_refused(demo_data, tmp_path, capsys):
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    (output_dir / "config.json").write_text("{}")
    (output_dir / "notes.txt").write_text("mine")
    argv = tiny_run_args(demo_data, output_dir, max_steps=1)
    assert cli_error(run_havid.main, argv, capsys) == (
        f"error: --output_dir {output_dir} is not empty (config.json, notes.txt) and holds no checkpoint to resume: "
        "choose another --output_dir, or --overwrite_output_dir to write into it anyway"
    )
    assert sorted(os.listdir(output_dir)) == ["config.json", "notes.txt"]
    run_havid.main([*argv, "--overwrite_output_dir"])
    assert (output_dir / "model.safetensors").is_file()


@pytest.mark.slow
def test_a_finished_run_is_not_trained_again_over_its_final_model(demo_data, tmp_path, capsys):
    output_dir = tmp_path / "out"
    # the final model is newer than the newest checkpoint kept (step 4 of 8)
    argv = tiny_run_args(demo_data, output_dir, max_steps=8, save_strategy="steps", save_steps=4, save_total_limit=1)
    argv.remove("--no_auto_resume")
    run_havid.main(argv)
    os.remove(output_dir / "checkpoint-8" / "checkpoint_complete.json")
    final = (output_dir / "model.safetensors").read_bytes()
    assert cli_error(run_havid.main, argv, capsys) == (
        f"error: --output_dir {output_dir} holds a finished run ({output_dir}/trainer_state.json): evaluate it with "
        f"--eval --resume {output_dir}, train it again with --overwrite_output_dir, or choose another --output_dir"
    )
    assert (output_dir / "model.safetensors").read_bytes() == final


@pytest.mark.parametrize("where", ["under_a_file", "read_only"])
def test_an_unwritable_output_dir_is_refused_before_training(demo_data, tmp_path, capsys, where):
    if where == "under_a_file":
        (tmp_path / "a_file").write_text("")
        output_dir, reason = tmp_path / "a_file" / "out", "Not a directory"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        output_dir, reason = tmp_path / "read_only", "Permission denied"
        output_dir.mkdir(mode=0o500)
    assert cli_error(run_havid.main, tiny_run_args(demo_data, output_dir), capsys) == (
        f"error: --output_dir {output_dir}: cannot write there ({reason})"
    )


@pytest.mark.slow
def test_best_checkpoint_is_found_in_a_moved_output_dir_and_survives_rotation(demo_data, tmp_path):
    output_dir = tmp_path / "first"
    argv = tiny_run_args(
        demo_data,
        output_dir,
        max_steps=8,
        batch_size=8,
        save_strategy="epoch",
        eval_strategy="epoch",
        save_total_limit=2,
    )
    argv.remove("--no_auto_resume")
    run_havid.main(argv, callbacks=[ScoreByEpoch([90.0, 10.0])])
    os.remove(output_dir / "trainer_state.json")  # make it look unfinished: resume it from checkpoint-8 ...
    moved = tmp_path / "moved"
    os.rename(output_dir, moved)  # ... in another place
    assert sorted(n for n in os.listdir(moved) if n.startswith("checkpoint-")) == ["checkpoint-4", "checkpoint-8"]
    argv[argv.index("--output_dir") + 1] = str(moved)
    argv[argv.index("--max_steps") + 1] = "12"
    argv[argv.index("--save_total_limit") + 1] = "1"
    run_havid.main(argv, callbacks=[ScoreByEpoch([90.0, 10.0, 20.0])])
    # epoch 1 (step 4) stays the best: with save_total_limit 1 HF keeps only the best at the end of training
    assert sorted(n for n in os.listdir(moved) if n.startswith("checkpoint-")) == ["checkpoint-4"]
    assert json.loads((moved / "trainer_state.json").read_text())["best_model_checkpoint"] == f"{moved}/checkpoint-4"

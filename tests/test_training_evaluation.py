# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Evaluation during training: the best weights always on disk, bad evaluation videos found before training, no
epoch lost to an evaluation error, and a console that says what happens once."""

import json
import logging
import os
import shutil
import signal

import pytest
import torch
from helpers.callbacks import ScoreByEpoch
from helpers.cli import cli_error, tiny_run_args
from safetensors.torch import load_file
from transformers import ProgressCallback

from adhvit_hf.cli import run_havid
from adhvit_hf.training.checkpoints import COMPLETE_MARKER
from adhvit_hf.training.trainer import AlternatingTrainer, best_epochs


# 16 clips per hand in batches of 8: 4 optimizer steps per epoch
EPOCHS_OF_4_STEPS = dict(batch_size=8, per_device_eval_batch_size=4, eval_strategy="epoch", save_strategy="epoch")


@pytest.mark.slow
def test_best_epoch_is_saved_whatever_save_ckpt_freq_and_loaded_at_the_end(demo_data, tmp_path):
    output_dir = tmp_path / "out"
    argv = tiny_run_args(
        demo_data, output_dir, num_train_epochs=3, save_ckpt_freq=3, load_best_model_at_end="True", **EPOCHS_OF_4_STEPS
    )
    results = run_havid.main(argv, callbacks=[ScoreByEpoch([10.0, 90.0, 20.0])])

    # epoch 3 by the save frequency, epoch 2 because it was the best (epoch 1 was the best when it ended, too)
    assert (output_dir / "checkpoint-8" / COMPLETE_MARKER).is_file()
    assert sorted(n for n in os.listdir(output_dir) if n.startswith("checkpoint-")) == [
        "checkpoint-12",
        "checkpoint-4",
        "checkpoint-8",
    ]
    state = json.loads((output_dir / "trainer_state.json").read_text())
    assert state["best_model_checkpoint"] == f"{output_dir}/checkpoint-8" and state["best_global_step"] == 8
    final, best = (
        load_file(output_dir / "model.safetensors"),
        load_file(output_dir / "checkpoint-8" / "model.safetensors"),
    )
    assert all(torch.equal(final[name], best[name]) for name in best)
    logged = [logs for logs in state["log_history"] if "eval_lh_top1" in logs]
    assert results["best_lh_top1"] == max(logs["eval_lh_top1"] for logs in logged)
    assert {"best_lh_epoch", "best_rh_top1", "best_rh_epoch", "best_mean_top1", "best_mean_epoch"} <= set(results)


def test_best_epochs_per_hand_and_of_the_mean():
    history = [
        {"loss": 1.0, "epoch": 0.5},
        {"eval_lh_top1": 50.0, "eval_rh_top1": 70.0, "eval_mean_top1": 60.0, "epoch": 1.0},
        {"eval_lh_top1": 80.0, "eval_rh_top1": 30.0, "eval_mean_top1": 55.0, "epoch": 2.0},
        {"eval_lh_top1": 80.0, "eval_rh_top1": 60.0, "eval_mean_top1": 70.0, "epoch": 3.0},
    ]
    assert best_epochs(history) == {
        "best_lh_top1": 80.0,
        "best_lh_epoch": 2.0,
        "best_rh_top1": 70.0,
        "best_rh_epoch": 1.0,
        "best_mean_top1": 70.0,
        "best_mean_epoch": 3.0,
    }


@pytest.mark.slow
def test_save_ckpt_freq_keeps_every_nth_epoch_and_the_last(demo_data, tmp_path):
    output_dir = tmp_path / "out"
    argv = tiny_run_args(demo_data, output_dir, num_train_epochs=3, save_ckpt_freq=2, **EPOCHS_OF_4_STEPS)
    run_havid.main(argv, callbacks=[ScoreByEpoch([90.0, 10.0, 20.0])])
    # epoch 1: best; epoch 2: every 2nd; epoch 3: the last
    assert sorted(n for n in os.listdir(output_dir) if n.startswith("checkpoint-")) == [
        "checkpoint-12",
        "checkpoint-4",
        "checkpoint-8",
    ]


def test_bad_evaluation_videos_are_all_named_before_training(demo_data, tmp_path, capsys):
    data = shutil.copytree(demo_data, tmp_path / "data")
    empty, garbage = data / "videos" / "val_0001.mp4", data / "videos" / "test_0003.mp4"
    empty.write_bytes(b"")
    garbage.write_bytes(b"not a video at all" * 100)
    argv = tiny_run_args(data, tmp_path / "out", do_predict="True", eval_strategy="epoch")
    error = cli_error(run_havid.main, argv, capsys)
    assert error.startswith(f"error: 2 evaluation videos cannot be read: {garbage}: cannot open video (")
    assert error.endswith(f"; {empty}: video file is empty (0 bytes)")
    assert not (tmp_path / "out").exists() or not any(
        n.startswith("checkpoint-") for n in os.listdir(tmp_path / "out")
    )


def test_an_evaluation_error_does_not_lose_the_trained_epoch(demo_data, tmp_path, monkeypatch):
    def failing_evaluation(self, datasets, metric_key_prefix="eval"):
        raise RuntimeError("the evaluation broke")

    monkeypatch.setattr(AlternatingTrainer, "evaluate_hands", failing_evaluation)
    output_dir = tmp_path / "out"
    with pytest.raises(RuntimeError, match="the evaluation broke"):
        run_havid.main(tiny_run_args(demo_data, output_dir, num_train_epochs=1, **EPOCHS_OF_4_STEPS))
    assert (output_dir / "checkpoint-4" / COMPLETE_MARKER).is_file()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # no handler left behind by the failed run


class BarRecorder(ProgressCallback):
    """HF's progress callback, recording (count, total) of the evaluation bar after each batch."""

    seen = []

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        super().on_prediction_step(args, state, control, eval_dataloader=eval_dataloader, **kwargs)
        if self.prediction_bar is not None:
            BarRecorder.seen.append((self.prediction_bar.n, self.prediction_bar.total))


@pytest.mark.slow
def test_console_one_bar_per_hand_one_switch_summary_and_one_final_evaluation(
    demo_data, tmp_path, caplog, monkeypatch
):
    monkeypatch.setattr("transformers.trainer.DEFAULT_PROGRESS_CALLBACK", BarRecorder)
    BarRecorder.seen = []
    evaluations = []
    evaluate = AlternatingTrainer.evaluate_hands

    def counting_evaluation(self, datasets, metric_key_prefix="eval"):
        evaluations.append((metric_key_prefix, self.state.global_step))
        return evaluate(self, datasets, metric_key_prefix)

    monkeypatch.setattr(AlternatingTrainer, "evaluate_hands", counting_evaluation)
    argv = tiny_run_args(
        demo_data,
        tmp_path / "out",
        num_train_epochs=1,
        do_eval="True",
        alternation_steps=1,
        disable_tqdm="False",
        **EPOCHS_OF_4_STEPS,
    )
    with caplog.at_level(logging.INFO, logger="adhvit_hf"):
        results = run_havid.main(argv)

    # 6 validation videos per hand in batches of 4: each hand's bar counts its own 2 batches
    assert max(n for n, total in BarRecorder.seen) == 2
    assert {total for n, total in BarRecorder.seen} == {2}
    messages = [record.getMessage() for record in caplog.records]
    assert not any("training the" in message for message in messages)
    assert "alternating training (fixed): 4 optimizer steps per epoch, phases of 1 LH then 1 RH steps" in messages
    # the epoch's evaluation is the final one: the same weights are not evaluated twice
    assert evaluations == [("eval", 4)]
    assert "eval_mean_top1" in results

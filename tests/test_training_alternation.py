# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""AlternatingTrainer end to end on a tiny model: frozen heads, exact resume, per-hand evaluation, original flags."""

import dataclasses
import json
import os
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from datasets import Dataset
from helpers.callbacks import HeadRecorder, heads_equal
from helpers.cli import tiny_run_args
from safetensors.torch import load_file, save_file
from transformers import pipeline

from adhvit_hf.cli import run_havid
from adhvit_hf.pipeline_adhvit import PIPELINE_TASK
from adhvit_hf.training.original_flags import translate_original_args
from adhvit_hf.training.reporting import write_prediction_reports


@pytest.mark.slow
def test_idle_head_stays_bit_identical(demo_data, tmp_path):
    recorder = HeadRecorder()
    argv = tiny_run_args(
        demo_data,
        tmp_path,
        weight_decay=0.1,
        gradient_accumulation_steps=2,
        alternation_steps=2,
        max_steps=8,
        mixup=0.8,
        cutmix=1.0,
        smoothing=0.1,
    )
    run_havid.main(argv, callbacks=[recorder])
    assert len(recorder.steps) == 8
    hands = [("lh", "rh")[(step // 2) % 2] for step in range(8)]
    for step in range(1, 8):
        active, idle = hands[step], "rh" if hands[step] == "lh" else "lh"
        before, after = recorder.steps[step - 1], recorder.steps[step]
        assert heads_equal(before[idle], after[idle]), f"step {step}: the idle {idle} head moved"
        assert not heads_equal(before[active], after[active]), f"step {step}: the active {active} head did not train"


@pytest.mark.slow
def test_joint_strategy_trains_both_heads_every_step(demo_data, tmp_path):
    recorder = HeadRecorder()
    run_havid.main(tiny_run_args(demo_data, tmp_path, alternation_strategy="joint", max_steps=4), callbacks=[recorder])
    for step in range(1, 4):
        before, after = recorder.steps[step - 1], recorder.steps[step]
        assert not heads_equal(before["lh"], after["lh"]) and not heads_equal(before["rh"], after["rh"])


@pytest.mark.slow
def test_one_stream_trains_both_heads_on_the_left_hand_lists(demo_data, tmp_path):
    recorder = HeadRecorder()
    argv = [a for a in tiny_run_args(demo_data, tmp_path, max_steps=4, do_eval="True") if "rh_data_path" not in a]
    argv.remove(f"{demo_data}/rh")
    results = run_havid.main([*argv, "--one_stream"], callbacks=[recorder])
    assert not heads_equal(recorder.steps[0]["rh"], recorder.steps[3]["rh"])  # steps 2-3 trained the RH head
    # both heads are evaluated on the same (LH) videos and labels
    assert {"eval_lh_top1", "eval_rh_top1"} <= results.keys()


def final_weights(output_dir):
    return load_file(os.path.join(output_dir, "model.safetensors"))


@pytest.mark.slow
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(demo_data, tmp_path):
    augmenting = dict(
        aa="rand-m7-n4-mstd0.5-inc1",
        reprob=0.25,
        mixup=0.8,
        cutmix=1.0,
        smoothing=0.1,
        num_sample=2,
        drop_path=0.1,
        max_steps=10,
        save_strategy="steps",
        save_steps=5,
        weight_decay=0.05,
    )
    run_havid.main(tiny_run_args(demo_data, tmp_path / "full", **augmenting))
    resumed_args = tiny_run_args(
        demo_data, tmp_path / "resumed", resume_from_checkpoint=tmp_path / "full" / "checkpoint-5", **augmenting
    )
    run_havid.main(resumed_args)
    full, resumed = final_weights(tmp_path / "full"), final_weights(tmp_path / "resumed")
    assert full.keys() == resumed.keys()
    for name in full:
        torch.testing.assert_close(resumed[name], full[name], rtol=0, atol=1e-6, msg=name)
    # and the run really trained in between (the comparison is not between two untouched models)
    checkpoint = load_file(tmp_path / "full" / "checkpoint-5" / "model.safetensors")
    assert not torch.equal(checkpoint["lh_classifier.weight"], full["lh_classifier.weight"])


@pytest.mark.slow
def test_per_hand_evaluation_and_prediction_reports(demo_data, tmp_path):
    results = run_havid.main(tiny_run_args(demo_data, tmp_path, do_eval="True", do_predict="True", max_steps=4))
    for prefix in ("eval", "test"):
        for hand in ("lh", "rh"):
            for metric in ("top1", "top5", "mean_class_acc"):
                assert 0.0 <= results[f"{prefix}_{hand}_{metric}"] <= 100.0
            assert results[f"{prefix}_{hand}_top5"] >= results[f"{prefix}_{hand}_top1"]
        assert results[f"{prefix}_mean_top1"] == pytest.approx(
            (results[f"{prefix}_lh_top1"] + results[f"{prefix}_rh_top1"]) / 2
        )
    saved = json.loads((tmp_path / "test_results.json").read_text())
    assert saved["test_lh_top1"] == results["test_lh_top1"]

    lines = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 12  # 6 test videos per hand
    for hand in ("lh", "rh"):
        rows = [row for row in lines if row["hand"] == hand]
        scores = [[p["score"] for p in row["top_k"]] for row in rows]
        assert all(s == sorted(s, reverse=True) and len(s) == 5 for s in scores)
        top1 = 100.0 * sum(row["top_k"][0]["label"] == row["label"] for row in rows) / len(rows)
        assert top1 == pytest.approx(results[f"test_{hand}_top1"])
        matrix = (tmp_path / f"confusion_{hand}.csv").read_text().splitlines()
        assert len(matrix) == 7 and sum(int(c) for row in matrix[1:] for c in row.split(",")[1:]) == 6
        assert (tmp_path / f"confusion_{hand}.png").read_bytes()[:4] == b"\x89PNG"

    # the saved run loads straight into the pipeline by task name (its folder names the pipeline as remote code)
    classifier = pipeline(PIPELINE_TASK, model=str(tmp_path), trust_remote_code=True)
    first = lines[0]
    prediction = classifier(first["video"], top_k=5)
    assert [p["label"] for p in prediction["left_hand"]] == [p["label"] for p in first["top_k"]]


@pytest.mark.slow
def test_original_eval_of_a_checkpoint_reproduces_its_evaluation(demo_data, tmp_path):
    trained = run_havid.main(
        tiny_run_args(demo_data, tmp_path / "run", max_steps=4, save_strategy="steps", save_steps=4, do_eval="True")
    )
    evaluated = run_havid.main(
        tiny_run_args(demo_data, tmp_path / "eval") + ["--eval", "--resume", str(tmp_path / "run" / "checkpoint-4")]
    )
    assert "train_runtime" not in evaluated and not (tmp_path / "eval" / "model.safetensors").exists()
    for key in ("eval_lh_top1", "eval_rh_top1", "eval_lh_mean_class_acc", "eval_mean_top1"):
        assert evaluated[key] == trained[key], key
    assert evaluated["eval_loss"] == pytest.approx(trained["eval_loss"], abs=1e-6)

    # a checkpoint that lacks a tensor would be scored with that tensor random: refused, naming it
    damaged = tmp_path / "damaged"
    shutil.copytree(tmp_path / "run" / "checkpoint-4", damaged)
    weights = load_file(damaged / "model.safetensors")
    del weights["rh_classifier.bias"]
    save_file(weights, damaged / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(
        ValueError,
        match=r"damaged: the model does not match its saved weights.*"
        r"missing: rh_classifier.bias; unexpected: none",
    ):
        run_havid.main(tiny_run_args(demo_data, tmp_path / "eval2") + ["--eval", "--resume", str(damaged)])


ORIGINAL_COMMAND = (
    "--model vit_base_patch16_224_alternating --lh_data_path /data/lh_v0 --lh_data_root /data/lh_v0 "
    "--rh_data_path /data/rh_v0 --rh_data_root /data/rh_v0 --lh_num_classes 75 --rh_num_classes 75 --data_set HAVID "
    "--finetune models/vit_b_k710_dl_from_giant.pth --output_dir out --log_dir out --batch_size 4 --input_size 224 "
    "--short_side_size 224 --save_ckpt_freq 10 --num_frames 16 --sampling_rate 4 --num_sample 2 --num_workers 8 "
    "--opt adamw --lr 1e-3 --drop_path 0.3 --clip_grad 5.0 --layer_decay 0.9 --opt_betas 0.9 0.999 "
    "--weight_decay 0.1 --warmup_epochs 5 --epochs 50 --test_num_segment 5 --test_num_crop 3 "
    "--alternation_steps 50 --dist_eval"
).split()


def test_the_original_command_line_parses_with_the_original_meaning():
    model_args, data_args, training_args = run_havid.parse_args(ORIGINAL_COMMAND)
    assert model_args.architecture == "vit_base_patch16_224_alternating"
    assert model_args.finetune == "models/vit_b_k710_dl_from_giant.pth"
    assert (model_args.lh_num_labels, model_args.rh_num_labels, model_args.drop_path_rate) == (75, 75, 0.3)
    assert (data_args.lh_data_root, data_args.num_sample, data_args.test_num_segment) == ("/data/lh_v0", 2, 5)
    assert data_args.data_set == "HAVID"  # named on the model card
    # the original's rates are per 256 clips of global batch (4 here): absolute once parsed, and only once
    assert (training_args.learning_rate, training_args.min_lr, training_args.warmup_lr) == (
        1e-3 / 64,
        1e-6 / 64,
        1e-8 / 64,
    )
    assert dataclasses.replace(training_args).learning_rate == 1e-3 / 64
    assert training_args.per_device_train_batch_size == 4 and training_args.num_train_epochs == 50
    assert (training_args.adam_beta1, training_args.adam_beta2, training_args.max_grad_norm) == (0.9, 0.999, 5.0)
    assert (training_args.save_ckpt_freq, training_args.log_dir, training_args.dataloader_num_workers) == (
        10,
        "out",
        8,
    )
    assert training_args.alternation_steps == 50 and training_args.layer_decay == 0.9
    assert training_args.ddp_find_unused_parameters is True and training_args.remove_unused_columns is False


def test_original_eval_resume_and_unknown_optimizer():
    assert translate_original_args(["--eval", "--resume", "ckpt"]) == [
        "--do_eval",
        "--do_predict",
        "True",
        "--do_train",
        "False",
        "--resume_from_checkpoint",
        "ckpt",
    ]
    # an original switch never swallows the flag after it
    assert translate_original_args(["--model_ema_force_cpu", "--lr", "1e-3"]) == ["--base_lr", "1e-3"]
    with pytest.raises(ValueError, match="--opt sgd: only adamw is supported"):
        translate_original_args(["--opt", "sgd"])


@pytest.mark.slow
def test_model_ema_is_saved_with_checkpoints_and_survives_a_resume(demo_data, tmp_path):
    ema = dict(model_ema="True", model_ema_decay=0.5, max_steps=6, save_strategy="steps", save_steps=3)
    run_havid.main(tiny_run_args(demo_data, tmp_path / "full", **ema))
    assert (tmp_path / "full" / "checkpoint-3" / "ema.safetensors").is_file()
    run_havid.main(
        tiny_run_args(
            demo_data, tmp_path / "resumed", resume_from_checkpoint=tmp_path / "full" / "checkpoint-3", **ema
        )
    )
    full, resumed = (load_file(tmp_path / run / "model_ema" / "model.safetensors") for run in ("full", "resumed"))
    for name in full:
        torch.testing.assert_close(resumed[name], full[name], rtol=0, atol=1e-6, msg=name)
    # the average lags the weights it follows
    weights = final_weights(tmp_path / "full")
    assert not torch.equal(full["lh_classifier.weight"], weights["lh_classifier.weight"])


def test_tensorboard_gets_per_hand_curves_in_the_originals_log_dir(demo_data, tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # --log_dir is handed to TensorBoard through the environment: restore it for the other tests
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))

    argv = tiny_run_args(
        demo_data,
        tmp_path / "out",
        report_to="tensorboard",
        log_dir=tmp_path / "tb",
        max_steps=4,
        logging_steps=2,
        do_eval="True",
    )
    run_havid.main(argv)
    tags = set()
    for events in (tmp_path / "tb").glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        tags |= set(accumulator.Tags()["scalars"])
    expected = {
        "train/lh_loss",
        "train/rh_loss",
        "train/lh_train_top1",
        "train/rh_train_top1",
        "train/active_hand",
        "train/learning_rate",
        "train/grad_norm",
        "eval/lh_top1",
        "eval/rh_mean_class_acc",
        "eval/mean_top1",
    }
    assert expected <= tags


def test_alternation_steps_longer_than_the_run_warn_that_a_hand_stays_untrained(demo_data, tmp_path, caplog):
    with caplog.at_level("WARNING"):
        run_havid.main(tiny_run_args(demo_data, tmp_path / "short", max_steps=2, alternation_steps=2))
        run_havid.main(tiny_run_args(demo_data, tmp_path / "long_enough", max_steps=3, alternation_steps=2))
    warnings = [message for message in caplog.messages if "stays untrained" in message]
    assert warnings == [
        "this run's 2 optimizer steps never reach a right hand phase (--alternation_steps 2, --alternation_strategy "
        "fixed): the right hand head stays untrained; lower --alternation_steps or train longer"
    ]


def test_prediction_lines_carry_the_clips_frame_range(tmp_path):
    clips = Dataset.from_dict(  # two clips of one untrimmed video and a whole video
        {"video": ["long.mp4", "long.mp4", "short.mp4"], "start": [0, 40, -1], "end": [39, 79, -1], "label": [0, 1, 1]}
    )
    output = SimpleNamespace(predictions=np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]]), label_ids=np.array([0, 1, 1]))
    config = SimpleNamespace(lh_id2label={0: "grasp", 1: "screw"})

    write_prediction_reports({"lh": output}, {"lh": clips}, config, str(tmp_path), top_k=1)

    lines = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert [(line["video"], line["start_frame"], line["end_frame"]) for line in lines] == [
        ("long.mp4", 0, 39),
        ("long.mp4", 40, 79),
        ("short.mp4", None, None),
    ]
    assert [line["top_k"] for line in lines] == [
        [{"label": "grasp", "score": 0.9}],
        [{"label": "screw", "score": 0.8}],
        [{"label": "screw", "score": 0.6}],
    ]

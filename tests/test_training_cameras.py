# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Training and evaluation over synchronised cameras: the alternation and its idle-head invariant, exact resume,
fused and per-camera metrics and reports, feature fusion recorded in the config, several single-camera models fused."""

import json

import pytest
import torch
from helpers.callbacks import HeadRecorder, heads_equal
from helpers.cli import tiny_run_args
from safetensors.torch import load_file
from transformers import AutoModel

from adhvit_hf.cli import run_havid
from adhvit_hf.modeling_adhvit import fuse_camera_scores


CAMERAS = ["0", "1", "2"]


def camera_args(data, output_dir, **overrides):
    return tiny_run_args(data, output_dir, cameras=CAMERAS, **overrides)


@pytest.mark.slow
def test_pooled_cameras_alternate_freeze_the_idle_head_and_resume_exactly(camera_demo_data, tmp_path):
    recorder = HeadRecorder()
    # 8 clips per hand in batches of 4: 4 optimizer steps per epoch, hands switching every 2
    run = dict(max_steps=6, save_strategy="steps", save_steps=3, weight_decay=0.1, mixup=0.8, smoothing=0.1)
    run_havid.main(camera_args(camera_demo_data, tmp_path / "full", **run), callbacks=[recorder])
    hands = [("lh", "rh")[(step // 2) % 2] for step in range(6)]
    for step in range(1, 6):
        idle = "rh" if hands[step] == "lh" else "lh"
        assert heads_equal(recorder.steps[step - 1][idle], recorder.steps[step][idle]), f"step {step}: {idle} moved"
        assert not heads_equal(recorder.steps[step - 1][hands[step]], recorder.steps[step][hands[step]])
    checkpoint = tmp_path / "full" / "checkpoint-3"
    run_havid.main(camera_args(camera_demo_data, tmp_path / "resumed", resume_from_checkpoint=checkpoint, **run))
    full, resumed = (load_file(tmp_path / name / "model.safetensors") for name in ("full", "resumed"))
    for name in full:
        torch.testing.assert_close(resumed[name], full[name], rtol=0, atol=1e-6, msg=name)


@pytest.mark.slow
def test_evaluation_scores_every_camera_and_reports_fused_and_per_camera(camera_demo_data, tmp_path):
    results = run_havid.main(camera_args(camera_demo_data, tmp_path, max_steps=2, do_eval="True", do_predict="True"))
    for prefix in ("eval", "test"):
        for hand in ("lh", "rh"):
            for metric in ("top1", "top5", "mean_class_acc"):
                assert 0.0 <= results[f"{prefix}_{hand}_{metric}"] <= 100.0
                assert all(0.0 <= results[f"{prefix}_{hand}_{metric}_camera_{c}"] <= 100.0 for c in CAMERAS)
    assert results["test_mean_top1"] == pytest.approx((results["test_lh_top1"] + results["test_rh_top1"]) / 2)
    fused = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert len(fused) == 6 and all("/{camera}/" in row["video"] for row in fused)
    for camera in CAMERAS:
        folder = tmp_path / "cameras" / camera
        rows = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
        lh = [row for row in rows if row["hand"] == "lh"]
        top1 = 100.0 * sum(row["top_k"][0]["label"] == row["label"] for row in lh) / len(lh)
        assert top1 == pytest.approx(results[f"test_lh_top1_camera_{camera}"])
        assert (folder / "confusion_rh.csv").is_file() and (folder / "confusion_rh.png").is_file()
    lh = [row for row in fused if row["hand"] == "lh"]
    assert 100.0 * sum(r["top_k"][0]["label"] == r["label"] for r in lh) / 3 == pytest.approx(results["test_lh_top1"])


@pytest.mark.slow
def test_feature_fusion_is_recorded_and_predicts_as_it_trained(camera_demo_data, tmp_path):
    recorder = HeadRecorder()
    argv = camera_args(
        camera_demo_data, tmp_path, max_steps=4, camera_training="feature_fusion", camera_feature_fusion="max"
    )
    run_havid.main(argv, callbacks=[recorder])
    assert heads_equal(recorder.steps[0]["rh"], recorder.steps[1]["rh"])  # steps 0-1 train lh
    assert json.loads((tmp_path / "config.json").read_text())["camera_feature_fusion"] == "max"
    model = AutoModel.from_pretrained(tmp_path).eval()
    pixels = torch.randn(2, 3, 2, 4, 3, 32, 32)  # 2 clips, 3 cameras, 2 views
    with torch.no_grad():
        scores = model.camera_scores(pixels)
        # the fused prediction: per view, the max over the cameras' pooled features through the head
        pooled = torch.stack([model(pixel_values=pixels[:, c].flatten(0, 1)).pooled_output for c in range(3)], 1)
        logits = model.lh_classifier(pooled.amax(1)).view(2, 2, -1)
        six_d = model(pixel_values=pixels.transpose(1, 2).flatten(0, 1)).lh_logits.view(2, 2, -1)
    torch.testing.assert_close(scores["lh"][:, 0], logits.softmax(-1).mean(1))
    torch.testing.assert_close(six_d, logits)
    camera_1 = model.lh_classifier(pooled[:, 1]).view(2, 2, -1).softmax(-1).mean(1)
    torch.testing.assert_close(scores["lh"][:, 2], camera_1)


def test_camera_fusions():
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 1.0]]]])  # 1 clip, 2 cameras, 1 view, 2 classes
    probabilities = logits.softmax(-1)[:, :, 0]
    mean = fuse_camera_scores(logits, "mean")
    torch.testing.assert_close(mean[0, 1:], probabilities[0])
    torch.testing.assert_close(mean[0, 0], probabilities[0].mean(0))
    # HA-ViD's combined view: the sum of the cameras' view-averaged logits, [2, 1]
    torch.testing.assert_close(fuse_camera_scores(logits, "logit_sum")[0, 0], torch.tensor([2.0, 1.0]).softmax(-1))
    with pytest.raises(ValueError, match="camera fusion must be one of"):
        fuse_camera_scores(logits, "median")


@pytest.mark.slow
def test_single_camera_models_evaluate_as_one_fused_model(camera_demo_data, tmp_path):
    models = []
    for camera in CAMERAS[:2]:
        output = tmp_path / f"camera_{camera}"
        run_havid.main(tiny_run_args(camera_demo_data, output, cameras=[camera], max_steps=2, seed=int(camera)))
        models.append(str(output))
    fused = {}
    for fusion in ("mean", "logit_sum"):
        argv = tiny_run_args(
            camera_demo_data,
            tmp_path / f"fused_{fusion}",
            cameras=CAMERAS[:2],
            camera_models=models,
            camera_fusion=fusion,
            do_train="False",
            do_predict="True",
        )
        fused[fusion] = run_havid.main(argv)
    # each camera is scored by its own model: camera 1's numbers are camera 1's model's on camera 1
    alone = run_havid.main(
        tiny_run_args(
            camera_demo_data,
            tmp_path / "alone",
            cameras=["1"],
            camera_models=models[1:],
            do_train="False",
            do_predict="True",
        )
    )
    assert fused["mean"]["test_rh_top1_camera_1"] == alone["test_rh_top1_camera_1"]
    assert {"test_lh_top1", "test_lh_top1_camera_0"} <= fused["logit_sum"].keys()
    with pytest.raises(ValueError, match="--camera_models gives 1 model"):
        run_havid.main(
            tiny_run_args(
                camera_demo_data, tmp_path / "bad", cameras=CAMERAS, camera_models=models[:1], do_train="False"
            )
        )

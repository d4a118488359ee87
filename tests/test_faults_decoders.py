# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""One decoder flag, `--backend`, on every command: a video the chosen backend cannot open is read by one that can
(said once) or refused up front in one line; evaluation videos are checked to their last frames before training."""

import json
import logging
import shutil

import numpy as np
import pytest
import torch
from helpers.cli import cli_error, tiny_run_args
from helpers.codecs import cut_video, smooth_frames, write_codec_video, write_faststart_h264
from helpers.models import save_tiny_model
from transformers import pipeline

from adhvit_hf.cli import extract_features, predict, run_havid
from adhvit_hf.data import decoding
from adhvit_hf.pipeline_adhvit import PIPELINE_TASK, DualHandVideoClassificationPipeline


@pytest.fixture(autouse=True)
def no_remembered_fallbacks():
    decoding._fallbacks.clear()
    yield
    decoding._fallbacks.clear()


def other_backend() -> str:
    """The backend that opens AV1 when decord cannot: auto's first after decord."""
    return "torchcodec" if decoding.backend_problem("torchcodec") is None else "pyav"


@pytest.fixture(scope="module")
def model_and_videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("decoders")
    save_tiny_model(root / "model")
    frames = smooth_frames(12, 32, 48)
    return (
        root,
        write_codec_video(root, "h264", frames, name="h264"),
        write_codec_video(root, "av1_mp4", frames, name="av1"),
    )


def classifier(root, **kwargs):
    return pipeline(
        PIPELINE_TASK,
        model=str(root / "model"),
        device="cpu",
        pipeline_class=DualHandVideoClassificationPipeline,
        **kwargs,
    )


def test_the_pipeline_takes_the_backend_and_every_backend_gives_the_same_scores(model_and_videos):
    root, h264, av1 = model_and_videos
    results = [classifier(root, backend=backend)(h264, top_k=3) for backend in ("decord", "pyav", other_backend())]
    assert results[0] == results[1] == results[2]
    refused = classifier(root)([av1], backend="decord")
    assert refused == [
        {
            "error": f"{av1}: --backend decord cannot open this av1 video, {other_backend()} can; "
            f"use --backend auto or --backend {other_backend()}"
        }
    ]
    assert "error" not in classifier(root)(av1)  # auto reads it
    with pytest.raises(
        ValueError, match=r"^backend must be one of \('auto', 'decord', 'pyav', 'torchcodec'\), got 'cv2'"
    ):
        classifier(root, backend="cv2")


def test_predict_backend_flag(model_and_videos, capsys):
    root, h264, av1 = model_and_videos
    argv = ["--model", str(root / "model"), "--device", "cpu", "--json"]
    assert predict.main([h264, av1, *argv, "--backend", "pyav"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [entry["video"] for entry in printed] == [h264, av1] and all("error" not in entry for entry in printed)
    assert predict.main([h264, av1, *argv, "--backend", "decord"]) == 1
    out, err = capsys.readouterr()
    assert f"error: {av1}: --backend decord cannot open this av1 video" in err
    with pytest.raises(SystemExit):
        predict.main([h264, *argv, "--backend", "opencv"])
    assert "argument --backend: backend must be one of ('auto', 'decord', 'pyav', 'torchcodec'), got 'opencv'" in (
        capsys.readouterr().err
    )


def test_an_unusable_backend_is_one_error_line(demo_data, tmp_path, capsys, monkeypatch):
    problems = {"torchcodec": "torchcodec is not installed (pip install 'adhvit-hf[torchcodec]')"}
    monkeypatch.setattr(decoding, "backend_problem", lambda name: problems.get(name))
    error = cli_error(run_havid.main, tiny_run_args(demo_data, tmp_path / "out", backend="torchcodec"), capsys)
    assert error == "error: --backend torchcodec: torchcodec is not installed (pip install 'adhvit-hf[torchcodec]')"


def test_the_old_decoder_flag_still_works_with_one_deprecation_line(demo_data, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        _, data_args, _ = run_havid.parse_args(tiny_run_args(demo_data, tmp_path / "out", decoder="pyav"))
    assert data_args.backend == "pyav"
    assert [m for m in caplog.messages if "--decoder" in m] == [
        "--decoder is deprecated; use --backend pyav (the flag of every command)"
    ]


@pytest.fixture()
def data(demo_data, tmp_path):
    return shutil.copytree(demo_data, tmp_path / "data")


def test_a_named_backend_that_cannot_open_training_videos_is_refused_before_training(data, tmp_path, capsys):
    """Before: training with decord replaced every AV1 clip by another clip, silently."""
    for name in ("train_0000", "train_0003"):
        (data / "videos" / f"{name}.mp4").unlink()
        write_codec_video(data / "videos", "av1_mp4", smooth_frames(8, 32, 32), name=name)
    error = cli_error(run_havid.main, tiny_run_args(data, tmp_path / "out", backend="decord"), capsys)
    assert error == (
        f"error: --backend decord cannot open the 2 av1 training video(s) (e.g. {data / 'videos' / 'train_0000.mp4'}) "
        f"that {other_backend()} can, and training would replace every such clip: use --backend auto or "
        f"--backend {other_backend()}"
    )


def test_auto_trains_on_videos_its_first_backend_cannot_open_without_replacing_them(
    data, tmp_path, monkeypatch, caplog
):
    av1 = write_codec_video(data / "videos", "av1_mp4", smooth_frames(8, 32, 32), name="train_0000.tmp")
    shutil.move(av1, data / "videos" / "train_0000.mp4")
    monkeypatch.setattr(decoding, "AUTO_ORDER", ("decord", "pyav"))
    with caplog.at_level(logging.WARNING, logger="adhvit_hf.data.decoding"):
        metrics = run_havid.main(tiny_run_args(data, tmp_path / "out"))
    assert metrics["unreadable_videos_replaced"] == 0
    video = data / "videos" / "train_0000.mp4"
    assert caplog.messages.count(f"{video}: decord cannot open this av1 video; decoding it with pyav") == 1


@pytest.mark.parametrize("backend", ["auto", "decord", "pyav"])
def test_an_evaluation_video_cut_short_is_caught_before_training(data, tmp_path, capsys, backend):
    """Before: the check opened the file and decoded its first frame, so a cut file failed an epoch later."""
    video = data / "videos" / "val_0001.mp4"
    whole = write_faststart_h264(tmp_path / "whole.mp4", smooth_frames(40, 32, 32))
    cut_video(whole, video, 0.6)
    error = cli_error(run_havid.main, tiny_run_args(data, tmp_path / "out", backend=backend, do_eval="True"), capsys)
    assert error.startswith(f"error: {video}: cannot ")
    assert error.endswith("(the file is damaged or not a supported video)")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_gpu_decoding_without_a_gpu_is_one_error_line(demo_data, tmp_path, capsys):
    argv = tiny_run_args(demo_data, tmp_path / "out", gpu_decoding="True", device_augmentation="True")
    assert (
        cli_error(run_havid.main, argv, capsys)
        == "error: --gpu_decoding decodes on the training GPU, but this run trains on cpu"
    )


def test_extract_backend_flag(model_and_videos, tmp_path, caplog):
    root, h264, av1 = model_and_videos
    argv = [
        "--model",
        str(root / "model"),
        "--output_dir",
        str(tmp_path / "out"),
        "--device",
        "cpu",
        "--num_workers",
        "0",
    ]
    with caplog.at_level(logging.ERROR):
        assert extract_features.main([*argv, "--videos", av1, "--backend", "decord"]) == 1
    assert f"failed: {av1}: --backend decord cannot open this av1 video, {other_backend()} can; " in caplog.text
    assert extract_features.main([*argv, "--videos", av1, "--backend", "pyav"]) == 0
    features = np.load(tmp_path / "out" / "shared_features" / "av1.npy")
    assert features.shape[1] == 12


@pytest.mark.skipif(
    decoding.backend_problem("torchcodec") is not None, reason=str(decoding.backend_problem("torchcodec"))
)
def test_the_pipeline_without_the_package_turns_rotated_videos_too(model_and_videos, tmp_path, monkeypatch):
    """Where only transformers is installed, the pipeline reads with transformers' torchcodec reader, which turns a
    rotated video as adhvit_hf's readers do (its PyAV reader would not)."""
    import sys

    root, _, _ = model_and_videos
    rotated = write_codec_video(tmp_path, "h264", smooth_frames(12, 32, 48), name="phone", rotation=90)
    with_package = classifier(root)(rotated, function_to_apply="none", top_k=5)
    monkeypatch.setitem(sys.modules, "adhvit_hf.data.decoding", None)  # `from adhvit_hf.data.decoding` fails
    without_package = classifier(root)(rotated, function_to_apply="none", top_k=5)
    for hand in ("left_hand", "right_hand"):
        assert [entry["label"] for entry in with_package[hand]] == [entry["label"] for entry in without_package[hand]]
        for ours, theirs in zip(with_package[hand], without_package[hand]):
            assert ours["score"] == pytest.approx(theirs["score"], abs=1e-5)

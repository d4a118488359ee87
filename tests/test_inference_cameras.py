# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Inference over synchronised cameras: the pipeline's dict input, `adhvit-predict --cameras`, and
`adhvit-extract --cameras` (fused outputs where a single video's go, each camera's under cameras/<camera>/)."""

import json

import numpy as np
import pytest
from helpers.cli import cli_error
from helpers.models import save_tiny_model
from helpers.videos import noise_frames, write_video
from transformers import pipeline

from adhvit_hf.cli.extract_features import main as extract_main
from adhvit_hf.cli.predict import main as predict_main
from adhvit_hf.pipeline_adhvit import PIPELINE_TASK, DualHandVideoClassificationPipeline
from adhvit_hf.utils import run_cli


CAMERAS = ["side", "front", "top"]


def assert_same_prediction(actual: dict, expected: dict, top_k: int | None = None):
    """Same hands, labels in the same order and scores within float tolerance (the first `top_k` of `expected`)."""
    assert actual.keys() == expected.keys()
    for hand in expected:
        wanted = expected[hand][:top_k]
        assert [e["label"] for e in actual[hand]] == [e["label"] for e in wanted]
        assert [e["score"] for e in actual[hand]] == pytest.approx([e["score"] for e in wanted], abs=1e-6)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A tiny model and one recording filmed by three cameras of different sizes (12 frames each)."""
    root = tmp_path_factory.mktemp("cameras")
    model, processor = save_tiny_model(root / "model")
    for index, (camera, width) in enumerate(zip(CAMERAS, (64, 48, 32))):
        write_video(root / "videos" / camera / "clip.mp4", noise_frames(12, width=width, seed=index))
    return root


def test_the_pipeline_answers_a_dict_of_cameras_fused_first(recording):
    classifier = pipeline(
        PIPELINE_TASK, model=str(recording / "model"), pipeline_class=DualHandVideoClassificationPipeline
    )
    videos = {camera: str(recording / "videos" / camera / "clip.mp4") for camera in CAMERAS}
    result = classifier(videos, top_k=4)
    assert list(result) == ["left_hand", "right_hand", "cameras"] and list(result["cameras"]) == CAMERAS
    alone = {camera: classifier(path, top_k=4) for camera, path in videos.items()}
    for camera in CAMERAS:  # each camera's scores are what the camera alone gives
        assert_same_prediction(result["cameras"][camera], alone[camera])
    for hand, labels in (("left_hand", 3), ("right_hand", 4)):
        mean = {
            label: np.mean([next(e["score"] for e in alone[c][hand] if e["label"] == label) for c in CAMERAS])
            for label in (entry["label"] for entry in result[hand])
        }
        assert [entry["score"] for entry in result[hand]] == pytest.approx(list(mean.values()))
        assert len(result[hand]) == min(4, labels)
    summed = classifier(videos, top_k=1, camera_fusion="logit_sum")
    for camera in CAMERAS:
        assert_same_prediction(summed["cameras"][camera], alone[camera], top_k=1)
    # a list of recordings, one with a missing camera file, in batches
    missing = {**videos, "top": str(recording / "videos" / "top" / "nope.mp4")}
    results = classifier([videos, missing], top_k=2, batch_size=2)
    single = classifier(videos, top_k=2)
    assert_same_prediction(
        {h: results[0][h] for h in ("left_hand", "right_hand")}, {h: single[h] for h in ("left_hand", "right_hand")}
    )
    assert results[1] == {"error": f"camera top: {missing['top']}: video file not found"}
    with pytest.raises(ValueError, match="A batch holds either single videos or dicts of the same cameras"):
        classifier([videos, videos["side"]], batch_size=2)
    assert classifier(videos["side"], top_k=2).keys() == {"left_hand", "right_hand"}  # a plain video is unchanged


def test_predict_with_cameras_prints_fused_and_each_camera(recording, capsys):
    template = str(recording / "videos" / "{camera}" / "clip.mp4")
    status = predict_main([template, "--model", str(recording / "model"), "--cameras", *CAMERAS, "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert status == 0 and printed[0]["video"] == template and list(printed[0]["cameras"]) == CAMERAS
    error = cli_error(
        predict_main, [template, "--model", str(recording / "model"), "--cameras", "side", "back"], capsys
    )
    assert error == f"error: {recording}/videos/back/clip.mp4: camera back's video not found"
    plain = str(recording / "videos" / "side" / "clip.mp4")
    error = cli_error(predict_main, [plain, "--model", str(recording / "model"), "--cameras", *CAMERAS], capsys)
    assert error.startswith(f"error: {plain}: --cameras side front top needs video paths with {{camera}}")


def test_extract_with_cameras_writes_fused_outputs_and_each_cameras(recording, tmp_path):
    out = tmp_path / "features"
    argv = [
        "--model",
        str(recording / "model"),
        "--videos",
        str(recording / "videos" / "{camera}"),
        "--output_dir",
        str(out),
    ]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(extract_main, [*argv, "--cameras", *CAMERAS, "--num_workers", "0", "--stride", "2"])
    assert exit_info.value.code == 0
    camera_features = {c: np.load(out / "cameras" / c / "shared_features" / "clip.npy") for c in CAMERAS}
    fused = np.load(out / "shared_features" / "clip.npy")
    assert fused.shape == camera_features["side"].shape == (32, 12)
    np.testing.assert_allclose(fused, np.mean(list(camera_features.values()), axis=0), rtol=1e-6, atol=1e-6)
    lh = {c: np.load(out / "cameras" / c / "lh_features" / "clip.npy") for c in CAMERAS}
    np.testing.assert_allclose(
        np.load(out / "lh_features" / "clip.npy"), np.mean(list(lh.values()), axis=0), atol=1e-6
    )
    timeline = json.loads((out / "timelines" / "clip.json").read_text())
    fused_labels = np.load(out / "lh_features" / "clip.npy").argmax(0)
    for camera in CAMERAS:
        expected = float(np.mean(lh[camera].argmax(0) == fused_labels))
        assert timeline["camera_agreement"][camera]["left_hand"] == pytest.approx(expected, abs=1e-4)
        assert (out / "cameras" / camera / "timelines" / "clip.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "timelines" / "clip.png").is_file()


def test_extract_refuses_cameras_of_different_lengths(recording, tmp_path):
    for camera, frames in (("a", 12), ("b", 6)):
        write_video(tmp_path / camera / "clip.mp4", noise_frames(frames))
    out = tmp_path / "out"
    argv = [
        "--model",
        str(recording / "model"),
        "--videos",
        str(tmp_path / "{camera}" / "clip.mp4"),
        "--output_dir",
        str(out),
    ]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(extract_main, [*argv, "--cameras", "a", "b", "--num_workers", "0"])
    assert exit_info.value.code == 1 and not (out / "shared_features").exists()

"""scripts/predict.py and scripts/extract_features.py end to end on a saved tiny model."""

import json
import logging

import numpy as np
import pytest
from transformers import pipeline

from adhvit_hf import add_remote_code
from adhvit_hf.inference import PIPELINE_TASK, DualHandVideoClassificationPipeline
from adhvit_hf.cli import extract_features, predict
from inference_helpers import noise_frames, save_tiny_model, two_hand_frames, write_video


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("scripts")
    save_tiny_model(root / "model")
    # A folder prepared for the Hub also carries the pipeline as remote code; the scripts must still use ours.
    add_remote_code(root / "model")
    videos = [
        write_video(root / "videos" / "first.mp4", noise_frames(12, seed=5)),
        write_video(root / "videos" / "second.mp4", two_hand_frames(9, 3, 6, size=32)),
    ]
    return root, videos


def local_pipeline(folder):
    return pipeline(
        PIPELINE_TASK, model=str(folder), device="cpu", pipeline_class=DualHandVideoClassificationPipeline,
        trust_remote_code=False,
    )


def test_predict_json_is_the_pipeline_output(saved, capsys):
    root, videos = saved
    assert predict.main([*videos, "--model", str(root / "model"), "--top_k", "2", "--json", "--device", "cpu"]) == 0

    printed = json.loads(capsys.readouterr().out)
    expected = local_pipeline(root / "model")(videos, top_k=2)
    assert printed == [{"video": video, **result} for video, result in zip(videos, expected)]


def test_predict_prints_a_table_per_video(saved, capsys):
    root, videos = saved
    assert predict.main([videos[0], "--model", str(root / "model"), "--top_k", "3", "--device", "cpu"]) == 0

    lines = capsys.readouterr().out.strip().splitlines()
    result = local_pipeline(root / "model")(videos[0], top_k=3)
    assert lines[0] == videos[0]
    assert lines[1].split() == ["rank", "left", "hand", "score", "right", "hand", "score"]
    assert len(lines) == 5
    for rank, line in enumerate(lines[2:]):
        lh, rh = result["left_hand"][rank], result["right_hand"][rank]
        assert line.split() == [str(rank + 1), lh["label"], f"{lh['score']:.4f}", rh["label"], f"{rh['score']:.4f}"]


def test_format_predictions_pads_the_shorter_hand():
    prediction = {
        "left_hand": [{"label": "grasp", "score": 0.75}],
        "right_hand": [{"label": "hold", "score": 0.5}, {"label": "insert_screw", "score": 0.25}],
    }

    assert predict.format_predictions("v.mp4", prediction).splitlines() == [
        "v.mp4",
        "rank  left hand     score   right hand    score",
        "1     grasp         0.7500  hold          0.5000",
        "2                           insert_screw  0.2500",
    ]


def test_extract_features_writes_every_output_and_skips_on_rerun(saved, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    root, videos = saved
    arguments = ["--model", str(root / "model"), "--videos", str(root / "videos"), "--out", str(tmp_path),
                 "--stride", "2", "--batch_size", "3", "--num_workers", "0", "--device", "cpu"]

    assert extract_features.main(arguments) == 0
    assert extract_features.main(arguments) == 0

    for name, num_frames in (("first", 12), ("second", 9)):
        assert np.load(tmp_path / "shared_features" / f"{name}.npy").shape == (32, num_frames)
        assert np.load(tmp_path / "lh_features" / f"{name}.npy").shape == (3, num_frames)
        assert np.load(tmp_path / "rh_features" / f"{name}.npy").shape == (4, num_frames)
        assert (tmp_path / "timelines" / f"{name}.json").is_file()
        assert (tmp_path / "timelines" / f"{name}.png").is_file()
    assert "2 videos written, 0 skipped (already done), 0 failed" in caplog.text
    assert "0 videos written, 2 skipped (already done), 0 failed" in caplog.text


def test_extract_features_exits_non_zero_when_a_video_fails(saved, tmp_path):
    root, videos = saved
    listing = tmp_path / "videos.txt"
    (tmp_path / "broken.mp4").write_bytes(b"")
    listing.write_text(f"{videos[1]}\nbroken.mp4\n")

    code = extract_features.main(
        ["--model", str(root / "model"), "--videos", str(listing), "--out", str(tmp_path / "out"), "--device", "cpu",
         "--num_workers", "0"]
    )

    assert code == 1
    assert (tmp_path / "out" / "shared_features" / "second.npy").is_file()
    assert not (tmp_path / "out" / "shared_features" / "broken.npy").exists()

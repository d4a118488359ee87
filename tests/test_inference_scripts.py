# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""adhvit-predict and adhvit-extract end to end on a saved tiny model, and what they say about bad input.

The row of docs/faults.md that a fault test covers is named in its docstring.
"""

import json
import logging

import numpy as np
import pytest
import torch
from helpers.cli import cli_error
from helpers.models import save_stock_videomae, save_tiny_model
from helpers.videos import noise_frames, write_video
from transformers import pipeline

from adhvit_hf.cli import extract_features, predict
from adhvit_hf.pipeline_adhvit import PIPELINE_TASK, DualHandVideoClassificationPipeline
from adhvit_hf.utils import run_cli


def local_pipeline(folder):
    return pipeline(
        PIPELINE_TASK,
        model=str(folder),
        device="cpu",
        pipeline_class=DualHandVideoClassificationPipeline,
        trust_remote_code=False,
    )


def test_predict_json_is_the_pipeline_output(saved, capsys):
    videos = [saved.videos["first"], saved.videos["second"]]
    assert predict.main([*videos, "--model", str(saved.hub_folder), "--top_k", "2", "--json", "--device", "cpu"]) == 0

    printed = json.loads(capsys.readouterr().out)
    expected = local_pipeline(saved.hub_folder)(videos, top_k=2)
    assert printed == [{"video": video, **result} for video, result in zip(videos, expected)]


def test_predict_prints_a_table_per_video(saved, capsys):
    videos = [saved.videos["first"], saved.videos["second"]]
    assert predict.main([videos[0], "--model", str(saved.hub_folder), "--top_k", "3", "--device", "cpu"]) == 0

    lines = capsys.readouterr().out.strip().splitlines()
    result = local_pipeline(saved.hub_folder)(videos[0], top_k=3)
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
    arguments = [
        "--model",
        str(saved.hub_folder),
        "--videos",
        str(saved.video_folder),
        "--output_dir",
        str(tmp_path),
        "--stride",
        "2",
        "--batch_size",
        "3",
        "--num_workers",
        "0",
        "--device",
        "cpu",
    ]

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
    videos = [saved.videos["first"], saved.videos["second"]]
    listing = tmp_path / "videos.txt"
    (tmp_path / "broken.mp4").write_bytes(b"")
    listing.write_text(f"{videos[1]}\nbroken.mp4\n")

    code = extract_features.main(
        [
            "--model",
            str(saved.hub_folder),
            "--videos",
            str(listing),
            "--output_dir",
            str(tmp_path / "out"),
            "--device",
            "cpu",
            "--num_workers",
            "0",
        ]
    )

    assert code == 1
    assert (tmp_path / "out" / "shared_features" / "second.npy").is_file()
    assert not (tmp_path / "out" / "shared_features" / "broken.npy").exists()


def predict_argv(model, *videos, extra=()):
    return [*map(str, videos), "--model", str(model), "--device", "cpu", *extra]


def extract_argv(model, videos, out, extra=()):
    return [
        "--model",
        str(model),
        "--videos",
        str(videos),
        "--output_dir",
        str(out),
        "--device",
        "cpu",
        "--num_workers",
        "0",
        *extra,
    ]


def both_clis(model, video, tmp_path):
    """(main, argv) of predict and of extract on one video."""
    return [(predict.main, predict_argv(model, video)), (extract_features.main, extract_argv(model, video, tmp_path))]


def test_another_architecture_is_refused_naming_its_model_type(saved, tmp_path, capsys):
    """Row: a stock VideoMAE folder with an adhvit preprocessor config (inference)."""
    videos = [saved.videos["first"], saved.videos["second"]]
    save_stock_videomae(tmp_path / "videomae")
    for main, argv in both_clis(tmp_path / "videomae", videos[0], tmp_path / "out"):
        assert cli_error(main, argv, capsys) == (
            f"error: {tmp_path / 'videomae' / 'config.json'}: model_type 'videomae' is not an ADH-ViT model "
            "(model_type 'adhvit'); loading it would run the dual-hand heads on random weights. Give a folder saved "
            "by adhvit-train, or convert a VideoMAE V2 checkpoint with adhvit-convert and fine-tune it first"
        )


def test_missing_or_unexpected_weights_are_refused_naming_the_tensors(saved, tmp_path, capsys):
    """Row: a model folder whose weights miss a tensor or hold an unknown one (inference)."""
    from safetensors.torch import load_file, save_file

    videos = [saved.videos["first"], saved.videos["second"]]
    folder = tmp_path / "damaged"
    save_tiny_model(folder)
    weights = load_file(folder / "model.safetensors")
    del weights["rh_classifier.bias"]
    weights["lh_classifier.extra"] = weights["lh_classifier.weight"].clone()
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    for main, argv in both_clis(folder, videos[0], tmp_path / "out"):
        assert cli_error(main, argv, capsys) == (
            f"error: {folder}: the weights do not match the model (1 tensor(s) missing from the weights, so random: "
            "rh_classifier.bias; 1 unexpected tensor(s) the model has no place for: lh_classifier.extra); this folder "
            "holds another or an incomplete model, and predictions from it would be wrong"
        )
    assert not (tmp_path / "out" / "shared_features").exists()


def test_check_model_on_an_already_loaded_model(saved, tmp_path):
    """The pipeline's `check_model` finds the fault in a model that `from_pretrained` loaded quietly."""
    from safetensors.torch import load_file, save_file

    from adhvit_hf import AdhVitForDualHandClassification
    from adhvit_hf.pipeline_adhvit import check_model

    check_model(AdhVitForDualHandClassification.from_pretrained(saved.hub_folder))
    folder = tmp_path / "damaged"
    save_tiny_model(folder)
    weights = load_file(folder / "model.safetensors")
    del weights["videomae.embeddings.patch_embeddings.projection.bias"]
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(
        ValueError,
        match=r"missing: videomae.embeddings.patch_embeddings.projection.bias; "
        r"unexpected: none",
    ):
        check_model(AdhVitForDualHandClassification.from_pretrained(folder))


def test_model_flag_errors_name_the_folder_or_file(saved, tmp_path, capsys):
    """Rows: --model that is no folder and no Hub id, a folder without config.json, a file, bad config JSON,
    unreadable weights, no preprocessor_config.json."""
    videos = [saved.videos["first"], saved.videos["second"]]
    (tmp_path / "run" / "checkpoint-10").mkdir(parents=True)
    broken = tmp_path / "broken"
    save_tiny_model(broken)
    (broken / "config.json").write_text('{"model_type": "adhvit",\n "hidden_size": }')
    truncated = tmp_path / "truncated"
    save_tiny_model(truncated)
    data = (truncated / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(data[: len(data) // 2])
    no_processor = tmp_path / "no_processor"
    save_tiny_model(no_processor)
    (no_processor / "preprocessor_config.json").unlink()
    cases = {
        tmp_path / "nowhere" / "model": "no such folder (and not a Hub repo id of the form owner/name)",
        tmp_path / "run": "no config.json in this folder, so it is not a saved model; its checkpoint folders "
        "(checkpoint-10) hold models",
        saved.hub_folder / "config.json": "is a file; give the model folder (the one holding config.json)",
    }
    for folder, message in cases.items():
        for main, argv in both_clis(folder, videos[0], tmp_path / "out"):
            assert cli_error(main, argv, capsys) == f"error: --model {folder}: {message}"
    for main, argv in both_clis(broken, videos[0], tmp_path / "out"):
        assert cli_error(main, argv, capsys) == (
            f"error: {broken / 'config.json'}: not valid JSON (Expecting value: line 2 column 17 (char 41))"
        )
    for main, argv in both_clis(truncated, videos[0], tmp_path / "out"):
        assert cli_error(main, argv, capsys).startswith(f"error: --model {truncated}: cannot read the model weights (")
    for main, argv in both_clis(no_processor, videos[0], tmp_path / "out"):
        assert cli_error(main, argv, capsys).startswith(
            f"error: --model {no_processor}: no preprocessor_config.json (the video processor saved with the model"
        )


@pytest.mark.parametrize(
    "device, message",
    [
        ("gpu", "--device 'gpu': not a torch device; use cpu, cuda, cuda:N or mps"),
        ("meta", "--device meta: unsupported device type 'meta'; use cpu, cuda or mps"),
        pytest.param(
            "cuda",
            "--device cuda: no CUDA GPU is available on this machine; use --device cpu",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"),
        ),
    ],
)
def test_device_flag_errors(saved, tmp_path, capsys, device, message):
    """Row: --device that is not a device, or a GPU on a machine without one."""
    videos = [saved.videos["first"], saved.videos["second"]]
    for main, argv in both_clis(saved.hub_folder, videos[0], tmp_path / "out"):
        assert cli_error(main, [*argv, "--device", device], capsys) == f"error: {message}"


@pytest.mark.parametrize(
    "main, flag, value",
    [
        (predict.main, "--top_k", "0"),
        (predict.main, "--batch_size", "-1"),
        (predict.main, "--test_num_segment", "0"),
        (predict.main, "--test_num_crop", "0"),
        (predict.main, "--test_num_crop", "two"),
        (extract_features.main, "--stride", "0"),
        (extract_features.main, "--batch_size", "0"),
        (extract_features.main, "--num_workers", "-1"),
    ],
)
def test_zero_or_negative_numbers_are_refused_not_read_as_default(tmp_path, capsys, main, flag, value):
    """Row: 0 or a negative number for a numeric flag of predict or extract (0 once meant "default")."""
    argv = predict_argv(tmp_path, "v.mp4") if main is predict.main else extract_argv(tmp_path, "v.mp4", tmp_path)
    what = "an integer >= 0" if flag == "--num_workers" else "a positive integer"
    shown = repr(value) if value == "two" else value
    message = cli_error(main, [*argv, flag, value], capsys)
    assert message.endswith(f"error: argument {flag}: must be {what}, got {shown}")


def test_extract_takes_one_video_file(saved, tmp_path):
    """Row: adhvit-extract --videos with a single video."""
    videos = [saved.videos["first"], saved.videos["second"]]
    assert extract_features.main(extract_argv(saved.hub_folder, videos[1], tmp_path)) == 0
    assert np.load(tmp_path / "lh_features" / "second.npy").shape == (3, 9)
    assert sorted(p.name for p in (tmp_path / "lh_features").iterdir()) == ["second.npy"]


def test_directories_and_urls_given_as_videos(saved, tmp_path, capsys):
    """Rows: a directory given as a video; a URL given as a video."""
    videos = [saved.videos["first"], saved.videos["second"]]
    folder = saved.video_folder
    assert cli_error(predict.main, predict_argv(saved.hub_folder, videos[0], folder), capsys) == (
        f"error: {folder}: is a directory, not a video (adhvit-extract --videos takes a folder of videos)"
    )
    url = "https://example.com/v.mp4"
    assert cli_error(predict.main, predict_argv(saved.hub_folder, url), capsys) == (
        f"error: {url}: URLs are not supported here; download the video and give its path"
    )
    assert cli_error(extract_features.main, extract_argv(saved.hub_folder, url, tmp_path), capsys) == (
        f"error: {url}: URLs are not supported for --videos; download the video and give its path"
    )
    listing = tmp_path / "list.txt"
    listing.write_text(f"{videos[0]}\n{folder}\n")
    assert cli_error(extract_features.main, extract_argv(saved.hub_folder, listing, tmp_path), capsys) == (
        f"error: {listing}:2: {folder}: is a directory, not a video (adhvit-extract --videos takes a folder of videos)"
    )


def test_out_that_is_a_file_is_refused_before_loading(saved, tmp_path, capsys):
    """Row: adhvit-extract --output_dir that is a file."""
    videos = [saved.videos["first"], saved.videos["second"]]
    (tmp_path / "out").write_text("")
    assert cli_error(extract_features.main, extract_argv(saved.hub_folder, videos[0], tmp_path / "out"), capsys) == (
        f"error: --output_dir {tmp_path / 'out'}: is a file; give a folder for the outputs"
    )


def test_predict_reports_an_undecodable_video_and_prints_the_others(saved, tmp_path, capsys):
    """Row: predict on a list with a video that cannot be decoded."""
    videos = [saved.videos["first"], saved.videos["second"]]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 50)
    argv = predict_argv(saved.hub_folder, videos[0], broken, videos[1], extra=["--batch_size", "2", "--json"])
    with pytest.raises(SystemExit) as exit_info:
        run_cli(predict.main, argv)
    assert exit_info.value.code == 1
    out, err = capsys.readouterr()
    printed = json.loads(out)
    # The broken video fails when it is opened, so the two others still make one batch.
    expected = local_pipeline(saved.hub_folder)(videos, top_k=5, batch_size=2)
    assert [entry["video"] for entry in printed] == [videos[0], str(broken), videos[1]]
    assert printed[0] == {"video": videos[0], **expected[0]} and printed[2] == {"video": videos[1], **expected[1]}
    assert printed[1]["error"].startswith(f"{broken}: cannot open video")
    assert [line for line in err.splitlines() if line.startswith("error: ")] == [f"error: {printed[1]['error']}"]
    assert "Traceback" not in err


def test_predict_isolates_a_video_that_fails_mid_batch(saved, monkeypatch, capsys):
    """A video that opens but fails while its frames are decoded costs only its own result."""
    from adhvit_hf import pipeline_adhvit
    from adhvit_hf.data.decoding import VideoDecodeError

    videos = [saved.videos["first"], saved.videos["second"]]
    real = pipeline_adhvit.read_view_frames

    def failing(video, processor, backend="auto"):
        if video == videos[1]:
            raise VideoDecodeError(f"{video}: cannot decode frames (damaged)")
        return real(video, processor, backend)

    monkeypatch.setattr(pipeline_adhvit, "read_view_frames", failing)
    assert predict.main(predict_argv(saved.hub_folder, videos[1], videos[0], extra=["--batch_size", "2"])) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == videos[0]
    assert f"error: {videos[1]}: cannot decode frames (damaged)" in err.splitlines()


def test_extract_reports_a_decode_error_from_a_worker_in_one_line(saved, tmp_path, monkeypatch, caplog):
    """Row: a video that fails while a DataLoader worker decodes it: skipped and listed, others go on."""
    import os

    from adhvit_hf.data.decoding import VideoDecodeError
    from adhvit_hf.inference import features

    videos = [saved.videos["first"], saved.videos["second"]]
    real, main_pid = features.open_video, os.getpid()

    def failing_in_workers(path, backend="auto"):
        if os.getpid() != main_pid and path.endswith("first.mp4"):
            raise VideoDecodeError(f"{path}: cannot decode frames (damaged)")
        return real(path, backend=backend)

    monkeypatch.setattr(features, "open_video", failing_in_workers)
    caplog.set_level(logging.INFO)
    argv = extract_argv(saved.hub_folder, saved.video_folder, tmp_path, extra=["--num_workers", "1"])
    assert extract_features.main(argv) == 1
    assert sorted(p.name for p in (tmp_path / "lh_features").iterdir()) == ["second.npy"]
    assert f"failed: {videos[0]}: cannot decode frames (damaged)" in caplog.messages
    assert "Traceback" not in caplog.text


def test_short_video_predict_and_extract_use_evaluation_frames_and_warn(saved, tmp_path, caplog):
    """Row: a video shorter than one window (predict and extract take the same frames, and say so)."""
    from adhvit_hf.inference.windows import window_frame_indices
    from adhvit_hf.processing_adhvit import AdhVitVideoProcessor

    processor = AdhVitVideoProcessor(num_frames=4, sampling_rate=4, test_num_segment=1)
    assert window_frame_indices(3, 4, 4, stride=1).tolist() == processor.view_frame_indices(3).tolist() == [[0] * 4]
    video = write_video(tmp_path / "short.mp4", noise_frames(2))
    caplog.set_level(logging.WARNING)
    message = (
        f"{video}: 2 frame(s), shorter than one window (4 frames every 2: 7 frames); frames 0, 2, 4, ... are used and "
        "the last of them is repeated to fill the window"
    )
    assert predict.main(predict_argv(saved.hub_folder, video)) == 0
    assert extract_features.main(extract_argv(saved.hub_folder, video, tmp_path / "out")) == 0
    assert [m for m in caplog.messages if "shorter than one window" in m] == [message, message]


def test_predict_on_a_long_video_points_to_extract(saved, tmp_path, caplog):
    """Row: predict on a video much longer than its views cover."""
    video = write_video(tmp_path / "long.mp4", noise_frames(40))
    caplog.set_level(logging.WARNING)
    assert predict.main(predict_argv(saved.hub_folder, video, extra=["--test_num_segment", "1"])) == 0
    assert caplog.messages == [
        f"{video}: its 1 views cover 7 of its 40 frames and give one label per hand for the whole video; for what "
        "each hand does over time, adhvit-extract writes a per-frame timeline"
    ]


@pytest.mark.parametrize("module, prog", [(predict, "adhvit-predict"), (extract_features, "adhvit-extract")])
def test_help_shows_the_typed_program_name_and_every_default(module, prog, monkeypatch, capsys):
    """Row: --help of predict and extract (program name, help and default of every flag)."""
    monkeypatch.setattr("sys.argv", [f"/usr/local/bin/{prog}"])
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: {prog} ")
    assert "python scripts/" not in text
    flat = " ".join(text.split())
    for action in module.build_parser()._actions:
        assert action.help, action.option_strings
        if action.default is not None and action.default != "==SUPPRESS==" and not action.required:
            assert f"(default: {action.default})" in flat, action.option_strings

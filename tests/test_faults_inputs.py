# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Bad input end to end: one `error: ...` line naming the file, line or field, or skip-and-count in training.

The row of docs/faults.md that each test covers is named in its docstring.
"""

import json
import logging
import shutil

import pytest
import torch
from helpers.cli import cli_error, tiny_run_args
from helpers.videos import write_index_video

from adhvit_hf.cli import run_havid
from adhvit_hf.data.collate import ClipCollator
from adhvit_hf.data.transforms import VideoTransform
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor
from adhvit_hf.training.alternating_data import AlternatingClipDataset
from adhvit_hf.utils import run_cli


@pytest.fixture
def data(demo_data, tmp_path):
    """A private copy of the demo data that a test may break."""
    return shutil.copytree(demo_data, tmp_path / "data")


def append_line(list_path, line: str | bytes) -> str:
    with open(list_path, "ab") as handle:
        handle.write(line if isinstance(line, bytes) else line.encode() + b"\n")
    return str(list_path)


def count_lines(list_path) -> int:
    with open(list_path, "rb") as handle:
        return sum(1 for _ in handle)


@pytest.mark.parametrize(
    "line, message",
    [
        (
            "../videos/train_0000.mp4",
            "expected 'path label' or 'path start_frame end_frame label', got '../videos/train_0000.mp4'",
        ),
        ("../videos/train_0000.mp4 two", "label must be an integer, got 'two'"),
        ("../videos/train_0000.mp4 -1", "label -1 is out of range for 6 classes"),
        ("../videos/train_0000.mp4 6", "label 6 is out of range for 6 classes"),
        ("../videos/train_0000.mp4 9 3 1", "start_frame 9 > end_frame 3"),
        (b"../videos/caf\xe9.mp4 1\n", "not UTF-8 text (byte 0xe9 at column 14)"),
    ],
)
def test_bad_list_line_is_one_error_naming_file_and_line(data, tmp_path, capsys, line, message):
    """Rows: list lines (too few columns, non-integer, negative, too large, start > end, non-UTF-8)."""
    list_path = data / "lh" / "train_list_video.txt"
    number = count_lines(list_path) + 1
    append_line(list_path, line)
    assert (
        cli_error(run_havid.main, tiny_run_args(data, tmp_path / "out"), capsys)
        == f"error: {list_path}:{number}: {message}"
    )


def test_extra_columns_are_part_of_the_path(data, tmp_path, capsys):
    """Row: too many columns (columns are taken from the right, so the rest is a path with spaces)."""
    list_path = data / "lh" / "train_list_video.txt"
    number = count_lines(list_path) + 1
    append_line(list_path, "../videos/train_0000.mp4 extra 1")
    video = data / "videos" / "train_0000.mp4 extra"
    assert cli_error(run_havid.main, tiny_run_args(data, tmp_path / "out"), capsys) == (
        f"error: {list_path}: 1 video(s) not found: {video} ({list_path}:{number}). "
        "Check --*_data_root or pass --skip_missing to drop them."
    )


def test_blank_and_comment_lines_are_skipped(data, tmp_path):
    """Row: blank and comment lines."""
    for hand in ("lh", "rh"):
        list_path = data / hand / "train_list_video.txt"
        text = list_path.read_text()
        list_path.write_text("# a comment\n\n   \n" + text.replace("\n", "\n\n", 3) + "# end\n")
    results = run_havid.main(tiny_run_args(data, tmp_path / "out", max_steps=1))
    assert results["epoch"] > 0


def test_missing_list_and_missing_video(data, tmp_path, capsys):
    """Rows: missing list file, missing video file."""
    assert cli_error(
        run_havid.main, tiny_run_args(data, tmp_path / "out", lh_data_path=tmp_path / "nowhere"), capsys
    ) == (f"error: {tmp_path / 'nowhere' / 'train_list_video.txt'}: clip list not found")
    (data / "videos" / "val_0001.mp4").unlink()
    assert cli_error(run_havid.main, tiny_run_args(data, tmp_path / "out"), capsys).startswith(
        f"error: {data / 'lh' / 'val_list_video.txt'}: 1 video(s) not found: {data / 'videos' / 'val_0001.mp4'} ("
    )
    results = run_havid.main(tiny_run_args(data, tmp_path / "out", skip_missing=None, max_steps=1))
    assert results["epoch"] > 0


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("alternation_steps", 0, "--alternation_steps must be a positive number of optimizer steps, got 0"),
        ("alternation_steps", -3, "--alternation_steps must be a positive number of optimizer steps, got -3"),
        ("num_frames", 5, "num_frames (5) must be a multiple of tubelet_size (2)."),
        ("input_size", 40, "image_size 40 must be a multiple of patch_size 16."),
    ],
)
def test_bad_config_values_name_the_field(data, tmp_path, capsys, flag, value, message):
    """Rows: alternation_steps <= 0, num_frames % tubelet_size, image_size % patch_size."""
    argv = tiny_run_args(data, tmp_path / "out", short_side_size=48, **{flag: value})
    assert cli_error(run_havid.main, argv, capsys) == f"error: {message}"


@pytest.mark.slow
def test_unreadable_training_videos_are_replaced_and_counted(data, tmp_path, caplog):
    """Rows: 0-byte, truncated and non-video .mp4 during training (skipped, replaced, counted)."""
    videos = data / "videos"
    (videos / "train_0001.mp4").write_bytes(b"")
    (videos / "train_0002.mp4").write_bytes((videos / "train_0002.mp4").read_bytes()[:300])
    (videos / "train_0003.mp4").write_bytes(b"<html>not a video</html>" * 20)
    with caplog.at_level(logging.WARNING):
        results = run_havid.main(tiny_run_args(data, tmp_path / "out"))
    replaced = [m for m in caplog.messages if m.startswith("unreadable video replaced by another clip: ")]
    assert sorted({m.split(": ")[1] for m in replaced}) == [str(videos / f"train_000{i}.mp4") for i in (1, 2, 3)]
    # Every skip is counted: each hand's list reads the three videos once per epoch, and a replacement
    # drawn at random may be broken too.
    assert results["unreadable_videos_replaced"] == len(replaced) >= 6
    saved = json.loads((tmp_path / "out" / "train_results.json").read_text())
    assert saved["unreadable_videos_replaced"] == len(replaced)
    # and the epoch ends with one summary line
    summary = [m for m in caplog.messages if "clips came from unreadable videos and were replaced" in m]
    assert summary == [
        f"epoch 1: {len(replaced)} clips came from unreadable videos and were replaced by other clips (3 videos: "
        + ", ".join(str(videos / f"train_000{i}.mp4") for i in (1, 2, 3))
        + ")"
    ]


def test_unreadable_evaluation_video_is_an_error_naming_it(data, tmp_path, capsys):
    """Row: 0-byte / truncated / non-video .mp4 during evaluation (error naming the file)."""
    video = data / "videos" / "val_0002.mp4"
    video.write_bytes(b"")
    argv = tiny_run_args(data, tmp_path / "out", do_train="False", do_eval="True")
    assert cli_error(run_havid.main, argv, capsys) == f"error: {video}: video file is empty (0 bytes)"


def processor():
    return AdhVitVideoProcessor(
        num_frames=4, sampling_rate=2, test_num_segment=2, test_num_crop=1, short_side_size=32, crop_size=32
    )


def test_short_videos_and_mixed_resolutions_make_one_batch(tmp_path):
    """Rows: videos shorter than requested; different resolutions in one batch."""
    rows = {
        "video": [
            write_index_video(tmp_path / "short.mp4", num_frames=3, height=32, width=32),
            write_index_video(tmp_path / "wide.mp4", num_frames=16, height=36, width=64),
            write_index_video(tmp_path / "tall.mp4", num_frames=16, height=80, width=48),
        ],
        "start": [-1] * 3,
        "end": [-1] * 3,
        "label": [0, 1, 2],
        "hand": ["lh"] * 3,
    }
    clips = _ListDataset(rows)
    dataset = AlternatingClipDataset({"lh": clips, "rh": clips}, VideoTransform(processor(), train=True))
    batch = ClipCollator({"lh": 3, "rh": 3})([dataset[("lh", i, 7)] for i in range(3)])
    assert batch["pixel_values"].shape == (3, 4, 3, 32, 32)
    assert batch["lh_labels"].tolist() == [0, 1, 2]

    views = VideoTransform(processor(), train=False)(rows)["pixel_values"]
    assert [tuple(v.shape) for v in views] == [(2, 4, 3, 32, 32)] * 3
    assert torch.stack(views).shape == (3, 2, 4, 3, 32, 32)


class _ListDataset:
    """The rows of a column dict, indexable like a `datasets.Dataset`."""

    def __init__(self, columns: dict):
        self.columns = columns

    def __len__(self):
        return len(self.columns["video"])

    def __getitem__(self, index):
        return {name: values[index] for name, values in self.columns.items()}


def test_traceback_on_request(data, tmp_path, monkeypatch):
    """The one-line error hides the traceback; ADHVIT_TRACEBACK=1 shows it (for bug reports)."""
    monkeypatch.setenv("ADHVIT_TRACEBACK", "1")
    with pytest.raises(ValueError, match=r"^--alternation_steps must be a positive number of optimizer steps, got 0$"):
        run_cli(run_havid.main, tiny_run_args(data, tmp_path / "out", alternation_steps=0))


def test_labels_txt_that_does_not_match_the_class_count_names_the_ids(data, tmp_path, capsys):
    """Row: labels.txt with fewer ids than --lh_num_classes, through the training command line."""
    labels = data / "lh" / "labels.txt"
    labels.write_text("".join(line + "\n" for line in labels.read_text().splitlines()[:4]))
    assert cli_error(run_havid.main, tiny_run_args(data, tmp_path / "out"), capsys) == (
        f"error: {labels}: 4 label name(s) for 6 classes: missing ids 4, 5"
    )

import logging
import os

import pytest

from adhvit_hf.data.clip_list import ClipListError, ClipRecord, read_clip_list, read_label_names
from adhvit_hf.data.datasets import load_hand_splits


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return str(path)


@pytest.fixture
def hand_dir(tmp_path):
    """A hand folder with three (empty) videos: two beside the lists, one under videos/, one with a space."""
    for name in ("a.mp4", "my clip.mp4", "videos/b.mp4"):
        write(tmp_path / "lh" / name, "")
    return tmp_path / "lh"


def test_reads_both_line_formats_spaces_comments_and_resolution(hand_dir):
    list_path = write(hand_dir / "train_list_video.txt", "# header\n\na.mp4 1\nmy clip.mp4 3 9 2\n  b.mp4 0  \n")
    records = read_clip_list(list_path, None, num_classes=3, hand="lh")
    assert list(records) == [
        ClipRecord(str(hand_dir / "a.mp4"), None, None, 1, "lh", f"{list_path}:3"),
        ClipRecord(str(hand_dir / "my clip.mp4"), 3, 9, 2, "lh", f"{list_path}:4"),
        ClipRecord(str(hand_dir / "videos" / "b.mp4"), None, None, 0, "lh", f"{list_path}:5"),
    ]
    assert records.num_skipped_missing == 0


def test_data_root_takes_precedence(tmp_path, hand_dir):
    write(tmp_path / "root" / "a.mp4", "")
    list_path = write(hand_dir / "train_list_video.txt", "a.mp4 0\n")
    [record] = read_clip_list(list_path, str(tmp_path / "root"), num_classes=1, hand="rh")
    assert record.video == str(tmp_path / "root" / "a.mp4")
    assert record.hand == "rh"


@pytest.mark.parametrize(
    "line, message",
    [
        ("a.mp4", "expected 'path label' or 'path start_frame end_frame label', got 'a.mp4'"),
        ("a.mp4 x", "label must be an integer, got 'x'"),
        ("a.mp4 1.5", "label must be an integer, got '1.5'"),
        ("a.mp4 3", "label 3 is out of range for 3 classes"),
        ("a.mp4 -1", "label -1 is out of range for 3 classes"),
        ("a.mp4 9 4 1", "start_frame 9 > end_frame 4"),
        ("a.mp4 -2 4 1", "start_frame must be >= 0, got -2"),
    ],
)
def test_bad_lines_name_file_and_line(hand_dir, line, message):
    list_path = write(hand_dir / "train_list_video.txt", f"a.mp4 0\n{line}\n")
    with pytest.raises(ClipListError) as error:
        read_clip_list(list_path, None, num_classes=3, hand="lh")
    assert str(error.value) == f"{list_path}:2: {message}"


def test_empty_list(hand_dir):
    list_path = write(hand_dir / "val_list_video.txt", "# nothing\n\n")
    with pytest.raises(ClipListError, match=r"val_list_video.txt: the clip list has no usable clips$"):
        read_clip_list(list_path, None, num_classes=3, hand="lh")


def test_missing_list_file(hand_dir):
    with pytest.raises(ClipListError, match=r"nope.txt: clip list not found"):
        read_clip_list(str(hand_dir / "nope.txt"), None, num_classes=3, hand="lh")


def test_missing_videos_are_counted_and_the_first_five_listed(hand_dir):
    lines = "a.mp4 0\n" + "".join(f"gone{i}.mp4 0\n" for i in range(7))
    list_path = write(hand_dir / "train_list_video.txt", lines)
    with pytest.raises(ClipListError) as error:
        read_clip_list(list_path, None, num_classes=1, hand="lh")
    message = str(error.value)
    assert message.startswith(f"{list_path}: 7 video(s) not found: {hand_dir / 'gone0.mp4'} ({list_path}:2), ")
    assert f"gone4.mp4 ({list_path}:6) and 2 more." in message
    assert "gone5.mp4" not in message
    assert message.endswith("Check --*_data_root or pass --skip_missing to drop them.")


def test_skip_missing_drops_and_counts(hand_dir, caplog):
    list_path = write(hand_dir / "train_list_video.txt", "a.mp4 0\ngone.mp4 0\ngone2.mp4 0\n")
    with caplog.at_level(logging.WARNING):
        records = read_clip_list(list_path, None, num_classes=1, hand="lh", skip_missing=True)
    assert [r.video for r in records] == [str(hand_dir / "a.mp4")]
    assert records.num_skipped_missing == 2
    assert f"{list_path}: skipped 2 missing video(s) (--skip_missing)" in caplog.text


def test_skip_missing_with_nothing_left_is_an_empty_list(hand_dir):
    list_path = write(hand_dir / "train_list_video.txt", "gone.mp4 0\n")
    with pytest.raises(ClipListError, match="has no usable clips"):
        read_clip_list(list_path, None, num_classes=1, hand="lh", skip_missing=True)


def test_label_names(hand_dir):
    assert read_label_names(str(hand_dir)) is None
    write(hand_dir / "labels.txt", "0 pick up\n# c\n1 screw\n")
    assert read_label_names(str(hand_dir)) == {0: "pick up", 1: "screw"}
    path = write(hand_dir / "labels.txt", "0 a\nx b\n")
    with pytest.raises(ClipListError, match=f"^{path}:2: label id must be an integer, got 'x'$"):
        read_label_names(str(hand_dir))
    write(hand_dir / "labels.txt", "0 a\n0 b\n")
    with pytest.raises(ClipListError, match=f"^{path}:2: label id 0 appears twice$"):
        read_label_names(str(hand_dir))


def test_load_hand_splits_columns_and_test_fallback(hand_dir):
    write(hand_dir / "train_list_video.txt", "a.mp4 1\nmy clip.mp4 3 9 0\n")
    write(hand_dir / "val_list_video.txt", "b.mp4 1\n")
    splits = load_hand_splits(str(hand_dir), "rh", num_classes=2)
    assert list(splits) == ["train", "validation", "test"]
    assert splits["train"].to_dict() == {
        "video": [str(hand_dir / "a.mp4"), str(hand_dir / "my clip.mp4")],
        "start": [-1, 3],
        "end": [-1, 9],
        "label": [1, 0],
        "hand": ["rh", "rh"],
    }
    assert splits["test"].to_dict() == splits["validation"].to_dict()
    assert splits.num_skipped_missing == {"train": 0, "validation": 0, "test": 0}
    write(hand_dir / "test_list_video.txt", "a.mp4 0\ngone.mp4 1\n")
    splits = load_hand_splits(str(hand_dir), "rh", num_classes=2, skip_missing=True)
    assert splits["test"]["video"] == [str(hand_dir / "a.mp4")]
    assert splits.num_skipped_missing == {"train": 0, "validation": 0, "test": 1}

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import logging
import os

import pytest
from helpers.videos import write_index_video

from adhvit_hf.data.clip_list import ClipListError, ClipRecord, read_clip_list, read_label_names
from adhvit_hf.data.hand_splits import load_hand_splits


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
    records = read_clip_list(list_path, None, num_labels=3, hand="lh")
    assert list(records) == [
        ClipRecord(str(hand_dir / "a.mp4"), None, None, 1, "lh", f"{list_path}:3"),
        ClipRecord(str(hand_dir / "my clip.mp4"), 3, 9, 2, "lh", f"{list_path}:4"),
        ClipRecord(str(hand_dir / "videos" / "b.mp4"), None, None, 0, "lh", f"{list_path}:5"),
    ]
    assert records.num_skipped_missing == 0


def test_data_root_takes_precedence(tmp_path, hand_dir):
    write(tmp_path / "root" / "a.mp4", "")
    list_path = write(hand_dir / "train_list_video.txt", "a.mp4 0\n")
    [record] = read_clip_list(list_path, str(tmp_path / "root"), num_labels=1, hand="rh")
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
        read_clip_list(list_path, None, num_labels=3, hand="lh")
    assert str(error.value) == f"{list_path}:2: {message}"


def test_empty_list(hand_dir):
    list_path = write(hand_dir / "val_list_video.txt", "# nothing\n\n")
    with pytest.raises(ClipListError, match=r"val_list_video.txt: the clip list has no usable clips$"):
        read_clip_list(list_path, None, num_labels=3, hand="lh")


def test_missing_list_file(hand_dir):
    with pytest.raises(ClipListError, match=r"nope.txt: clip list not found"):
        read_clip_list(str(hand_dir / "nope.txt"), None, num_labels=3, hand="lh")


def test_missing_videos_are_counted_and_the_first_five_listed(hand_dir):
    lines = "a.mp4 0\n" + "".join(f"gone{i}.mp4 0\n" for i in range(7))
    list_path = write(hand_dir / "train_list_video.txt", lines)
    with pytest.raises(ClipListError) as error:
        read_clip_list(list_path, None, num_labels=1, hand="lh")
    message = str(error.value)
    assert message.startswith(f"{list_path}: 7 video(s) not found: {hand_dir / 'gone0.mp4'} ({list_path}:2), ")
    assert f"gone4.mp4 ({list_path}:6) and 2 more." in message
    assert "gone5.mp4" not in message
    assert message.endswith("Check --*_data_root or pass --skip_missing to drop them.")


def test_skip_missing_drops_and_counts(hand_dir, caplog):
    list_path = write(hand_dir / "train_list_video.txt", "a.mp4 0\ngone.mp4 0\ngone2.mp4 0\n")
    with caplog.at_level(logging.WARNING):
        records = read_clip_list(list_path, None, num_labels=1, hand="lh", skip_missing=True)
    assert [r.video for r in records] == [str(hand_dir / "a.mp4")]
    assert records.num_skipped_missing == 2
    assert f"{list_path}: skipped 2 missing video(s) (--skip_missing)" in caplog.text


def test_skip_missing_with_nothing_left_is_an_empty_list(hand_dir):
    list_path = write(hand_dir / "train_list_video.txt", "gone.mp4 0\n")
    with pytest.raises(ClipListError, match="has no usable clips"):
        read_clip_list(list_path, None, num_labels=1, hand="lh", skip_missing=True)


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
    splits = load_hand_splits(str(hand_dir), "rh", num_labels=2)
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
    splits = load_hand_splits(str(hand_dir), "rh", num_labels=2, skip_missing=True)
    assert splits["test"]["video"] == [str(hand_dir / "a.mp4")]
    assert splits.num_skipped_missing == {"train": 0, "validation": 0, "test": 1}


def test_utf8_byte_order_mark_is_not_part_of_the_first_path_or_label(hand_dir):
    """Row: list or labels.txt saved with a UTF-8 BOM (Windows editors)."""
    list_path = hand_dir / "train_list_video.txt"
    list_path.write_bytes("a.mp4 1\nb.mp4 0\n".encode("utf-8-sig"))
    records = read_clip_list(str(list_path), None, num_labels=2, hand="lh")
    assert [r.video for r in records] == [str(hand_dir / "a.mp4"), str(hand_dir / "videos" / "b.mp4")]
    (hand_dir / "labels.txt").write_bytes("0 grasp\n1 screw\n".encode("utf-8-sig"))
    assert read_label_names(str(hand_dir), num_labels=2) == {0: "grasp", 1: "screw"}


@pytest.mark.parametrize(
    "text, num_labels, message",
    [
        ("0 a\n1 b\n2 c\n", 5, "3 label name(s) for 5 classes: missing ids 3, 4"),
        ("0 a\n1 b\n2 c\n7 d\n", 3, "4 label name(s) for 3 classes: extra ids 7 (ids run from 0 to 2)"),
        ("0 a\n2 c\n", None, "2 label name(s) for 3 classes: missing ids 1"),
        ("1 b\n2 c\n3 d\n", 3, "3 label name(s) for 3 classes: missing ids 0; extra ids 3 (ids run from 0 to 2)"),
    ],
)
def test_label_names_must_cover_exactly_the_classes(hand_dir, text, num_labels, message):
    """Row: labels.txt with fewer, more or other ids than the model has classes."""
    path = write(hand_dir / "labels.txt", text)
    with pytest.raises(ClipListError) as error:
        read_label_names(str(hand_dir), num_labels)
    assert str(error.value) == f"{path}: {message}"


def test_duplicate_label_names_are_refused(hand_dir):
    """Row: one name for two ids in labels.txt (label2id would keep only one of them)."""
    path = write(hand_dir / "labels.txt", "0 grasp\n1 screw\n# c\n2 grasp\n")
    with pytest.raises(ClipListError) as error:
        read_label_names(str(hand_dir), 3)
    assert str(error.value) == f"{path}:4: label name 'grasp' appears twice (also line 1); names must be distinct"


def test_original_layout_videos_train_and_videos_val(tmp_path):
    """Row: the original ADH-ViT's layout, list paths relative to <data_root>/videos_train and videos_val."""
    root, lists = tmp_path / "havid", tmp_path / "lists" / "lh"
    for name in ("videos_train/s01.mp4", "videos_val/s02.mp4", "videos_val/s03.mp4"):
        write(root / name, "")
    write(lists / "train_list_video.txt", "s01.mp4 1\n")
    write(lists / "val_list_video.txt", "s02.mp4 0\n")
    write(lists / "test_list_video.txt", "s03.mp4 1\n")
    splits = load_hand_splits(str(lists), "lh", num_labels=2, data_root=str(root))
    assert splits["train"]["video"] == [str(root / "videos_train" / "s01.mp4")]
    assert splits["validation"]["video"] == [str(root / "videos_val" / "s02.mp4")]
    assert splits["test"]["video"] == [str(root / "videos_val" / "s03.mp4")]
    # The package's own layout is still taken first where both exist.
    write(root / "s01.mp4", "")
    assert load_hand_splits(str(lists), "lh", num_labels=2, data_root=str(root))["train"]["video"] == [
        str(root / "s01.mp4")
    ]


def test_frame_ranges_past_the_end_of_the_video_are_counted_and_reported_once(tmp_path, caplog):
    """Row: a [start, end] range past the end of its video."""
    write_index_video(tmp_path / "lh" / "a.mp4", num_frames=12)
    write_index_video(tmp_path / "lh" / "b.mp4", num_frames=8)
    list_path = write(
        tmp_path / "lh" / "train_list_video.txt", "a.mp4 0 11 0\nb.mp4 2 9 1\na.mp4 4 20 1\nb.mp4 0 7 0\n"
    )
    write(tmp_path / "lh" / "val_list_video.txt", "a.mp4 0\n")
    with caplog.at_level(logging.WARNING):
        splits = load_hand_splits(str(tmp_path / "lh"), "lh", num_labels=2)
    assert splits.num_ranges_past_end == {"train": 2, "validation": 0, "test": 0}
    warnings = [m for m in caplog.messages if "past the last frame" in m]
    assert warnings == [
        f"{list_path}: 2 clip(s) end past the last frame of their video and are cut at it (first: {list_path}:2: "
        f"end_frame 9, but {tmp_path / 'lh' / 'b.mp4'} has 8 frames); check that the list belongs to these videos"
    ]

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import random
from collections import Counter

import pytest
from helpers.havid import LH_FRAME_LABELS, RH_FRAME_LABELS, polyphony_tree, write
from helpers.videos import write_index_video

from adhvit_hf.cli.prepare_havid import main as prepare_havid_main
from adhvit_hf.data.havid import (
    HavidFormatError,
    balanced_clips,
    find_hand_annotations,
    label_segments,
    prepare_hand_lists,
    segment_clips,
)


def test_segments():
    assert label_segments(LH_FRAME_LABELS) == [(0, 2, "null"), (3, 7, "grasp"), (8, 9, "screw"), (10, 11, "null")]
    assert segment_clips(LH_FRAME_LABELS, min_segment_length=3) == [(0, 2, "null"), (3, 7, "grasp")]


def test_balanced_clips_take_the_rarest_label_first_and_null_last():
    counts = Counter({"grasp": 5})
    clips = balanced_clips(
        LH_FRAME_LABELS, clip_length=4, clips_per_video=3, class_counts=counts, rng=random.Random(0)
    )
    # Window labels (middle frame = start + 2): starts 1-5 grasp, 6-7 screw, 0 null, 8 null.
    labels = [LH_FRAME_LABELS[start + 2] for start, _, _ in clips]
    assert sorted(labels) == ["grasp", "screw", "screw"]
    assert all(end - start == 3 for start, end, _ in clips)
    assert counts == Counter({"grasp": 6, "screw": 2})
    everything = balanced_clips(LH_FRAME_LABELS, 4, 100, Counter(), random.Random(0))
    seven = balanced_clips(LH_FRAME_LABELS, 4, 7, Counter(), random.Random(0))
    assert Counter(label for _, _, label in seven) == Counter(grasp=5, screw=2)
    assert len(everything) == 9 and Counter(l for _, _, l in everything) == Counter(grasp=5, screw=2, null=2)
    assert balanced_clips(LH_FRAME_LABELS, 13, 5, Counter(), random.Random(0)) == []


def test_segment_lists_from_the_polyphony_layout(tmp_path):
    polyphony_tree(tmp_path, video_frames=10)
    annotations = find_hand_annotations(str(tmp_path), "lh")
    out = tmp_path / "lists" / "lh"
    counts = prepare_hand_lists(annotations, str(tmp_path / "videos"), str(out), method="segment")
    # The video has 10 frames, so the annotation's last two frames are cut off.
    assert (out / "train_list_video.txt").read_text() == (
        "../../videos/v1.mp4 0 2 0\n../../videos/v1.mp4 3 7 1\n../../videos/v1.mp4 8 9 2\n"
    )
    assert (out / "val_list_video.txt").read_text().startswith("../../videos/v2.mp4 0 2 0\n")
    assert (out / "labels.txt").read_text() == "0 null\n1 grasp\n2 screw\n3 hold\n"
    assert counts["train"] == Counter(null=1, grasp=1, screw=1)


def test_script_clip_lists_from_the_release_layout(tmp_path):
    for hand, labels in (("lh", LH_FRAME_LABELS), ("rh", RH_FRAME_LABELS)):
        base = tmp_path / "data" / f"view1_{hand}_pt"
        write(base / "mapping.txt", "0 null\n1 grasp\n2 screw\n3 hold\n")
        write(base / "groundTruth" / "v1.txt", "\n".join(labels) + "\n")
        write(base / "splits" / "train.split1.bundle", "v1\n")
        write(base / "splits" / "test.split1.bundle", "v1\n")
    write_index_video(tmp_path / "mp4" / "v1.mp4", num_frames=12)
    prepare_havid_main(
        [
            "--annotation_root",
            str(tmp_path / "data"),
            "--video_dir",
            str(tmp_path / "mp4"),
            "--view",
            "1",
            "--output_dir",
            str(tmp_path / "out"),
            "--extraction_method",
            "clip",
            "--clip_length",
            "4",
            "--clips_per_video",
            "2",
        ]
    )
    lh_lines = (tmp_path / "out" / "lh" / "train_list_video.txt").read_text().splitlines()
    assert [line.split()[-1] for line in sorted(lh_lines, key=lambda l: l.split()[-1])] == ["1", "2"]
    assert all(line.startswith("../../mp4/v1.mp4 ") for line in lh_lines)
    rh_lines = (tmp_path / "out" / "rh" / "train_list_video.txt").read_text().splitlines()
    assert len(rh_lines) == 2 and {line.split()[-1] for line in rh_lines} == {"3"}


def test_bad_annotations_name_file_and_line(tmp_path):
    polyphony_tree(tmp_path)
    write(tmp_path / "groundTruth" / "left_hand" / "v1.txt", "null\nnull\nwave\n")
    with pytest.raises(HavidFormatError, match=r"v1.txt:3: label 'wave' is not in the mapping file$"):
        prepare_hand_lists(find_hand_annotations(str(tmp_path), "lh"), str(tmp_path / "videos"), str(tmp_path / "out"))
    write(tmp_path / "mapping.txt", "0 null\nnull 1 extra\n")
    with pytest.raises(HavidFormatError, match=r"mapping.txt:2: expected 'id label', got 'null 1 extra'$"):
        prepare_hand_lists(find_hand_annotations(str(tmp_path), "lh"), str(tmp_path / "videos"), str(tmp_path / "out"))
    with pytest.raises(HavidFormatError, match=r"no annotations for rh"):
        find_hand_annotations(str(tmp_path / "nowhere"), "rh")


def test_ground_truths_longer_or_shorter_than_their_video_are_counted_in_the_log(tmp_path, caplog):
    polyphony_tree(tmp_path, video_frames=10)  # 12 labels per video
    annotations = find_hand_annotations(str(tmp_path), "lh")
    with caplog.at_level("WARNING"):
        prepare_hand_lists(annotations, str(tmp_path / "videos"), str(tmp_path / "lists"), method="segment")
    gt = tmp_path / "groundTruth" / "left_hand"
    assert [m for m in caplog.messages if "differ in length" in m] == [
        f"{tmp_path / 'lists'} {split}: 1 ground truth(s) differ in length from their video (first: {gt / video}.txt: "
        "12 labels for 10 frames): labels past the video's end are dropped and frames past the labels' end are in "
        "no clip; check that they belong together"
        for split, video in (("train", "v1"), ("test", "v2"))
    ]
    caplog.clear()
    polyphony_tree(tmp_path / "exact", video_frames=12)
    with caplog.at_level("WARNING"):
        prepare_hand_lists(
            find_hand_annotations(str(tmp_path / "exact"), "lh"),
            str(tmp_path / "exact" / "videos"),
            str(tmp_path / "exact_lists"),
            method="segment",
        )
    assert not [m for m in caplog.messages if "differ in length" in m]


def release_views(root, labels_per_view, frames_per_view):
    """HA-ViD's release layout for views 0 and 1 (recordings r1 and r2) and each view's videos in videos/view<V>/."""
    for view, per_video in labels_per_view.items():
        for hand in ("lh", "rh"):
            base = root / "data" / f"view{view}_{hand}_pt"
            write(base / "mapping.txt", "0 null\n1 grasp\n2 screw\n3 hold\n")
            for video, labels in per_video.items():
                write(
                    base / "groundTruth" / f"{video}.txt",
                    "\n".join(labels if hand == "lh" else RH_FRAME_LABELS) + "\n",
                )
            write(base / "splits" / "train.split1.bundle", "r1\nr2\n")
            write(base / "splits" / "test.split1.bundle", "r1\n")
        for video, frames in frames_per_view[view].items():
            write_index_video(root / "videos" / f"view{view}" / f"{video}.mp4", num_frames=frames)


def test_several_views_make_one_camera_list_and_report_recordings_that_disagree(tmp_path, caplog):
    other = LH_FRAME_LABELS[:5] + ["screw"] + LH_FRAME_LABELS[6:]  # frame 5 differs
    release_views(
        tmp_path,
        {0: {"r1": LH_FRAME_LABELS, "r2": LH_FRAME_LABELS}, 1: {"r1": LH_FRAME_LABELS[:11], "r2": other}},
        {0: {"r1": 12, "r2": 12}, 1: {"r1": 11, "r2": 12}},
    )
    argv = ["--annotation_root", str(tmp_path / "data"), "--output_dir", str(tmp_path / "out"), "--view", "0", "1"]
    error = pytest.raises(ValueError, prepare_havid_main, [*argv, "--video_dir", str(tmp_path / "videos" / "view0")])
    assert "needs {camera} where the view number goes" in str(error.value)
    with caplog.at_level("WARNING"):
        prepare_havid_main([*argv, "--video_dir", str(tmp_path / "videos" / "view{camera}")])
    # r1: 11 frames in view 1 (within the tolerance), labels agree on them; r2: frame 5 differs, left out
    assert (tmp_path / "out" / "lh" / "train_list_video.txt").read_text() == (
        "../../videos/view{camera}/r1.mp4 0 2 0\n../../videos/view{camera}/r1.mp4 3 7 1\n"
        "../../videos/view{camera}/r1.mp4 8 9 2\n../../videos/view{camera}/r1.mp4 10 10 0\n"
    )
    assert (
        "skipped 1 recording(s) whose cameras disagree:\n  r2: frame 5 is 'grasp' in camera 0 but 'screw' in camera 1"
        in caplog.text
    )


def test_views_with_different_label_mappings_are_refused(tmp_path):
    release_views(tmp_path, {0: {"r1": LH_FRAME_LABELS}, 1: {"r1": LH_FRAME_LABELS}}, {0: {"r1": 12}, 1: {"r1": 12}})
    mapping = tmp_path / "data" / "view1_lh_pt" / "mapping.txt"
    write(mapping, "0 null\n1 screw\n2 grasp\n3 hold\n")
    argv = ["--annotation_root", str(tmp_path / "data"), "--output_dir", str(tmp_path / "out"), "--view", "0", "1"]
    with pytest.raises(ValueError, match=f"{mapping}: the label mapping of view 1 differs from view 0's"):
        prepare_havid_main([*argv, "--video_dir", str(tmp_path / "videos" / "view{camera}")])

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import filecmp
import os

import numpy as np

from adhvit_hf.cli.make_demo_data import main as make_demo_data_main
from adhvit_hf.data.clip_list import read_label_names
from adhvit_hf.data.decoding import open_video
from adhvit_hf.data.demo import MOTIONS, NUM_VIDEO_FRAMES, make_demo_dataset, render_video
from adhvit_hf.data.hand_splits import load_hand_splits


SMALL = {"train": 6, "val": 3, "test": 3}


def all_files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files)


def test_layout_labels_and_loading(tmp_path):
    assert make_demo_dataset(str(tmp_path), seed=0, split_sizes=SMALL) == SMALL
    assert all_files(tmp_path) == sorted(
        [
            f"{hand}/{name}"
            for hand in ("lh", "rh")
            for name in ("labels.txt", "train_list_video.txt", "val_list_video.txt", "test_list_video.txt")
        ]
        + [f"videos/{split}_{i:04d}.mp4" for split, count in SMALL.items() for i in range(count)]
    )
    for hand in ("lh", "rh"):
        assert read_label_names(str(tmp_path / hand)) == dict(enumerate(MOTIONS))
        splits = load_hand_splits(str(tmp_path / hand), hand, num_labels=len(MOTIONS))
        assert [len(splits[s]) for s in ("train", "validation", "test")] == [6, 3, 3]
        # Balanced: 6 training videos cover all 6 motions once per hand.
        assert sorted(splits["train"]["label"]) == list(range(6))
    reader = open_video(str(tmp_path / "videos" / "train_0000.mp4"))
    assert (reader.num_frames, reader.height, reader.width) == (NUM_VIDEO_FRAMES, 64, 64)


def test_same_seed_same_files_other_seed_other_data(tmp_path):
    make_demo_dataset(str(tmp_path / "a"), seed=3, split_sizes=SMALL)
    make_demo_dataset(str(tmp_path / "b"), seed=3, split_sizes=SMALL)
    make_demo_dataset(str(tmp_path / "c"), seed=4, split_sizes=SMALL)
    files = all_files(tmp_path / "a")
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, shallow=False)
    assert mismatch == [] and errors == []
    _, mismatch, _ = filecmp.cmpfiles(tmp_path / "a", tmp_path / "c", files, shallow=False)
    assert "videos/train_0000.mp4" in mismatch


def test_reversed_pairs_differ_only_in_time():
    forward = render_video("move_up", "grow", np.random.default_rng(1))
    backward = render_video("move_down", "shrink", np.random.default_rng(1))
    assert np.array_equal(forward, backward[::-1])
    assert not np.array_equal(forward, backward)
    left_right = render_video("move_left", "move_right", np.random.default_rng(1))
    assert np.array_equal(left_right[::-1], render_video("move_right", "move_left", np.random.default_rng(1)))


def test_each_hand_object_stays_on_its_side():
    frames = render_video("move_right", "move_left", np.random.default_rng(0))
    red = (frames[..., 0] > 200) & (frames[..., 2] < 100)
    blue = (frames[..., 2] > 200) & (frames[..., 0] < 100)
    assert red[..., 32:].sum() == 0 and red[..., :32].sum() > 0
    assert blue[..., :32].sum() == 0 and blue[..., 32:].sum() > 0


def test_script(tmp_path):
    make_demo_data_main(["--output_dir", str(tmp_path), "--seed", "1"])
    with open(tmp_path / "rh" / "train_list_video.txt") as handle:
        lines = handle.read().splitlines()
    assert len(lines) == 240 and lines[0].startswith("../videos/train_0000.mp4 ")

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Multi-camera clip lists: `{camera}` lines, their checks and errors, the pooled camera draw, the camera demo data."""

import os
from collections import Counter

import pytest
from helpers.videos import write_index_video

from adhvit_hf.data.cameras import CameraError, check_camera_names, frame_count_tolerance, training_camera
from adhvit_hf.data.clip_list import ClipListError, read_clip_list
from adhvit_hf.data.decoding import open_video
from adhvit_hf.data.demo import NUM_VIDEO_FRAMES
from adhvit_hf.data.demo_cameras import VISIBLE_FRAMES, make_camera_demo_dataset
from adhvit_hf.data.hand_splits import load_hand_splits
from adhvit_hf.data.transforms import VideoTransform
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor


def camera_tree(root, frames=None, sizes=None):
    """videos/{a,b}/clip.mp4 (frame counts and sizes per camera) and lists naming them with {camera}."""
    frames, sizes = frames or {"a": 20, "b": 20}, sizes or {"a": 32, "b": 48}
    for camera, count in frames.items():
        write_index_video(root / "videos" / camera / "clip.mp4", num_frames=count, height=sizes[camera])
    for name in ("train_list_video.txt", "val_list_video.txt"):
        (root / name).write_text("videos/{camera}/clip.mp4 2 15 1\nvideos/{camera}/clip.mp4 0 9 0\n")
    return root


def test_a_camera_list_names_every_cameras_video(tmp_path):
    camera_tree(tmp_path)
    records = read_clip_list(str(tmp_path / "train_list_video.txt"), None, 2, "lh", cameras=["a", "b"])
    assert [(r.video, r.start, r.end, r.label) for r in records] == [
        (str(tmp_path / "videos" / "{camera}" / "clip.mp4"), 2, 15, 1),
        (str(tmp_path / "videos" / "{camera}" / "clip.mp4"), 0, 9, 0),
    ]
    splits = load_hand_splits(str(tmp_path), "lh", 2, cameras=["a", "b"])
    assert splits["train"]["video"][0].endswith("videos/{camera}/clip.mp4")


def test_cameras_and_list_must_agree_line_by_line(tmp_path):
    camera_tree(tmp_path)
    lists = tmp_path / "train_list_video.txt"
    with pytest.raises(CameraError, match=rf"{lists}:1: the video path 'videos/{{camera}}/clip.mp4' has {{camera}} "):
        read_clip_list(str(lists), None, 2, "lh")
    (tmp_path / "plain.txt").write_text("videos/a/clip.mp4 1\n")
    with pytest.raises(CameraError, match=rf"{tmp_path}/plain.txt:1: --cameras a b is given but the video path "):
        read_clip_list(str(tmp_path / "plain.txt"), None, 2, "lh", cameras=["a", "b"])
    (tmp_path / "mixed.txt").write_text("videos/{camera}/clip.mp4 1\n# a comment\nvideos/a/clip.mp4 0\n")
    with pytest.raises(CameraError, match=rf"{tmp_path}/mixed.txt:3: --cameras a b is given"):
        read_clip_list(str(tmp_path / "mixed.txt"), None, 2, "lh", cameras=["a", "b"])


def test_a_missing_camera_file_is_named(tmp_path):
    camera_tree(tmp_path)
    lists = tmp_path / "train_list_video.txt"
    missing = tmp_path / "videos" / "c" / "clip.mp4"
    with pytest.raises(ClipListError, match=rf"2 video\(s\) not found: {missing} \({lists}:1\)"):
        read_clip_list(str(lists), None, 2, "lh", cameras=["a", "b", "c"])


def test_frame_counts_must_agree_within_the_tolerance(tmp_path):
    assert frame_count_tolerance(20) == 2 and frame_count_tolerance(9000) == 90
    camera_tree(tmp_path / "close", frames={"a": 20, "b": 22})
    assert len(load_hand_splits(str(tmp_path / "close"), "lh", 2, cameras=["a", "b"])["train"]) == 2
    camera_tree(tmp_path / "far", frames={"a": 20, "b": 12})
    short = tmp_path / "far" / "videos" / "b" / "clip.mp4"
    with pytest.raises(CameraError, match=rf"{tmp_path}/far/train_list_video.txt:1: {short} has 12 frames, but the "):
        load_hand_splits(str(tmp_path / "far"), "lh", 2, cameras=["a", "b"])


def test_camera_names_are_folder_names():
    assert check_camera_names([0, "side"]) == ["0", "side"]
    assert check_camera_names(None) is None
    with pytest.raises(CameraError, match="--cameras: 'a/b' is not a camera name"):
        check_camera_names(["a/b"])
    with pytest.raises(CameraError, match="--cameras: camera 1 is given twice"):
        check_camera_names(["1", "2", "1"])


def test_pooled_training_reads_the_camera_its_seed_draws(tmp_path):
    camera_tree(tmp_path)
    cameras = ["a", "b"]
    draws = [training_camera(seed, cameras) for seed in range(200)]
    assert draws == [training_camera(seed, cameras) for seed in range(200)]  # a function of the seed alone
    assert 70 < Counter(draws)["a"] < 130
    processor = AdhVitVideoProcessor(num_frames=4, sampling_rate=2, short_side_size=32, crop_size=32)
    # device_augmentation keeps the decoded clip, whose size says which camera's file was read (a: 32, b: 48 px)
    transform = VideoTransform(processor, train=True, device_augmentation=True, cameras=cameras)
    template = str(tmp_path / "videos" / "{camera}" / "clip.mp4")
    for seed in range(6):
        clip = transform.train_clips(template, 2, 15, "lh", seed)[0]
        assert clip.shape[-2] == {"a": 32, "b": 48}[training_camera(seed, cameras)]
    fused = VideoTransform(processor, train=True, cameras=cameras, camera_training="feature_fusion")
    assert fused.train_clips(template, 2, 15, "lh", 0)[0].shape == (1, 2, 4, 3, 32, 32)
    views = VideoTransform(processor, train=False, cameras=cameras).eval_views(template, 2, 15)
    assert views.shape == (2, processor.num_views, 4, 3, 32, 32)
    with pytest.raises(ValueError, match="--camera_training feature_fusion does not run with --device_augmentation"):
        VideoTransform(
            processor, train=True, device_augmentation=True, cameras=cameras, camera_training="feature_fusion"
        )


def test_camera_demo_data_films_one_scene_from_three_viewpoints(tmp_path):
    make_camera_demo_dataset(str(tmp_path), 3, seed=0, split_sizes={"train": 3, "val": 1, "test": 1})
    lines = (tmp_path / "lh" / "train_list_video.txt").read_text().splitlines()
    assert lines[0].startswith("../videos/{camera}/train_0000.mp4 ")
    assert sorted(os.listdir(tmp_path / "videos")) == ["0", "1", "2"]
    splits = load_hand_splits(str(tmp_path / "lh"), "lh", 6, cameras=["0", "1", "2"])
    assert len(splits["train"]) == 3
    occlusions = (tmp_path / "occlusions.txt").read_text().splitlines()
    assert len(occlusions) == 5 and occlusions[0].startswith("train_0000.mp4 lh_hidden_in_camera ")
    frames = [open_video(str(tmp_path / "videos" / c / "train_0000.mp4")).get_frames(range(32)) for c in "012"]
    assert all(f.shape == (NUM_VIDEO_FRAMES, 64, 64, 3) for f in frames)
    # different backgrounds: no two cameras' first frames alike
    assert all((frames[i].float() - frames[j].float()).abs().mean() > 5 for i, j in ((0, 1), (0, 2), (1, 2)))
    # the left hand's occluded camera shows the grey panel over the left half for all but VISIBLE_FRAMES frames
    hidden = int(occlusions[0].split()[2])
    grey = (frames[hidden][:, 24:40, 8:24].float() - 150).abs().mean(dim=(1, 2, 3)) < 12
    assert NUM_VIDEO_FRAMES - VISIBLE_FRAMES - 2 <= int(grey.sum()) <= NUM_VIDEO_FRAMES - VISIBLE_FRAMES

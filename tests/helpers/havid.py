# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""A tiny HA-ViD annotation tree in the polyphony layout (frame labels per hand, splits, mapping, videos)."""

import os

from .videos import write_index_video


LH_FRAME_LABELS = ["null"] * 3 + ["grasp"] * 5 + ["screw"] * 2 + ["null"] * 2  # 12 frames
RH_FRAME_LABELS = ["hold"] * 12


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def polyphony_tree(root, video_frames=10):
    """groundTruth/{left,right}_hand, mapping.txt, splits/{left,right}_hand; videos v1 (train) and v2 (test)."""
    write(root / "mapping.txt", "0 null\n1 grasp\n2 screw\n3 hold\n")
    for hand, labels in (("left_hand", LH_FRAME_LABELS), ("right_hand", RH_FRAME_LABELS)):
        for video in ("v1", "v2"):
            write(root / "groundTruth" / hand / f"{video}.txt", "".join(f"{label}\n" for label in labels))
        write(root / "splits" / hand / "train.split1.bundle", "v1.txt\n")
        write(root / "splits" / hand / "test.split1.bundle", "v2.txt\n")
    for video in ("v1", "v2"):
        write_index_video(root / "videos" / f"{video}.mp4", num_frames=video_frames)

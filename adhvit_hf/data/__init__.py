# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Clip lists, per-hand splits, decoding, frame sampling, augmentation, mixup, collation, demo data and HA-ViD
preparation."""

from .clip_list import ClipList, ClipListError, ClipRecord, read_clip_list, read_label_names
from .collate import ClipCollator
from .decoding import BACKENDS, VideoDecodeError, check_backend, open_video, read_view_frames
from .hand_splits import load_hand_splits
from .mixup import ClipMixup
from .sampling import train_clip_indices
from .transforms import ClipAugmentation, VideoTransform


__all__ = [
    "BACKENDS",
    "ClipAugmentation",
    "ClipCollator",
    "ClipList",
    "ClipListError",
    "ClipMixup",
    "ClipRecord",
    "VideoDecodeError",
    "VideoTransform",
    "check_backend",
    "load_hand_splits",
    "open_video",
    "read_clip_list",
    "read_label_names",
    "read_view_frames",
    "train_clip_indices",
]

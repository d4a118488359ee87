# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Clip lists, decoding, frame sampling, augmentation, mixup, demo data and HA-ViD preparation."""

from .clip_list import ClipList, ClipListError, ClipRecord, read_clip_list, read_label_names
from .datasets import load_hand_splits
from .decoding import VideoDecodeError, open_video
from .mixup import ClipMixup
from .sampling import train_clip_indices
from .transforms import ClipAugmentation, VideoTransform


__all__ = [
    "ClipAugmentation",
    "ClipList",
    "ClipListError",
    "ClipMixup",
    "ClipRecord",
    "VideoDecodeError",
    "VideoTransform",
    "load_hand_splits",
    "open_video",
    "read_clip_list",
    "read_label_names",
    "train_clip_indices",
]

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Per-hand clip lists as `datasets.DatasetDict` (raw rows; decoding is attached later with `set_transform`)."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from datasets import Dataset, DatasetDict, Features, Value

from .cameras import camera_path, camera_paths, check_camera_frame_counts
from .clip_list import SPLIT_FILES, ClipListError, ClipRecord, read_clip_list
from .decoding import VideoDecodeError, open_video


logger = logging.getLogger(__name__)

# The original ADH-ViT resolves train list paths under <data_root>/videos_train and the others under videos_val.
ORIGINAL_VIDEO_FOLDERS = {"train": "videos_train", "validation": "videos_val", "test": "videos_val"}
# Videos opened at once to read frame counts (decoders wait on the disk more than on the CPU).
FRAME_COUNT_THREADS = 8
CLIP_FEATURES = Features(
    {
        "video": Value("string"),
        "start": Value("int64"),
        "end": Value("int64"),
        "label": Value("int64"),
        "hand": Value("string"),
    }
)


def records_to_dataset(records: list[ClipRecord]) -> Dataset:
    """Columns video, start, end, label, hand; a missing frame range is stored as -1."""
    return Dataset.from_dict(
        {
            "video": [r.video for r in records],
            "start": [-1 if r.start is None else r.start for r in records],
            "end": [-1 if r.end is None else r.end for r in records],
            "label": [r.label for r in records],
            "hand": [r.hand for r in records],
        },
        features=CLIP_FEATURES,
    )


def video_frame_counts(videos, backend: str = "auto") -> dict[str, int | None]:
    """{video: its number of frames, or None when it cannot be opened}, reading each distinct video's header once."""

    def count(video: str) -> int | None:
        try:
            return open_video(video, backend=backend).num_frames
        except VideoDecodeError:
            return None

    distinct = sorted(set(videos))
    with ThreadPoolExecutor(FRAME_COUNT_THREADS) as pool:
        return dict(zip(distinct, pool.map(count, distinct)))


def count_ranges_past_end(
    records: list[ClipRecord], list_path: str, backend: str = "auto", cameras: list[str] | None = None
) -> int:
    """Counts the clips whose `end_frame` lies past their video's last frame and logs them once for the list.

    Such a clip is cut at the video's end (a range past it would only repeat the last frame), so its frame range in
    the list is wrong, usually annotations of another video or frame rate: the user hears of it, training goes on.
    Unreadable videos are left to the training loop, which replaces and counts them. With `cameras` the first
    camera's video is the one compared (`check_camera_frame_counts` has made the others agree with it).
    A range that starts past the end holds no frame of its video at all: `ClipListError` naming the first such line.
    """
    if cameras:
        records = [replace(record, video=camera_path(record.video, cameras[0])) for record in records]
    ranged = [record for record in records if record.end is not None]
    if not ranged:
        return 0
    frame_counts = video_frame_counts([record.video for record in ranged], backend)
    outside = [r for r in ranged if frame_counts[r.video] is not None and r.start >= frame_counts[r.video]]
    if outside:  # not one frame of the range exists: cutting it would train on the last frame repeated
        first = outside[0]
        raise ClipListError(
            f"{first.source}: start_frame {first.start} is past the end of {first.video} ({frame_counts[first.video]} "
            f"frames), so the clip holds none of its frames ({len(outside)} such clip(s) in {list_path}); check "
            "that the list belongs to these videos"
        )
    past_end = [r for r in ranged if frame_counts[r.video] is not None and r.end >= frame_counts[r.video]]
    if past_end:
        first = past_end[0]
        logger.warning(
            "%s: %d clip(s) end past the last frame of their video and are cut at it (first: %s: end_frame %d, but "
            "%s has %d frames); check that the list belongs to these videos",
            list_path,
            len(past_end),
            first.source,
            first.end,
            first.video,
            frame_counts[first.video],
        )
    return len(past_end)


def load_hand_splits(
    data_path: str,
    hand: str,
    num_labels: int,
    data_root: str | None = None,
    skip_missing: bool = False,
    cameras: list[str] | None = None,
) -> DatasetDict:
    """Read `<data_path>/{train,val[,test]}_list_video.txt` into a DatasetDict with train/validation/test.

    Every list is checked before anything is returned (see `read_clip_list`); test falls back to the validation
    list when `test_list_video.txt` is absent. Relative paths resolve as `read_clip_list` says, including the
    original ADH-ViT's `<data_root>/videos_train/` (train) and `<data_root>/videos_val/` (validation, test). With
    `skip_missing`, the number of dropped clips per split is in the returned dict's `num_skipped_missing`
    attribute; the number of clips whose frame range ends past their video (logged once per list) is in
    `num_ranges_past_end`. With `cameras` (`data.cameras`) every line names its videos with `{camera}`, the video
    column keeps that template, and each clip's cameras must have agreeing frame counts.
    """
    splits, skipped, past_end = {}, {}, {}
    for split, file_name in SPLIT_FILES.items():
        list_path = os.path.join(data_path, file_name)
        if split == "test" and not os.path.isfile(list_path):
            logger.info("%s not found; the %s test split uses the validation list", list_path, hand)
            splits[split], skipped[split], past_end[split] = splits["validation"], skipped["validation"], 0
            continue
        records = read_clip_list(
            list_path,
            data_root,
            num_labels,
            hand,
            skip_missing=skip_missing,
            video_subdir=ORIGINAL_VIDEO_FOLDERS[split],
            cameras=cameras,
        )
        if cameras:
            videos = [path for record in records for path in camera_paths(record.video, cameras).values()]
            check_camera_frame_counts(records, cameras, video_frame_counts(videos))
        splits[split] = records_to_dataset(records)
        skipped[split] = records.num_skipped_missing
        past_end[split] = count_ranges_past_end(records, list_path, cameras=cameras)
    dataset_dict = DatasetDict(splits)
    dataset_dict.num_skipped_missing = skipped
    dataset_dict.num_ranges_past_end = past_end
    return dataset_dict

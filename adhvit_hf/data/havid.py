# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""HA-ViD frame-wise per-hand annotations -> 4-column clip lists (`path start end label`), no re-encoding.

Two annotation layouts are read:
- HA-ViD's release: `<root>/view{V}_{lh,rh}_{pt,aa}/` with `groundTruth/<video>.txt`, `mapping.txt` and
  `splits/{train,test}.split1.bundle`;
- polyphony's data_preparation layout: `<root>/groundTruth/{left_hand,right_hand}/<video>.txt`, `<root>/mapping.txt`
  and `<root>/splits/{left_hand,right_hand}/{train,test}.split1.bundle`.
"""

from __future__ import annotations

import logging
import os
import random
from collections import Counter
from dataclasses import dataclass

from tqdm.auto import tqdm

from ..utils import atomic_write
from .cameras import camera_path
from .clip_list import LABEL_NAMES_FILE, SPLIT_FILES
from .decoding import VideoDecodeError, probe_video
from .havid_cameras import CamerasDisagree, agreed_frame_labels


logger = logging.getLogger(__name__)

HAND_FOLDERS = {"lh": "left_hand", "rh": "right_hand"}
# HA-ViD's train split becomes our train list, its test split our validation list (test falls back to it).
SPLIT_LISTS = {"train": SPLIT_FILES["train"], "test": SPLIT_FILES["validation"]}
NULL_LABEL = "null"


class HavidFormatError(ValueError):
    """An annotation, mapping or split file is malformed; the message names the file and line."""


@dataclass(frozen=True)
class HandAnnotations:
    """Where one hand's frame labels, label mapping and split bundles are."""

    ground_truth_dir: str
    mapping_file: str
    split_files: dict[str, str]


def find_hand_annotations(root: str, hand: str, view: int = 0, level: str = "pt", split: int = 1) -> HandAnnotations:
    """Locate one hand's annotation files under `root` in either layout (see module docstring)."""
    release_dir = os.path.join(root, f"view{view}_{hand}_{level}")
    if os.path.isdir(release_dir):
        base, splits_dir = release_dir, os.path.join(release_dir, "splits")
        gt_dir = os.path.join(release_dir, "groundTruth")
    else:
        base = root
        gt_dir = os.path.join(root, "groundTruth", HAND_FOLDERS[hand])
        splits_dir = os.path.join(root, "splits", HAND_FOLDERS[hand])
    if not os.path.isdir(gt_dir):
        raise HavidFormatError(f"{root}: no annotations for {hand}: expected {release_dir}/groundTruth or {gt_dir}")
    split_files = {name: os.path.join(splits_dir, f"{name}.split{split}.bundle") for name in SPLIT_LISTS}
    return HandAnnotations(gt_dir, os.path.join(base, "mapping.txt"), split_files)


def read_mapping(path: str) -> dict[str, int]:
    """`{label name: id}` from a mapping file with `id name` lines (`name id` is accepted too)."""
    if not os.path.isfile(path):
        raise HavidFormatError(f"{path}: mapping file not found")
    mapping = {}
    with open(path, encoding="utf-8") as handle:
        for line_number, raw in enumerate(handle, start=1):
            parts = raw.split()
            if not parts or parts[0].startswith("#"):
                continue
            if len(parts) != 2 or parts[0].isdigit() == parts[1].isdigit():
                raise HavidFormatError(f"{path}:{line_number}: expected 'id label', got {raw.strip()!r}")
            label_id, name = (parts[0], parts[1]) if parts[0].isdigit() else (parts[1], parts[0])
            mapping[name] = int(label_id)
    if not mapping:
        raise HavidFormatError(f"{path}: mapping file has no labels")
    return mapping


def read_bundle(path: str) -> list[str]:
    """Video names (no extension) listed in a split bundle."""
    if not os.path.isfile(path):
        raise HavidFormatError(f"{path}: split bundle not found")
    with open(path, encoding="utf-8") as handle:
        return [os.path.splitext(os.path.basename(line.strip()))[0] for line in handle if line.strip()]


def read_frame_labels(path: str, mapping: dict[str, int]) -> list[str]:
    """One label name per frame; raises HavidFormatError naming the line of a label missing from the mapping."""
    labels = []
    with open(path, encoding="utf-8") as handle:
        for line_number, raw in enumerate(handle, start=1):
            for name in raw.split():
                if name not in mapping:
                    raise HavidFormatError(f"{path}:{line_number}: label {name!r} is not in the mapping file")
                labels.append(name)
    return labels


def label_segments(frame_labels: list[str]) -> list[tuple[int, int, str]]:
    """Runs of equal labels as (start, end, label), `end` inclusive."""
    segments, start = [], 0
    for index in range(1, len(frame_labels) + 1):
        if index == len(frame_labels) or frame_labels[index] != frame_labels[start]:
            segments.append((start, index - 1, frame_labels[start]))
            start = index
    return segments


def segment_clips(frame_labels: list[str], min_segment_length: int = 1) -> list[tuple[int, int, str]]:
    """Segment-based extraction: every action segment of at least `min_segment_length` frames."""
    return [s for s in label_segments(frame_labels) if s[1] - s[0] + 1 >= min_segment_length]


def balanced_clips(
    frame_labels: list[str],
    clip_length: int,
    clips_per_video: int,
    class_counts: Counter,
    rng: random.Random,
    prefer_non_null: bool = True,
) -> list[tuple[int, int, str]]:
    """Clip-based extraction: up to `clips_per_video` windows of `clip_length` frames, labelled by their middle frame.

    Each pick takes the label with the fewest clips so far (`class_counts`, shared across videos and updated here;
    ties broken by `rng`) and a random window with that label; "null" windows only once no other label is left
    when `prefer_non_null`.
    """
    last_start = len(frame_labels) - clip_length
    if last_start < 0:
        return []
    candidates: dict[str, list[int]] = {}
    for start in range(last_start + 1):
        candidates.setdefault(frame_labels[start + clip_length // 2], []).append(start)
    clips = []
    while candidates and len(clips) < clips_per_video:
        pool = [label for label in candidates if not (prefer_non_null and label.lower() == NULL_LABEL)]
        pool = pool or list(candidates)
        fewest = min(class_counts[label] for label in pool)
        label = rng.choice(sorted(label for label in pool if class_counts[label] == fewest))
        starts = candidates[label]
        start = starts.pop(rng.randrange(len(starts)))
        if not starts:
            del candidates[label]
        class_counts[label] += 1
        clips.append((start, start + clip_length - 1, label))
    return sorted(clips)


def ground_truth_path(annotations: HandAnnotations, name: str, split: str) -> str:
    """The frame-label file of the recording `name`, which the split bundle lists (an error naming both if absent)."""
    path = os.path.join(annotations.ground_truth_dir, name + ".txt")
    if not os.path.isfile(path):
        raise HavidFormatError(f"{annotations.split_files[split]}: {path} (listed video {name}) not found")
    return path


def prepare_hand_lists(
    annotations: HandAnnotations,
    video_dir: str,
    output_dir: str,
    method: str = "segment",
    min_segment_length: int = 1,
    clip_length: int = 16,
    clips_per_video: int = 10,
    prefer_non_null: bool = True,
    seed: int = 0,
    video_ext: str = ".mp4",
    camera_annotations: dict[str, HandAnnotations] | None = None,
) -> dict[str, Counter]:
    """Write `output_dir/{train,val}_list_video.txt` and `labels.txt` for one hand; returns clips per label per split.

    Video paths are written relative to `output_dir`. Frame ranges are clipped to the frames the video really has;
    videos that are missing or cannot be opened are skipped and counted in the log, and ground truths longer or shorter than
    their video are counted in the log. With `camera_annotations`
    ({camera: that view's annotations}, `annotations` the first's) `video_dir` holds `{camera}` and one multi-camera
    list is written: a recording's cameras must agree (`havid_cameras.agreed_frame_labels`), and those that do not
    are skipped and reported.
    """
    if method not in ("segment", "clip"):
        raise ValueError(f"method must be 'segment' or 'clip', got {method!r}")
    mapping = read_mapping(annotations.mapping_file)
    os.makedirs(output_dir, exist_ok=True)
    with atomic_write(os.path.join(output_dir, LABEL_NAMES_FILE), "w", encoding="utf-8") as handle:
        handle.writelines(f"{label_id} {name}\n" for name, label_id in sorted(mapping.items(), key=lambda kv: kv[1]))
    rng = random.Random(seed)
    counts = {}
    for split, list_name in SPLIT_LISTS.items():
        videos = read_bundle(annotations.split_files[split])
        class_counts, lines, skipped, disagreeing, mismatched = Counter(), [], [], [], []
        for name in tqdm(videos, desc=f"{os.path.basename(output_dir)} {split}", unit="video"):
            video_path = os.path.join(video_dir, name + video_ext)
            if camera_annotations:
                try:
                    frame_counts = {
                        camera: probe_video(camera_path(video_path, camera)) for camera in camera_annotations
                    }
                    camera_labels = {
                        camera: read_frame_labels(ground_truth_path(camera_annotation, name, split), mapping)
                        for camera, camera_annotation in camera_annotations.items()
                    }
                    frame_labels = agreed_frame_labels(name, frame_counts, camera_labels)
                except VideoDecodeError as error:
                    skipped.append(str(error))
                    continue
                except CamerasDisagree as error:
                    disagreeing.append(str(error))
                    continue
            else:
                try:
                    num_video_frames = probe_video(video_path)
                except VideoDecodeError as error:
                    skipped.append(str(error))
                    continue
                gt_path = ground_truth_path(annotations, name, split)
                frame_labels = read_frame_labels(gt_path, mapping)
                if len(frame_labels) != num_video_frames:
                    mismatched.append(f"{gt_path}: {len(frame_labels)} labels for {num_video_frames} frames")
                frame_labels = frame_labels[:num_video_frames]
            if method == "segment":
                clips = segment_clips(frame_labels, min_segment_length)
                class_counts.update(label for _, _, label in clips)
            else:
                clips = balanced_clips(frame_labels, clip_length, clips_per_video, class_counts, rng, prefer_non_null)
            relative = os.path.relpath(os.path.abspath(video_path), os.path.abspath(output_dir))
            lines.extend(f"{relative} {start} {end} {mapping[label]}\n" for start, end, label in clips)
        if skipped:
            logger.warning(
                "%s %s: skipped %d unreadable video(s), first: %s", output_dir, split, len(skipped), skipped[0]
            )
        if mismatched:
            logger.warning(
                "%s %s: %d ground truth(s) differ in length from their video (first: %s): labels past the video's "
                "end are dropped and frames past the labels' end are in no clip; check that they belong together",
                output_dir,
                split,
                len(mismatched),
                mismatched[0],
            )
        if disagreeing:
            logger.warning(
                "%s %s: skipped %d recording(s) whose cameras disagree:\n  %s",
                output_dir,
                split,
                len(disagreeing),
                "\n  ".join(disagreeing),
            )
        with atomic_write(os.path.join(output_dir, list_name), "w", encoding="utf-8") as handle:
            handle.writelines(lines)
        counts[split] = class_counts
    return counts

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Synchronised cameras: `{camera}` video paths, their checks, and the camera a training clip is read from.

A multi-camera list line is an ordinary list line whose video path contains `{camera}`
(`videos/{camera}/S02A22I23S1.mp4 120 184 7`): the same clip, frame range and label in every camera, the camera
names (`--cameras 0 1 2`, any strings) substituted for the placeholder. The cameras of one recording must have
the same frame rate and (nearly) the same number of frames, or one frame range would not mean one moment:
`frame_count_tolerance` says how far they may differ.
"""

from __future__ import annotations

import logging
import random


logger = logging.getLogger(__name__)

CAMERA_PLACEHOLDER = "{camera}"
# Synchronised cameras that start and stop together still differ by a frame or two (a dropped frame, the trigger);
# more than this means another recording, another frame rate or a truncated file.
MIN_FRAME_COUNT_TOLERANCE = 2
FRAME_COUNT_TOLERANCE_SHARE = 0.01
CAMERA_TRAINING = ("pooled", "feature_fusion")


class CameraError(ValueError):
    """A multi-camera list, video or flag does not fit the cameras given; the message names the file (and line)."""


def has_camera_placeholder(path: str) -> bool:
    return CAMERA_PLACEHOLDER in str(path)


def camera_path(template: str, camera: str) -> str:
    """The path of `camera`'s video of a `{camera}` template."""
    return str(template).replace(CAMERA_PLACEHOLDER, camera)


def camera_paths(template: str, cameras: list[str] | None) -> dict[str | None, str]:
    """{camera: its video} of a template, or {None: the path} without cameras."""
    if not cameras:
        return {None: str(template)}
    return {camera: camera_path(template, camera) for camera in cameras}


def check_camera_names(cameras: list[str] | None, flag: str = "--cameras") -> list[str] | None:
    """The camera names as strings; refuses repeated names and names that cannot be part of a path."""
    if not cameras:
        return None
    cameras = [str(camera) for camera in cameras]
    for camera in cameras:
        if not camera or "/" in camera or "\\" in camera or camera in (".", "..") or CAMERA_PLACEHOLDER in camera:
            raise CameraError(f"{flag}: {camera!r} is not a camera name (a folder name without slashes)")
    repeated = sorted({camera for camera in cameras if cameras.count(camera) > 1})
    if repeated:
        raise CameraError(f"{flag}: camera {', '.join(repeated)} is given twice")
    return cameras


def check_line_cameras(path: str, cameras: list[str] | None, where: str) -> None:
    """A list line's video path fits the cameras: `{camera}` in it exactly when cameras are given."""
    placeholder = has_camera_placeholder(path)
    if cameras and not placeholder:
        raise CameraError(
            f"{where}: --cameras {' '.join(cameras)} is given but the video path {path!r} has no {CAMERA_PLACEHOLDER} "
            f"(every line of a multi-camera list names its videos as e.g. videos/{CAMERA_PLACEHOLDER}/clip.mp4)"
        )
    if placeholder and not cameras:
        raise CameraError(
            f"{where}: the video path {path!r} has {CAMERA_PLACEHOLDER} but no --cameras are given (pass the camera "
            "names, e.g. --cameras 0 1 2)"
        )


def frame_count_tolerance(num_frames: int) -> int:
    """Frames by which synchronised cameras' videos of `num_frames` may differ: 1 % of them, at least 2."""
    return max(MIN_FRAME_COUNT_TOLERANCE, int(FRAME_COUNT_TOLERANCE_SHARE * num_frames))


def disagreeing_frame_counts(counts: dict[str, int]) -> str | None:
    """Why the cameras' frame counts `{camera: count}` do not agree within the tolerance (None when they do)."""
    longest = max(counts.values())
    tolerance = frame_count_tolerance(longest)
    if longest - min(counts.values()) <= tolerance:
        return None
    listed = ", ".join(f"camera {camera}: {count}" for camera, count in counts.items())
    return f"frame counts differ by more than {tolerance} ({listed})"


def check_camera_frame_counts(records, cameras: list[str], frame_counts: dict[str, int | None]) -> None:
    """Every record's cameras have videos whose frame counts agree (`frame_counts`: {video: count or None}).

    Unreadable videos (None) are left to the decoding loops, which replace or report them. Raises `CameraError`
    naming the list line and the camera file that is too short or too long.
    """
    checked = set()
    for record in records:
        if record.video in checked:
            continue
        checked.add(record.video)
        paths = camera_paths(record.video, cameras)
        counts = {camera: frame_counts.get(path) for camera, path in paths.items()}
        counts = {camera: count for camera, count in counts.items() if count is not None}
        if len(counts) < 2 or disagreeing_frame_counts(counts) is None:
            continue
        median = sorted(counts.values())[len(counts) // 2]
        odd = max(counts, key=lambda camera: abs(counts[camera] - median))
        raise CameraError(
            f"{record.source}: {paths[odd]} has {counts[odd]} frames, but the other cameras' videos of this clip have "
            f"{', '.join(str(counts[c]) for c in counts if c != odd)}: {disagreeing_frame_counts(counts)}. "
            "Synchronised cameras need the same frame rate and length (adhvit-resize-videos keeps every frame)."
        )


def training_camera(seed: int, cameras: list[str]) -> str:
    """The camera a training clip is read from with `--camera_training pooled`: drawn from the clip's seed alone, so
    a resumed run and any number of workers read the same camera for the same sample."""
    return cameras[random.Random(f"camera/{seed}").randrange(len(cameras))]

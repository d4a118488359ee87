# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Reading and checking clip list files (`path label` or `path start_frame end_frame label` per line)."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

from ..configuration_adhvit import HANDS
from .cameras import camera_paths, check_line_cameras


logger = logging.getLogger(__name__)

LABEL_NAMES_FILE = "labels.txt"
# The list file of each split in a hand's data folder (the original ADH-ViT's names).
SPLIT_FILES = {"train": "train_list_video.txt", "validation": "val_list_video.txt", "test": "test_list_video.txt"}
# How many missing videos a message lists before it only gives the count.
MAX_LISTED_MISSING = 5


class ClipListError(ValueError):
    """A clip list (or label-name file) is malformed; the message names the file and line."""


@dataclass(frozen=True)
class ClipRecord:
    """One list line: `video` is an absolute path, `start`/`end` an inclusive frame range or None (whole video)."""

    video: str
    start: int | None
    end: int | None
    label: int
    hand: str
    source: str


class ClipList(list):
    """A list of `ClipRecord`s that also says how many lines `skip_missing` dropped (`num_skipped_missing`)."""

    def __init__(self, records=(), num_skipped_missing: int = 0):
        super().__init__(records)
        self.num_skipped_missing = num_skipped_missing


def resolve_video_path(
    relative: str, data_root: str, data_path: str, video_subdir: str | None = None, cameras: list[str] | None = None
) -> str:
    """Absolute path of a list entry, the first that exists of: `<data_root>/<relative>`,
    `<data_root>/<video_subdir>/<relative>` (the original ADH-ViT's layout: `videos_train/` for the train list,
    `videos_val/` for the others) and `<data_path>/videos/<relative>`; the first when none exists. A `{camera}` path
    (with `cameras`) exists where every camera's video does."""
    if os.path.isabs(relative):
        return relative
    candidates = [os.path.join(data_root, relative)]
    if video_subdir:
        candidates.append(os.path.join(data_root, video_subdir, relative))
    candidates.append(os.path.join(data_path, "videos", relative))
    existing = [path for path in candidates if all(map(os.path.exists, camera_paths(path, cameras).values()))]
    return os.path.abspath((existing or candidates)[0])


def _is_int(token: str) -> bool:
    """ASCII digits with an optional minus: what a list writes. Python's int() also takes '0_1', '+3' and other
    scripts' digits ('３'), which are typos or another file's columns, not labels."""
    return re.fullmatch(r"-?[0-9]+", token) is not None


def _parse_int(token: str, what: str, where: str) -> int:
    if not _is_int(token):
        raise ClipListError(f"{where}: {what} must be an integer, got {token!r}")
    return int(token)


def parse_clip_line(line: str, where: str) -> tuple[str, int | None, int | None, int]:
    """Split one non-empty list line into (path, start, end, label), columns taken from the right."""
    tokens = line.split()
    if len(tokens) < 2:
        raise ClipListError(f"{where}: expected 'path label' or 'path start_frame end_frame label', got {line!r}")
    label = _parse_int(tokens[-1], "label", where)
    # Four or more columns whose 2nd and 3rd from the right are integers form a frame range; otherwise every
    # column but the label belongs to the path (paths may contain spaces).
    if len(tokens) == 3 and _is_int(tokens[1]):
        raise ClipListError(
            f"{where}: expected 'path label' or 'path start_frame end_frame label', got {line!r} (a frame range needs "
            "both start_frame and end_frame)"
        )
    if len(tokens) >= 4 and all(_is_int(t) for t in tokens[-3:-1]):
        start = _parse_int(tokens[-3], "start_frame", where)
        end = _parse_int(tokens[-2], "end_frame", where)
        path = line.rsplit(None, 3)[0]
        if start < 0:
            raise ClipListError(f"{where}: start_frame must be >= 0, got {start}")
        if start > end:
            raise ClipListError(f"{where}: start_frame {start} > end_frame {end}")
        return path, start, end, label
    return line.rsplit(None, 1)[0], None, None, label


def _content_lines(path: str):
    """(line number, stripped text) of each non-blank, non-comment line; non-UTF-8 bytes raise ClipListError.

    A UTF-8 byte order mark (Windows editors write one) is dropped, so it never becomes part of a path or a name.
    """
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if line_number == 1 else "utf-8").strip()
            except UnicodeDecodeError as error:
                raise ClipListError(
                    f"{path}:{line_number}: not UTF-8 text (byte {raw[error.start]:#04x} at column {error.start + 1})"
                ) from None
            if line and not line.startswith("#"):
                yield line_number, line


def read_clip_list(
    list_path: str,
    data_root: str | None,
    num_labels: int,
    hand: str,
    skip_missing: bool = False,
    video_subdir: str | None = None,
    cameras: list[str] | None = None,
) -> ClipList:
    """Read and check a clip list; returns `ClipRecord`s (a `ClipList` with `num_skipped_missing`).

    Relative paths resolve against `data_root` (default: the list's folder), failing that
    `<data_root>/<video_subdir>` (the original ADH-ViT's `videos_train`/`videos_val`), failing that
    `<list folder>/videos`.
    Raises `ClipListError` naming the file and line for malformed lines, non-integer or out-of-range labels,
    start > end, an empty list, and missing videos (unless `skip_missing`, which drops them and logs the count).
    With `cameras` every line's video path holds `{camera}` (`data.cameras`) and a clip is missing when any camera's
    video is; without, a `{camera}` path is refused (`CameraError`, naming the line).
    """
    if hand not in HANDS:
        raise ValueError(f"hand must be one of {HANDS}, got {hand!r}")
    if not os.path.isfile(list_path):
        raise ClipListError(f"{list_path}: clip list not found")
    data_path = os.path.dirname(os.path.abspath(list_path))
    data_root = data_root or data_path
    records, missing = [], []
    for line_number, line in _content_lines(list_path):
        where = f"{list_path}:{line_number}"
        path, start, end, label = parse_clip_line(line, where)
        check_line_cameras(path, cameras, where)
        if not 0 <= label < num_labels:
            raise ClipListError(f"{where}: label {label} is out of range for {num_labels} classes")
        video = resolve_video_path(path, data_root, data_path, video_subdir, cameras)
        record = ClipRecord(video=video, start=start, end=end, label=label, hand=hand, source=where)
        for path in camera_paths(video, cameras).values():
            if os.path.exists(path) and not os.path.isfile(path):  # found, but nothing a decoder can read
                kind = "a directory" if os.path.isdir(path) else "not a regular file (a FIFO, socket or device)"
                raise ClipListError(f"{where}: {path} is {kind}, not a video file")
        absent = [path for path in camera_paths(video, cameras).values() if not os.path.isfile(path)]
        if absent:
            missing.append((record, absent[0]))
        else:
            records.append(record)
    if missing and not skip_missing:
        listed = ", ".join(f"{video} ({r.source})" for r, video in missing[:MAX_LISTED_MISSING])
        more = f" and {len(missing) - MAX_LISTED_MISSING} more" if len(missing) > MAX_LISTED_MISSING else ""
        raise ClipListError(
            f"{list_path}: {len(missing)} video(s) not found: {listed}{more}. "
            "Check --*_data_root or pass --skip_missing to drop them."
        )
    if missing:
        logger.warning("%s: skipped %d missing video(s) (--skip_missing)", list_path, len(missing))
    if not records:
        raise ClipListError(f"{list_path}: the clip list has no usable clips")
    return ClipList(records, num_skipped_missing=len(missing))


def _id_list(ids: list[int]) -> str:
    more = f" and {len(ids) - MAX_LISTED_MISSING} more" if len(ids) > MAX_LISTED_MISSING else ""
    return ", ".join(map(str, ids[:MAX_LISTED_MISSING])) + more


def read_label_names(data_path: str, num_labels: int | None = None) -> dict[int, str] | None:
    """`{id: name}` from `<data_path>/labels.txt` (`id name` per line), or None when there is no such file.

    The ids must be exactly 0 .. num_labels - 1 (0 .. the largest id when `num_labels` is None) and the names
    distinct: a `ClipListError` naming labels.txt lists the missing and extra ids, or the line of a repeated name
    (two ids of one name would make label2id map the name to only one of them).
    """
    path = os.path.join(data_path, LABEL_NAMES_FILE)
    if not os.path.isfile(path):
        return None
    names, lines_of_names = {}, {}
    for line_number, line in _content_lines(path):
        where = f"{path}:{line_number}"
        parts = line.split(None, 1)
        if len(parts) != 2:
            raise ClipListError(f"{where}: expected 'id name', got {line!r}")
        label_id = _parse_int(parts[0], "label id", where)
        name = parts[1].strip()
        if label_id in names:
            raise ClipListError(f"{where}: label id {label_id} appears twice")
        if name in lines_of_names:
            raise ClipListError(
                f"{where}: label name {name!r} appears twice (also line {lines_of_names[name]}); "
                "names must be distinct"
            )
        names[label_id], lines_of_names[name] = name, line_number
    expected = set(range(num_labels if num_labels is not None else max(names, default=-1) + 1))
    missing, extra = sorted(expected - set(names)), sorted(set(names) - expected)
    if missing or extra or not names:
        problems = [f"missing ids {_id_list(missing)}"] if missing else []
        problems += [f"extra ids {_id_list(extra)} (ids run from 0 to {len(expected) - 1})"] if extra else []
        raise ClipListError(
            f"{path}: {len(names)} label name(s) for {len(expected)} classes: {'; '.join(problems) or 'no labels'}"
        )
    return names

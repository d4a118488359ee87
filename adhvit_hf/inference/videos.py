# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Which videos a command processes: a video file, a folder of videos or a list file, with the paths checked."""

import os
from pathlib import Path

from ..utils import UserInputError


VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")


def check_video_path(path: str | os.PathLike) -> Path:
    """`path` as a Path, refusing what is certainly no video file: a URL or a directory. A missing or unreadable
    file is left to the decoder, so it is reported (and skipped) with the other videos that fail."""
    text = str(path)
    if "://" in text:
        raise UserInputError(f"{text}: URLs are not supported here; download the video and give its path")
    if os.path.isdir(text):
        raise UserInputError(f"{text}: is a directory, not a video (adhvit-extract --videos takes a folder of videos)")
    return Path(text)


def _read_video_list(source: Path) -> list[Path] | None:
    """The paths in a video list file (relative ones relative to the list), None when `source` is not text."""
    try:
        text = source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return None
    videos = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            videos.append(check_video_path(source.parent / line if "://" not in line else line))
        except UserInputError as error:
            raise UserInputError(f"{source}:{line_number}: {error}") from None
    if not videos:
        raise UserInputError(f"{source}: the video list is empty.")
    return videos


def list_videos(source: str | os.PathLike) -> list[Path]:
    """Videos to process: one video file, the video files directly inside a folder (sorted), or the paths listed in
    a UTF-8 text file, one per line (relative paths are relative to the list file; blank lines and lines starting
    with # are skipped). A file with a video extension, or one that is not text, is a video.

    Output files are named after the video's file name without extension, so two videos with the same name are an
    error.
    """
    if "://" in str(source):
        raise UserInputError(f"{source}: URLs are not supported for --videos; download the video and give its path")
    source = Path(source)
    if source.is_dir():
        videos = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
        if not videos:
            raise UserInputError(f"{source}: no video files ({', '.join(VIDEO_EXTENSIONS)}) in this folder.")
    elif source.is_file():
        listed = None if source.suffix.lower() in VIDEO_EXTENSIONS else _read_video_list(source)
        videos = [source] if listed is None else listed
    else:
        raise UserInputError(f"{source}: no such video, folder or video list file.")
    names = {}
    for video in videos:
        if video.stem in names:
            raise UserInputError(
                f"{names[video.stem]} and {video} would both write outputs named {video.stem!r}; rename one of them."
            )
        names[video.stem] = video
    return videos

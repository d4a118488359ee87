#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Make a training copy of a video folder: every video re-encoded at a small size for cheap random access.

HA-ViD's videos are 1280x720 with long keyframe intervals, so a training clip decodes from a keyframe up to
hundreds of frames before its first frame, at full size. Training crops 224 px from a short side of 256-320 px,
so a one-time copy at `--short_side` makes every later epoch cheaper. The copy mirrors SRC's folder tree and file
names and keeps every frame at the source's frame rate, so the `[start, end]` frame ranges of the clip lists stay
valid with the data root pointed at the `--output_dir`. Every copy is H.264 in MP4, whatever the source's container
(a.avi and b.webm give a.mp4 and b.mp4: lists that name them need the new suffix; the summary says how many); a
source smaller than --short_side keeps its size; a rotated (phone) video is turned in the copy as players show it.
Each copy is checked before it is moved into place: its frame count against its source, and frames read at random
positions with --backend (the decoder training will use) against the same frames decoded in order; a copy that
differs is refused. Audio is dropped.

Encoder settings (libx264 through PyAV; its wheels ship libx264), measured with `benchmarks/resize_choices.py`
on a 1280x720 30 fps synthetic stand-in (600 frames of moving block noise, GOP 250, 3 B-frames, 9.1 MB), copied at
short side 256 (456x256): CPU time per training clip (16 frames at stride 4, random start, decoded with PyAV on one
thread from the keyframe before it, as `PyAVVideoReader` does), and the copy's size. A shared 2-core VM under load,
so only the ratios matter:

    | copy                          | CPU ms per clip | size    |
    |-------------------------------|-----------------|---------|
    | none (the 720p source)        | 965             | 9.1 MB  |
    | GOP 8,   fastdecode           | 98              | 14.7 MB |
    | GOP 16,  fastdecode (default) | 102             | 14.0 MB |
    | GOP 32,  fastdecode           | 104             | 13.3 MB |
    | GOP 64,  fastdecode           | 200             | 12.9 MB |
    | GOP 250, fastdecode           | 296             | 12.7 MB |
    | GOP 16,  no tune              | 289             | 12.3 MB |
    | GOP 32,  no tune              | 305             | 11.6 MB |

The default copy decodes a clip about 9.5x cheaper than the source. A clip spans 64 frames: up to a GOP of about
32 the frames decoded before the clip's start cost little, beyond it they dominate; GOP 16 bounds the worst case
at 15 extra frames. x264's "fastdecode" tuning (no CABAC, no deblocking, no weighted prediction) is worth about
3x in decoding for about 10 % in size; B-frames are off so decoding order is presentation order. CRF 20 keeps
the copy visually close to the source. (Block noise compresses badly at small sizes, so this stand-in's copies are
larger than its source; real recordings shrink.)

Runs in parallel over files (one process each, one thread per process), is resumable (finished copies are
skipped; each copy is written to a hidden temporary file and moved into place only when complete), and a video
that cannot be converted is listed at the end while the others are still converted (exit status 1).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np
import torch
from tqdm import tqdm

from adhvit_hf.data.decoding import (
    VideoDecodeError,
    add_backend_argument,
    count_frames,
    decode_in_order,
    open_video,
    video_info,
)
from adhvit_hf.data.encoding import RESIZE_CRF, RESIZE_GOP_SIZE, even_resized_size, transcode
from adhvit_hf.utils import add_output_dir_argument, atomic_write, configure_logging, require_output_dir, run_cli


logger = logging.getLogger(__name__)

# Video files by suffix; every copy is MP4 (H.264 in AVI gave decord wrong frames on random access).
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".wmv", ".flv", ".3gp")
COPY_SUFFIX = ".mp4"
# Frames of each copy read back at random positions (with the first and the last) to check it.
CHECKED_FRAMES = 8


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="adhvit-resize-videos",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("src", help="Folder with the original videos (searched recursively).")
    add_output_dir_argument(parser, help="Folder for the copies; gets the same tree and file names.")
    parser.add_argument("dst", nargs="?", help=argparse.SUPPRESS)  # the output folder before --output_dir
    parser.add_argument(
        "--short_side",
        type=int,
        required=True,
        help="Short side of the copies in pixels (e.g. 256 or 320 for 224-pixel training crops).",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="Videos converted in parallel.")
    parser.add_argument("--gop_size", type=int, default=RESIZE_GOP_SIZE, help="Keyframe interval of the copies.")
    parser.add_argument("--crf", type=int, default=RESIZE_CRF, help="x264 constant rate factor (lower: better).")
    add_backend_argument(parser)
    args = parser.parse_args(argv)
    if args.dst is not None:
        if args.output_dir is not None:
            parser.error(f"two output folders: {args.dst} and --output_dir {args.output_dir}")
        print(
            f"{parser.prog}: warning: the output folder as a second argument is deprecated, use --output_dir",
            file=sys.stderr,
        )
        args.output_dir = args.dst
    require_output_dir(parser, args)
    for name, low in (("short_side", 2), ("workers", 1), ("gop_size", 1)):
        if getattr(args, name) < low:
            parser.error(f"--{name} must be >= {low}, got {getattr(args, name)}")
    if not 0 <= args.crf <= 51:
        parser.error(f"--crf must be in 0..51, got {args.crf}")
    return args


def find_videos(src: str) -> list[str]:
    """Paths of the videos under `src`, relative to it, sorted."""
    found = []
    for root, folders, files in os.walk(src):
        folders.sort()
        found.extend(
            os.path.relpath(os.path.join(root, name), src)
            for name in sorted(files)
            if os.path.splitext(name)[1].lower() in VIDEO_SUFFIXES and not name.startswith(".")
        )
    return found


def copy_name(relative: str) -> str:
    """The copy's path for a source path (relative to SRC): the same, with the suffix .mp4 (.MP4 stays)."""
    stem, suffix = os.path.splitext(relative)
    return relative if suffix.lower() == COPY_SUFFIX else stem + COPY_SUFFIX


def check_copy(source: str, copy_path: str, num_frames: int, backend: str) -> None:
    """Refuse a copy whose frames, read at random positions with `backend`, differ from the same frames decoded
    in order (what a clip's frame range means), or whose frame count differs from its source's."""
    copied = count_frames(copy_path)
    if copied != num_frames:
        raise VideoDecodeError(f"{source}: the copy has {copied} frames but the source has {num_frames}; not written")
    generator = np.random.default_rng(num_frames)
    wanted = sorted({0, num_frames - 1, *generator.integers(0, num_frames, CHECKED_FRAMES - 2).tolist()})
    in_order = decode_in_order(copy_path, wanted)
    order = generator.permutation(len(wanted))  # out of order, as training asks for clips
    reader = open_video(copy_path, backend=backend)
    for slot, frame in zip(order, reader.get_frames([wanted[slot] for slot in order])):
        if not torch.equal(frame, in_order[slot]):
            raise VideoDecodeError(
                f"{source}: the copy's frame {wanted[slot]} read with {reader.backend} differs from the same frame "
                "decoded in order; not written"
            )


def convert_one(source: str, target: str, short_side: int, gop_size: int, crf: int, backend: str = "auto") -> dict:
    """Convert one video (run in a worker process); returns its summary row, with "error" set when it failed."""
    row = {"source": source, "status": "failed", "frames": 0, "seconds": 0.0, "bytes_in": 0, "bytes_out": 0}
    try:
        row["bytes_in"] = os.path.getsize(source)
        # transcode decodes with PyAV: the source is counted by the same decoder
        num_frames, fps, height, width = video_info(source, backend="pyav")
        size = even_resized_size(height, width, short_side)
        row["kept_size"] = size == (height, width)
        if os.path.exists(target):
            copy = video_info(target, backend=backend)
            if (copy.num_frames, copy.height, copy.width) != (num_frames, *size):
                raise VideoDecodeError(
                    f"{target}: exists but is not a {short_side}-pixel copy of {source} with {num_frames} frames; "
                    "remove it to convert again"
                )
            row["status"] = "skipped"
        else:
            with atomic_write(target, "w+b") as file:
                written = transcode(source, file, short_side, gop_size=gop_size, crf=crf)
                file.flush()
                if written != num_frames:
                    raise VideoDecodeError(
                        f"{source}: decoded {written} frames but the source has {num_frames}; not written"
                    )
                check_copy(source, file.temporary_path, num_frames, backend)
            row["status"] = "converted"
        row.update(frames=num_frames, seconds=num_frames / fps if fps else 0.0, bytes_out=os.path.getsize(target))
    except VideoDecodeError as error:
        row["error"] = str(error)
    except OSError as error:
        row["error"] = f"{source}: {error.strerror or error}"
    return row


def summary_lines(rows: list[dict]) -> list[str]:
    done = [row for row in rows if row["status"] != "failed"]
    count = {status: sum(row["status"] == status for row in rows) for status in ("converted", "skipped", "failed")}
    size_in, size_out = (sum(row[key] for row in done) / 2**30 for key in ("bytes_in", "bytes_out"))
    lines = [
        (
            f"{len(rows)} videos: {count['converted']} converted, {count['skipped']} already done, "
            f"{count['failed']} failed"
        ),
        (
            f"{sum(row['seconds'] for row in done) / 3600:.2f} hours of video, {sum(row['frames'] for row in done)} "
            f"frames; size {size_in:.2f} GiB -> {size_out:.2f} GiB"
        ),
    ]
    renamed = [row for row in done if copy_name(row["source"]) != row["source"]]
    if renamed:
        suffixes = ", ".join(sorted({os.path.splitext(row["source"])[1] for row in renamed}))
        lines.append(
            f"{len(renamed)} copies are named {COPY_SUFFIX} where the source is {suffixes}: clip lists that name "
            f"those sources need the {COPY_SUFFIX} name with the data root at the copies"
        )
    kept = sum(row.get("kept_size", False) for row in done)
    if kept:
        lines.append(f"{kept} video(s) already had a short side <= --short_side and kept their size (never upscaled)")
    lines += [f"failed: {row['error']}" for row in rows if row["status"] == "failed"]
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_logging(logging.INFO)
    src, dst = os.path.abspath(args.src), os.path.abspath(args.output_dir)
    if not os.path.isdir(src):
        raise ValueError(f"{args.src}: no such folder")
    if dst == src or dst.startswith(src + os.sep):
        raise ValueError(
            f"--output_dir {args.output_dir}: must not be {args.src} or inside it (the copies would be converted again)"
        )
    videos = find_videos(src)
    if not videos:
        raise ValueError(f"{args.src}: no videos ({', '.join(VIDEO_SUFFIXES)}) found")
    sources_of = {}
    for rel in videos:
        sources_of.setdefault(copy_name(rel), []).append(rel)
    for copy, sources in sources_of.items():
        if len(sources) > 1:
            raise ValueError(
                f"{' and '.join(os.path.join(args.src, rel) for rel in sources)} would both be copied to "
                f"{os.path.join(args.output_dir, copy)}; rename one of them"
            )
    jobs = [
        (
            os.path.join(src, rel),
            os.path.join(dst, copy_name(rel)),
            args.short_side,
            args.gop_size,
            args.crf,
            args.backend,
        )
        for rel in videos
    ]
    progress = tqdm(total=len(jobs), unit="video", desc="resize")
    rows = []
    if args.workers == 1:  # in this process: no worker start-up
        for job in jobs:
            rows.append(convert_one(*job))
            progress.update()
    else:
        # forkserver: a forked copy of a process that already ran decoder threads (decord's, a caller's) can hang.
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=min(args.workers, len(jobs)), mp_context=context) as pool:
            for future in as_completed([pool.submit(convert_one, *job) for job in jobs]):
                rows.append(future.result())
                progress.update()
    progress.close()
    rows.sort(key=lambda row: row["source"])
    for line in summary_lines(rows):
        logger.info(line)
    return 1 if any(row["status"] == "failed" for row in rows) else 0


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

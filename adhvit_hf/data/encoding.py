# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Writing uint8 frames to H.264 MP4 with PyAV (demo data, test videos, benchmarks)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from fractions import Fraction

import numpy as np

from .decoding import DAMAGED, _decode_error, _quarter_turns, _turned_size


def write_mp4(
    path: str,
    frames: Iterable[np.ndarray],
    fps: int = 30,
    gop_size: int = 8,
    crf: int = 12,
) -> None:
    """Encode (H, W, 3) uint8 frames to `path` (libx264, yuv420p, no B-frames, a keyframe every `gop_size`).

    One encoder thread and fixed settings make the bytes depend on the frames alone, so output is reproducible;
    a short GOP keeps random access cheap for samplers that decode a few frames per clip.
    """
    import av

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with av.open(path, mode="w", format="mp4") as container:
        stream = None
        for frame in frames:
            frame = np.ascontiguousarray(frame, dtype=np.uint8)
            if stream is None:
                stream = container.add_stream("libx264", rate=fps)
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.thread_count = 1
                stream.codec_context.gop_size = gop_size
                stream.codec_context.max_b_frames = 0
                stream.options = {"crf": str(crf), "preset": "veryfast", "sc_threshold": "0", "threads": "1"}
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        if stream is None:
            raise ValueError(f"{path}: no frames to write")
        for packet in stream.encode():
            container.mux(packet)


# x264 settings for training copies (see adhvit_hf.cli.resize_videos for the measurements behind them): a short
# keyframe interval bounds the frames decoded before a clip's first frame, no B-frames keeps decoding order equal to
# presentation order, and "fastdecode" (no CABAC, no deblocking, no weighted prediction) makes each frame cheaper.
RESIZE_GOP_SIZE = 16
RESIZE_CRF = 20
RESIZE_TUNE = "fastdecode"
FULL_RANGE = 2  # AVCOL_RANGE_JPEG


def even_resized_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(h, w) with the short side at `short_side` (never larger than the source's: no upscaling) and the aspect
    ratio kept, each rounded to even (yuv420p)."""
    scale = min(1.0, short_side / min(height, width))
    return tuple(max(2, round(side * scale / 2) * 2) for side in (height, width))


def transcode(
    source: str,
    target,
    short_side: int,
    gop_size: int = RESIZE_GOP_SIZE,
    crf: int = RESIZE_CRF,
    tune: str | None = RESIZE_TUNE,
    threads: int = 1,
) -> int:
    """Re-encode the first video stream of `source` to H.264 MP4 in `target` (path or writable file) at `short_side`.

    Every frame is kept, in presentation order, at the source's average frame rate (so a frame index means the same
    frame in both files); a display-matrix rotation is applied to the pixels, as players apply it, so the copy
    shows the same picture on every reader; audio and other streams are dropped. Returns the number of frames
    written; a source that cannot be decoded raises `VideoDecodeError` naming it.
    """
    import av

    try:
        return _transcode(source, target, short_side, gop_size, crf, tune, threads)
    except (av.FFmpegError, IndexError, UnicodeDecodeError) as error:
        raise _decode_error(source, f"cannot convert video ({DAMAGED})", error) from error


def _transcode(source, target, short_side, gop_size, crf, tune, threads) -> int:
    import av

    written = 0
    with av.open(source) as reader, av.open(target, mode="w", format="mp4") as writer:
        source_stream = reader.streams.video[0]
        source_stream.thread_count = threads
        rate = source_stream.average_rate or source_stream.guessed_rate or 30
        frames = reader.decode(source_stream)
        first = next(frames, None)
        if first is None:
            raise _decode_error(str(source), "the video has no frames")
        turns = _quarter_turns(first.rotation)
        height, width = even_resized_size(*_turned_size(first.height, first.width, first.rotation), short_side)
        stream = writer.add_stream("libx264", rate=rate)
        time_base = 1 / Fraction(rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.thread_count = threads
        stream.codec_context.gop_size = gop_size
        stream.codec_context.max_b_frames = 0
        options = {
            "crf": str(crf),
            "preset": "veryfast",
            "sc_threshold": "0",
            "threads": str(threads),
            "x264-params": f"keyint={gop_size}:min-keyint={gop_size}:bframes=0",
        }
        if tune:
            options["tune"] = tune
        stream.options = options
        for frame in itertools.chain([first], frames):
            if turns:
                turned = np.ascontiguousarray(np.rot90(frame.to_ndarray(format="rgb24"), k=turns))
                frame = av.VideoFrame.from_ndarray(turned, format="rgb24")
            # Full-range sources (MJPEG's yuvj420p) are scaled to the copy's limited range, or its colours spread.
            full_range = frame.color_range == FULL_RANGE or frame.format.name.startswith("yuvj")
            frame = frame.reformat(
                width=width,
                height=height,
                format="yuv420p",
                interpolation="AREA",
                src_color_range="JPEG" if full_range else None,
                dst_color_range="MPEG",
            )
            frame.pts, frame.time_base = written, time_base
            writer.mux(stream.encode(frame))
            written += 1
        writer.mux(stream.encode())
    return written

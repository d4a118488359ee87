# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Test videos of other codecs and containers (AV1, VP9, MJPEG/mpeg4 in AVI, 10-bit HEVC), rotated phone-style
videos and cut-short files, all written with PyAV (its wheels ship the encoders), plus torchcodec's skip reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from adhvit_hf.data.decoding import backend_problem


TORCHCODEC_PROBLEM = backend_problem("torchcodec")
needs_torchcodec = pytest.mark.skipif(TORCHCODEC_PROBLEM is not None, reason=str(TORCHCODEC_PROBLEM))
ALL_BACKENDS = [
    "decord",
    "pyav",
    pytest.param("torchcodec", marks=needs_torchcodec),
]
needs_ffmpeg_cli = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="no ffmpeg command: apt-get install ffmpeg"
)

# codec name -> (container format, suffix, pixel format, encoder options)
CODECS = {
    "av1_mp4": ("libsvtav1", "mp4", ".mp4", "yuv420p", {"preset": "12"}),
    "av1_webm": ("libsvtav1", "webm", ".webm", "yuv420p", {"preset": "12"}),
    "vp9_webm": ("libvpx-vp9", "webm", ".webm", "yuv420p", {}),
    "mjpeg_avi": ("mjpeg", "avi", ".avi", "yuvj420p", {}),
    "mpeg4_avi": ("mpeg4", "avi", ".avi", "yuv420p", {"qscale": "2"}),
    "hevc_10bit": ("libx265", "mp4", ".mp4", "yuv420p10le", {"x265-params": "log-level=error"}),
    "h264": ("libx264", "mp4", ".mp4", "yuv420p", {"crf": "12", "bf": "0", "threads": "1"}),
}


def smooth_frames(num_frames: int = 12, height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """Smooth random frames (blurred noise: codecs keep them close, and resizing them is not trivial)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (num_frames, height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
    fine = coarse.repeat(8, axis=1).repeat(8, axis=2)[:, :height, :width]
    return np.clip(fine + rng.normal(0, 6, fine.shape), 0, 255).astype(np.uint8)


def write_codec_video(
    folder, kind: str, frames: np.ndarray, name: str | None = None, fps: int = 25, rotation: int = 0
):
    """Write `frames` as `kind` (a key of CODECS) to folder/<name or kind><suffix>; `rotation` (degrees
    counter-clockwise, as FFmpeg reports it) sets the track's display matrix, as phones do. Returns the path."""
    import av

    codec, container_format, suffix, pix_fmt, options = CODECS[kind]
    path = Path(folder) / f"{name or kind}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = pix_fmt
        stream.options = dict(options)
        if rotation:
            stream.set_display_rotation(rotation)
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())
    return str(path)


def cut_video(source, target, fraction: float) -> str:
    """The first `fraction` of the bytes of `source` (a faststart mp4 keeps its index, so it still opens)."""
    data = Path(source).read_bytes()
    Path(target).write_bytes(data[: int(len(data) * fraction)])
    return str(target)


def write_faststart_h264(path, frames: np.ndarray) -> str:
    """H.264 mp4 with its index (moov) before the frames, as streaming-friendly encoders write it."""
    import av

    with av.open(str(path), mode="w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "bf": "0", "threads": "1"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return str(path)


def decode_all_pyav(path) -> np.ndarray:
    """Every frame of `path` with PyAV as stored (no rotation applied), in presentation order."""
    import av

    with av.open(str(path)) as container:
        frames = sorted(container.decode(video=0), key=lambda frame: frame.pts)
        return np.stack([frame.to_ndarray(format="rgb24") for frame in frames])

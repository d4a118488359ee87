"""Writing uint8 frames to H.264 MP4 with PyAV (demo data, test videos, benchmarks)."""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np


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

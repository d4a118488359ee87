# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Tiny test videos: frames that say which index they are, noise, two hands that switch, odd and broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from adhvit_hf.data.encoding import write_mp4


# Frame i is a flat grey of level i * LEVEL_STEP, so a decoded frame's index can be read back from its mean.
LEVEL_STEP = 8


def index_frames(num_frames: int, height: int = 32, width: int = 32) -> np.ndarray:
    """(num_frames, height, width, 3) uint8; frame i has every pixel at (i * LEVEL_STEP) % 256."""
    levels = (np.arange(num_frames) * LEVEL_STEP % 256).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (num_frames, height, width, 3)).copy()


def write_index_video(path, num_frames: int = 16, height: int = 32, width: int = 32, fps: int = 25) -> str:
    """Write an index video (see `index_frames`) to `path`; returns `str(path)`."""
    write_mp4(str(path), index_frames(num_frames, height, width), fps=fps, gop_size=4, crf=0)
    return str(path)


def decoded_indices(frames) -> list[int]:
    """Frame indices read back from decoded index-video frames (N, H, W, 3)."""
    means = np.asarray(frames, dtype=np.float64).reshape(len(frames), -1).mean(axis=1)
    return [int(round(m / LEVEL_STEP)) for m in means]


def write_odd_video(path, kind: str, num_frames: int = 40, size: int = 32) -> str:
    """A tiny H.264 mp4 of distinct noise frames that trips naive decoders; returns `str(path)`.

    kind: "vfr" (frame durations from 10 to 90 ms), "audio" (an AAC track beside the video), "bframes" (3
    B-frames, reordered presentation) or "long_gop" (one keyframe for the whole video).
    """
    from fractions import Fraction

    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = num_frames if kind == "long_gop" else 12
        stream.codec_context.max_b_frames = 3 if kind == "bframes" else 0
        stream.options = {"crf": "18", "preset": "veryfast", "sc_threshold": "0", "threads": "1"}
        if kind == "vfr":
            stream.codec_context.time_base = Fraction(1, 1000)
        audio = container.add_stream("aac", rate=16000) if kind == "audio" else None
        pts = 0
        for index in range(num_frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), format="rgb24")
            if kind == "vfr":
                frame.pts, frame.time_base = pts, Fraction(1, 1000)
                pts += 10 + 20 * (index % 5)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if audio is not None:
            samples = int(16000 * (num_frames + 10) / 25)  # a little longer than the video, as recordings often are
            for start in range(0, samples, 1024):
                chunk = np.zeros((1, min(1024, samples - start)), dtype=np.float32)
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 16000, start
                container.mux(audio.encode(frame))
            container.mux(audio.encode())
    return str(path)


def decode_everything(path) -> torch.Tensor:
    """Ground truth: every frame of `path` decoded in one pass with PyAV, in presentation order, (N, H, W, 3)."""
    import av

    with av.open(str(path)) as container:
        frames = sorted(container.decode(video=0), key=lambda frame: frame.pts)
        return torch.from_numpy(np.stack([frame.to_ndarray(format="rgb24") for frame in frames]))


def write_garbled_video(path) -> str:
    """A faststart H.264 mp4 that opens (its index is intact) but has 300 bytes garbled in frame 30's data."""
    import av

    path = Path(path)
    rng = np.random.default_rng(0)
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast", "bf": "0", "threads": "1"}
        for _ in range(48):
            frame = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    with av.open(str(path)) as container:
        offsets = [packet.pos for packet in container.demux(video=0) if packet.size]
    data = bytearray(path.read_bytes())
    assert data.find(b"moov") < data.find(b"mdat")  # faststart: the index comes first and stays intact
    data[offsets[30] : offsets[30] + 300] = b"\xff" * 300
    path.write_bytes(bytes(data))
    return str(path)


def write_video(path, frames: np.ndarray, fps: int = 10) -> str:
    """Encodes uint8 frames (N, H, W, 3) losslessly in luma (crf 0) and returns the path as a string."""
    write_mp4(str(path), frames, fps=fps, gop_size=4, crf=0)
    return str(path)


def noise_frames(num_frames: int, height: int = 32, width: int = 64, seed: int = 0) -> np.ndarray:
    """Random uint8 frames (num_frames, height, width, 3)."""
    return np.random.default_rng(seed).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


def two_hand_frames(num_frames: int, lh_switch: int, rh_switch: int, size: int = 32) -> np.ndarray:
    """Grey frames whose left half turns white at frame `lh_switch` and right half at `rh_switch`."""
    frames = np.full((num_frames, size, size, 3), 16, dtype=np.uint8)
    frames[lh_switch:, :, : size // 2] = 240
    frames[rh_switch:, :, size // 2 :] = 240
    return frames

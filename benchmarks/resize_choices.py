# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Decoding cost of a training clip on `adhvit-resize-videos` copies against GOP size and x264 tuning.

Writes a 1280x720 30 fps stand-in (moving block noise, GOP 250, 3 B-frames), copies it at --short_side with each
setting, and prints CPU-ms per 16x4 clip (PyAV, one thread) and the copy's size. The figures are in
adhvit_hf/cli/resize_videos.py. Usage: python -m benchmarks.resize_choices [--short_side 256] [--clips 10]
"""

import argparse
import os
import tempfile
import time

import av
import numpy as np
import torch

from adhvit_hf.data.decoding import PyAVVideoReader
from adhvit_hf.data.encoding import transcode


SETTINGS = [
    (8, "fastdecode"),
    (16, "fastdecode"),
    (32, "fastdecode"),
    (64, "fastdecode"),
    (250, "fastdecode"),
    (16, None),
    (32, None),
]


def write_stand_in(path: str, num_frames: int = 600) -> None:
    rng = np.random.default_rng(0)
    texture = np.kron(rng.integers(0, 256, (100, 170, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8))
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.codec_context.gop_size, stream.codec_context.max_b_frames = 250, 3
        stream.options = {"crf": "23", "preset": "veryfast", "sc_threshold": "0"}
        for index in range(num_frames):
            dy, dx = (index // 2) % 64, index % 64
            frame = texture[dy : dy + 720, dx : dx + 1280].copy()
            frame[..., 0] += np.uint8(index % 256)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def clip_cost_ms(path: str, starts: list[int]) -> float:
    reader = PyAVVideoReader(path)
    started = time.process_time()
    for start in starts:
        reader.get_frames(list(range(start, start + 64, 4)))
    return (time.process_time() - started) / len(starts) * 1000


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short_side", type=int, default=256)
    parser.add_argument("--clips", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as work_dir:
        source = os.path.join(work_dir, "source.mp4")
        write_stand_in(source)
        starts = torch.randint(0, 600 - 64, (args.clips,), generator=torch.Generator().manual_seed(0)).tolist()
        print(f"source: {clip_cost_ms(source, starts):.0f} CPU-ms per clip, {os.path.getsize(source) / 1e6:.1f} MB")
        for gop_size, tune in SETTINGS:
            copy = os.path.join(work_dir, f"gop{gop_size}_{tune}.mp4")
            transcode(source, copy, args.short_side, gop_size=gop_size, tune=tune)
            print(
                f"GOP {gop_size}, tune {tune}: {clip_cost_ms(copy, starts):.0f} CPU-ms per clip, "
                f"{os.path.getsize(copy) / 1e6:.1f} MB",
                flush=True,
            )


if __name__ == "__main__":
    main()

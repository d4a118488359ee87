"""One small video-reader interface over decord (preferred) and PyAV (portable fallback)."""

from __future__ import annotations

import importlib.util
import logging
import os
from fractions import Fraction

import numpy as np
import torch


logger = logging.getLogger(__name__)

BACKENDS = ("auto", "decord", "pyav")
# PyAV decodes forward from the previous keyframe; beyond this many frames it is cheaper to seek again.
PYAV_MAX_DECODE_GAP = 32


class VideoDecodeError(ValueError):
    """A video could not be opened or decoded; the message names the file."""


def available_backend(backend: str = "auto") -> str:
    """The backend `open_video` will use: "decord" when requested or importable for "auto", else "pyav"."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "decord" if importlib.util.find_spec("decord") is not None else "pyav"
    return backend


def _to_rgb_tensor(frames: np.ndarray) -> torch.Tensor:
    """(N, H, W[, C]) uint8 array with 1, 3 or 4 channels to a (N, H, W, 3) uint8 tensor."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames))
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(-1)
    if tensor.shape[-1] == 1:
        tensor = tensor.expand(*tensor.shape[:-1], 3)
    return tensor[..., :3].contiguous()


class DecordVideoReader:
    """decord reader; resizing is done by decord's decoder-side scaler, one reader per requested size."""

    def __init__(self, path: str, num_threads: int = 1):
        # Imported here, never at package import: importing decord before CUDA is set up has crashed processes.
        import decord

        self.path = path
        self._decord = decord
        self._num_threads = num_threads
        self._readers = {None: self._open(-1, -1)}
        first = self._readers[None]
        self.num_frames = len(first)
        self.fps = float(first.get_avg_fps())
        if self.num_frames == 0:
            raise VideoDecodeError(f"{path}: the video has no frames")
        self.height, self.width = first[0].shape[:2]

    def _open(self, width: int, height: int):
        try:
            return self._decord.VideoReader(self.path, width=width, height=height, num_threads=self._num_threads)
        except Exception as error:  # decord raises its own DECORDError and RuntimeError
            raise VideoDecodeError(f"{self.path}: cannot open video ({error})") from error

    def get_frames(self, indices, size: tuple[int, int] | None = None) -> torch.Tensor:
        """Frames at `indices` (clamped to the video) as uint8 (N, H, W, 3), resized to `size` = (h, w) if given."""
        key = None if size is None or tuple(size) == (self.height, self.width) else tuple(size)
        if key not in self._readers:
            self._readers[key] = self._open(key[1], key[0])
        clamped = np.clip(np.asarray(indices, dtype=np.int64), 0, self.num_frames - 1)
        try:
            frames = self._readers[key].get_batch(clamped.tolist()).asnumpy()
        except self._decord.DECORDError as error:
            # decord 0.6 fails to copy frames of some widths (e.g. 24 or 48 pixels): PyAV decodes the same frames.
            logger.debug("%s: decord failed (%s); decoding with PyAV", self.path, error)
            return PyAVVideoReader(self.path, num_threads=self._num_threads).get_frames(clamped, size)
        return _to_rgb_tensor(frames)


class PyAVVideoReader:
    """PyAV reader: seeks to the keyframe before each run of wanted frames and decodes forward."""

    def __init__(self, path: str, num_threads: int = 1):
        import av

        self.path = path
        try:
            self._container = av.open(path)
            self._stream = self._container.streams.video[0]
        except (av.FFmpegError, IndexError, UnicodeDecodeError) as error:
            raise VideoDecodeError(f"{path}: cannot open video ({error})") from error
        self._stream.thread_count = num_threads
        rate = self._stream.average_rate or self._stream.guessed_rate
        if not rate:
            raise VideoDecodeError(f"{path}: the video has no frame rate")
        self.fps = float(rate)
        self._frame_duration = 1 / Fraction(rate) / self._stream.time_base
        self._start_pts = self._stream.start_time or 0
        self.num_frames = self._stream.frames or self._count_frames()
        if self.num_frames == 0:
            raise VideoDecodeError(f"{path}: the video has no frames")
        self.height, self.width = self._stream.codec_context.height, self._stream.codec_context.width

    def _count_frames(self) -> int:
        import av

        try:
            count = sum(1 for packet in self._container.demux(self._stream) if packet.size)
        except av.FFmpegError as error:
            raise VideoDecodeError(f"{self.path}: cannot read video ({error})") from error
        self._container.seek(0)
        return count

    def _frame_index(self, frame) -> int:
        return round((frame.pts - self._start_pts) / self._frame_duration)

    def get_frames(self, indices, size: tuple[int, int] | None = None) -> torch.Tensor:
        """Frames at `indices` (clamped to the video) as uint8 (N, H, W, 3), resized to `size` = (h, w) if given."""
        import av

        clamped = np.clip(np.asarray(indices, dtype=np.int64), 0, self.num_frames - 1)
        height, width = size if size is not None else (self.height, self.width)
        wanted = sorted(set(clamped.tolist()))
        decoded, last = {}, None
        position = None  # index of the frame most recently decoded
        try:
            for target in wanted:
                if target in decoded:
                    continue
                if position is None or target < position or target - position > PYAV_MAX_DECODE_GAP:
                    timestamp = int(self._start_pts + target * self._frame_duration)
                    self._container.seek(timestamp, stream=self._stream, backward=True, any_frame=False)
                for frame in self._container.decode(self._stream):
                    position = self._frame_index(frame)
                    if position in wanted or position >= target:
                        last = frame.to_ndarray(format="rgb24", width=width, height=height)
                        decoded[position] = last
                    if position >= target:
                        break
        except av.FFmpegError as error:
            raise VideoDecodeError(f"{self.path}: cannot decode frames ({error})") from error
        if last is None:
            raise VideoDecodeError(f"{self.path}: no frame could be decoded")
        # Containers may over-report their length: a frame past the real end repeats the last decoded one.
        frames = []
        for index in clamped.tolist():
            available = [i for i in decoded if i <= index]
            frames.append(decoded[index] if index in decoded else decoded[max(available)] if available else last)
        return _to_rgb_tensor(np.stack(frames))


def open_video(path: str, backend: str = "auto", num_threads: int = 1):
    """Open `path` with decord or PyAV; the reader has num_frames, fps, height, width and get_frames()."""
    if not os.path.isfile(path):
        raise VideoDecodeError(f"{path}: video file not found")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(f"{path}: video file is empty (0 bytes)")
    if available_backend(backend) == "decord":
        return DecordVideoReader(path, num_threads=num_threads)
    return PyAVVideoReader(path, num_threads=num_threads)

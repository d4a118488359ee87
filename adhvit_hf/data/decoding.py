# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""One small video-reader interface over decord (preferred) and PyAV (portable fallback).

Every failure of either decoder leaves this module as `VideoDecodeError` with a message that names the file and
says what failed; the decoders' own text (build paths, `[h264 @ 0x...]` lines) goes to this module's debug log only.
A frame index is a position in presentation order, so the same index means the same frame on both backends, on
variable-frame-rate video and beside audio tracks.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from typing import NamedTuple

import numpy as np
import torch


logger = logging.getLogger(__name__)

BACKENDS = ("auto", "decord", "pyav")
DAMAGED = "the file is damaged or not a supported video"


class VideoDecodeError(ValueError):
    """A video could not be opened or decoded; the message names the file."""


def _decode_error(path: str, what: str, error: BaseException | None = None) -> VideoDecodeError:
    """`VideoDecodeError` "<path>: <what>"; the decoder's own message is logged at debug level, never shown."""
    if error is not None:
        logger.debug("%s: %s: %s: %s", path, what, type(error).__name__, error)
    return VideoDecodeError(f"{path}: {what}")


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


def _clamp(indices, num_frames: int) -> np.ndarray:
    return np.clip(np.asarray(indices, dtype=np.int64).reshape(-1), 0, num_frames - 1)


@functools.cache
def _import_decord():
    # Imported on first use, never at package import: importing decord before CUDA is set up has crashed processes.
    import decord

    # decord's FFmpeg prints "[h264 @ 0x...]" lines straight to stderr; its errors still reach us as exceptions.
    decord.logging.set_level(decord.logging.QUIET)
    return decord


def _native_size(path: str) -> tuple[int, int]:
    """(height, width) of the first video stream from the container header alone (no index, no decoding)."""
    import av

    try:
        with av.open(path) as container:
            context = container.streams.video[0].codec_context
            return context.height, context.width
    except (av.FFmpegError, IndexError, UnicodeDecodeError, OSError) as error:
        raise _decode_error(path, f"cannot open video ({DAMAGED})", error) from error


class DecordVideoReader:
    """decord reader; resizing is done by decord's decoder-side scaler, one reader per requested size.

    decord indexes the whole file when it opens a reader, so `size_for(height, width)` -> (h, w) names the size of
    the first reader: a caller that knows the size it decodes at (evaluation) opens the file once.
    """

    def __init__(self, path: str, num_threads: int = 1, size_for=None):
        self.path = path
        self._decord = _import_decord()
        # decord raises DECORDError and RuntimeError, with its build paths in their text.
        self._errors = (self._decord.DECORDError, RuntimeError)
        self._num_threads = num_threads
        self.height, self.width = _native_size(path)
        key = self._key(size_for(self.height, self.width) if size_for is not None else None)
        reader = self._open(key)
        try:
            self.num_frames = len(reader)
            self.fps = float(reader.get_avg_fps())
        except self._errors as error:
            raise _decode_error(path, f"cannot open video ({DAMAGED})", error) from error
        if self.num_frames == 0:
            raise VideoDecodeError(f"{path}: the video has no frames")
        self._readers = {key: reader}

    def _key(self, size) -> tuple[int, int] | None:
        return None if size is None or tuple(size) == (self.height, self.width) else tuple(int(s) for s in size)

    def _open(self, key):
        height, width = key if key is not None else (-1, -1)
        try:
            return self._decord.VideoReader(self.path, width=width, height=height, num_threads=self._num_threads)
        except self._errors as error:
            raise _decode_error(self.path, f"cannot open video ({DAMAGED})", error) from error

    def get_frames(self, indices, size: tuple[int, int] | None = None) -> torch.Tensor:
        """Frames at `indices` (clamped to the video) as uint8 (N, H, W, 3), resized to `size` = (h, w) if given."""
        key = self._key(size)
        if key not in self._readers:
            self._readers[key] = self._open(key)
        clamped = _clamp(indices, self.num_frames)
        try:
            frames = self._readers[key].get_batch(clamped.tolist()).asnumpy()
        except self._errors as error:
            # decord 0.6 fails to copy frames of some widths (e.g. 24 or 48 pixels) and stops at the first damaged
            # packet: PyAV decodes the same frames, or names the damage.
            logger.debug("%s: decord failed (%s); decoding with PyAV", self.path, error)
            return PyAVVideoReader(self.path, num_threads=self._num_threads).get_frames(clamped, size)
        return _to_rgb_tensor(frames)


def _read_frame_table(source) -> tuple[np.ndarray, np.ndarray]:
    """(pts of every frame in presentation order, positions of the keyframes) of the first video stream of
    `source` (a path or a readable file), read from the packets alone (no decoding)."""
    import av

    name = source if isinstance(source, str) else getattr(source, "name", "video")
    timestamps, keyframe_pts = [], []
    try:
        with av.open(source) as container:
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                if packet.size == 0:  # the demuxer's end-of-stream marker
                    continue
                if packet.pts is None:
                    raise _decode_error(name, "cannot index video (frames without timestamps)")
                timestamps.append(packet.pts)
                if packet.is_keyframe:
                    keyframe_pts.append(packet.pts)
    except (av.FFmpegError, IndexError, UnicodeDecodeError, OSError) as error:
        raise _decode_error(name, f"cannot open video ({DAMAGED})", error) from error
    presentation = np.unique(np.asarray(timestamps, dtype=np.int64))
    return presentation, np.unique(np.searchsorted(presentation, np.asarray(keyframe_pts, dtype=np.int64)))


@functools.lru_cache(maxsize=256)
def _frame_table(path: str, file_size: int, mtime_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """`_read_frame_table(path)`, cached per file version (8 bytes a frame): training opens a video per clip."""
    return _read_frame_table(path)


def count_frames(source) -> int:
    """Number of frames of the first video stream of `source` (a path or a readable file), from its packets."""
    return len(_read_frame_table(source)[0])


class PyAVVideoReader:
    """PyAV reader: seeks to the keyframe before each run of wanted frames and decodes forward in presentation order.

    Frames are identified by their timestamps against the packet index (`_frame_table`), never by timestamp
    arithmetic, so variable frame rates, B-frames and audio tracks do not shift them.
    """

    def __init__(self, path: str, num_threads: int = 1):
        import av

        self.path = path
        try:
            stat = os.stat(path)
            self._pts, self._keyframes = _frame_table(path, stat.st_size, stat.st_mtime_ns)
            self._container = av.open(path)
            self._stream = self._container.streams.video[0]
        except (av.FFmpegError, IndexError, UnicodeDecodeError, OSError) as error:
            raise _decode_error(path, f"cannot open video ({DAMAGED})", error) from error
        self._stream.thread_count = num_threads
        self.num_frames = len(self._pts)
        if self.num_frames == 0:
            raise VideoDecodeError(f"{path}: the video has no frames")
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else 0.0
        self.height, self.width = self._stream.codec_context.height, self._stream.codec_context.width

    def close(self) -> None:
        self._container.close()

    def _position(self, pts: int | None) -> int:
        """Presentation position of the frame with timestamp `pts`; -1 for one the packet index does not list."""
        slot = int(np.searchsorted(self._pts, pts)) if pts is not None else len(self._pts)
        return slot if slot < len(self._pts) and self._pts[slot] == pts else -1

    def _frames_from(self, keyframe: int):
        """(position, frame) pairs decoded forward from the keyframe at presentation position `keyframe`."""
        self._container.seek(int(self._pts[keyframe]), stream=self._stream, backward=True, any_frame=False)
        frames = self._container.decode(self._stream)
        first = next(frames, None)
        if first is not None and self._position(first.pts) > keyframe:
            # The demuxer's seek index is in decoding order and landed past the keyframe: decode from the start.
            self._container.seek(int(self._pts[0]), stream=self._stream, backward=True, any_frame=False)
            first = None
            frames = self._container.decode(self._stream)
        if first is not None:
            yield self._position(first.pts), first
        for frame in frames:
            yield self._position(frame.pts), frame

    def _keyframe_before(self, position: int) -> int:
        slot = int(np.searchsorted(self._keyframes, position, side="right")) - 1
        return int(self._keyframes[slot]) if slot >= 0 else 0

    def get_frames(self, indices, size: tuple[int, int] | None = None) -> torch.Tensor:
        """Frames at `indices` (clamped to the video) as uint8 (N, H, W, 3), resized to `size` = (h, w) if given."""
        import av

        clamped = _clamp(indices, self.num_frames)
        height, width = size if size is not None else (self.height, self.width)
        wanted_set = set(clamped.tolist())
        wanted = sorted(wanted_set)
        decoded, frames, position = {}, None, -1
        try:
            for target in wanted:
                if target in decoded:
                    continue
                keyframe = self._keyframe_before(target)
                if frames is None or keyframe > position:  # seeking skips the frames up to that keyframe
                    frames, position = self._frames_from(keyframe), -1
                for position, frame in frames:
                    if position in wanted_set and position not in decoded:
                        decoded[position] = frame.to_ndarray(format="rgb24", width=width, height=height)
                    if position >= target:
                        break
        except (av.FFmpegError, ValueError) as error:
            what = f"cannot decode frames {wanted[0]}-{wanted[-1]} ({DAMAGED})"
            raise _decode_error(self.path, what, error) from error
        missing = [index for index in wanted if index not in decoded]
        if missing:
            raise VideoDecodeError(
                f"{self.path}: frame {missing[0]} of {self.num_frames} could not be decoded ({DAMAGED})"
            )
        return _to_rgb_tensor(np.stack([decoded[index] for index in clamped.tolist()]))


def _check_file(path: str) -> None:
    if not os.path.isfile(path):
        raise VideoDecodeError(f"{path}: video file not found")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(f"{path}: video file is empty (0 bytes)")


def open_video(path: str, backend: str = "auto", num_threads: int = 1):
    """Open `path` with decord or PyAV; the reader has num_frames, fps, height, width and get_frames()."""
    path = os.fspath(path)
    _check_file(path)
    if available_backend(backend) == "decord":
        return DecordVideoReader(path, num_threads=num_threads)
    return PyAVVideoReader(path, num_threads=num_threads)


class VideoInfo(NamedTuple):
    num_frames: int
    fps: float
    height: int
    width: int


def video_info(path) -> VideoInfo:
    """Frame count (from the packet index), frame rate and size of `path`; raises `VideoDecodeError` naming it.

    Cheap (no decoding besides the first frame), for checking many videos before a run: a file that is missing,
    empty, not a video, truncated, or whose first frame does not decode, is refused.
    """
    path = os.fspath(path)
    _check_file(path)
    reader = PyAVVideoReader(path)
    try:
        reader.get_frames([0])
    finally:
        reader.close()
    return VideoInfo(reader.num_frames, reader.fps, reader.height, reader.width)


def probe_video(path) -> int:
    """Number of frames of `path` (see `video_info`); raises `VideoDecodeError` naming the file."""
    return video_info(path).num_frames


def read_view_frames(
    path, processor, start: int | None = None, end: int | None = None, backend: str = "auto", num_threads: int = 1
) -> torch.Tensor:
    """The frames of all of `processor`'s evaluation views of a video, decoded at the processor's resize size.

    One open per video. Returns uint8 (test_num_segment * num_frames, h, w, 3) for `processor.preprocess_video`;
    views come from the frame range [start, end] when given.
    """
    path = os.fspath(path)
    _check_file(path)
    if available_backend(backend) == "decord":
        reader = DecordVideoReader(path, num_threads=num_threads, size_for=processor.decode_size)
    else:
        reader = PyAVVideoReader(path, num_threads=num_threads)
    indices = processor.view_frame_indices(reader.num_frames, start, end)
    return reader.get_frames(indices.reshape(-1), size=processor.decode_size(reader.height, reader.width))

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""One small video-reader interface over torchcodec, decord and PyAV, giving the same frames whichever decodes.

- A frame index is a position in presentation order, so the same index means the same frame on every backend, on
  variable-frame-rate video and beside audio tracks.
- Frames come at the video's native size, turned by the display-matrix rotation of the track as players turn
  them (phone videos); `height`/`width` are those of the turned frames. Resizing is left to one function after
  decoding (the processor's, see `read_view_frames`), so every backend gives the same pixels.
- `backend="auto"` prefers torchcodec (when it imports and finds FFmpeg's shared libraries), then decord, then
  PyAV; a file the preferred backend cannot open is read with one that can, said once per file in the log.
  A named backend that cannot open a file another backend can open raises `BackendCannotOpenError` saying so.
- Every failure leaves this module as `VideoDecodeError` with a message that names the file and says what failed;
  the decoders' own text (build paths, `[h264 @ 0x...]` lines) goes to this module's debug log only.
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

BACKENDS = ("auto", "decord", "pyav", "torchcodec")
# `auto`'s order: torchcodec is maintained and matches transformers' and datasets' video decoding; decord's last
# release (2021) bundles FFmpeg 4.1 (no AV1); PyAV is always installed.
AUTO_ORDER = ("torchcodec", "decord", "pyav")
DAMAGED = "the file is damaged or not a supported video"
TORCHCODEC_FFMPEG_HINT = "it needs FFmpeg 4 to 9 as shared libraries: apt-get install ffmpeg"


class VideoDecodeError(ValueError):
    """A video could not be opened or decoded; the message names the file."""


class BackendCannotOpenError(VideoDecodeError):
    """The named backend cannot open a video that another backend can: a choice to change, not a damaged file."""

    def __init__(self, path: str, backend: str, other: str, codec: str):
        super().__init__(
            f"{path}: --backend {backend} cannot open this {codec} video, {other} can; "
            f"use --backend auto or --backend {other}"
        )
        self.path, self.backend, self.other, self.codec = path, backend, other, codec

    def __reduce__(self):  # DataLoader workers pickle errors: rebuild from the fields, not the message
        return type(self), (self.path, self.backend, self.other, self.codec)


class BackendUnavailableError(ValueError):
    """The named backend is not installed or cannot run here."""


def _decode_error(path: str, what: str, error: BaseException | None = None) -> VideoDecodeError:
    """`VideoDecodeError` "<path>: <what>"; the decoder's own message is logged at debug level, never shown."""
    if error is not None:
        logger.debug("%s: %s: %s: %s", path, what, type(error).__name__, error)
    return VideoDecodeError(f"{path}: {what}")


@functools.cache
def backend_problem(name: str) -> str | None:
    """Why backend `name` cannot be used in this process, or None when it can."""
    if name == "pyav":
        return None
    if name == "decord":
        return None if importlib.util.find_spec("decord") is not None else "decord is not installed"
    if name == "torchcodec":
        if importlib.util.find_spec("torchcodec") is None:
            return "torchcodec is not installed (pip install 'adhvit-hf[torchcodec]')"
        try:
            import torchcodec
        except (ImportError, RuntimeError, OSError) as error:  # e.g. a build for another torch
            return f"torchcodec does not load ({type(error).__name__}: {error})"
        # torchcodec >= 0.16 imports without FFmpeg and says so only here (its video decoder then fails)
        if getattr(torchcodec, "ffmpeg_major_version", 0) is None:
            return f"torchcodec cannot load FFmpeg's libraries ({TORCHCODEC_FFMPEG_HINT})"
        return None
    raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")


def available_backend(backend: str = "auto") -> str:
    """The backend `open_video` tries first: `backend` itself, or for "auto" the first usable of `AUTO_ORDER`."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return next(name for name in AUTO_ORDER if backend_problem(name) is None)
    problem = backend_problem(backend)
    if problem is not None:
        raise BackendUnavailableError(f"--backend {backend}: {problem}")
    return backend


BACKEND_HELP = (
    "video decoder: auto (torchcodec if it finds FFmpeg's libraries, else decord, else PyAV; a file the first cannot "
    "open is read with one that can, said once per file), decord, pyav or torchcodec"
)


def check_backend(backend: str) -> str:
    """`backend` if it is a known backend usable here; else `BackendUnavailableError` / `ValueError` in one line."""
    available_backend(backend)
    return backend


def add_backend_argument(parser) -> None:
    """`--backend` for an argparse command line, refused at parse time when unknown or not usable here."""
    import argparse

    def parse(value: str) -> str:
        try:
            return check_backend(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error).removeprefix(f"--backend {value}: ")) from None

    parser.add_argument(
        "--backend", default="auto", type=parse, metavar="{" + ",".join(BACKENDS) + "}", help=BACKEND_HELP
    )


def _to_rgb_tensor(frames) -> torch.Tensor:
    """(N, H, W[, C]) uint8 array or tensor with 1, 3 or 4 channels to a (N, H, W, 3) uint8 tensor."""
    tensor = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(frames))
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(-1)
    if tensor.shape[-1] == 1:
        tensor = tensor.expand(*tensor.shape[:-1], 3)
    return tensor[..., :3].contiguous()


def _clamp(indices, num_frames: int) -> np.ndarray:
    return np.clip(np.asarray(indices, dtype=np.int64).reshape(-1), 0, num_frames - 1)


def _quarter_turns(rotation: float) -> int:
    """Counter-clockwise quarter turns (0-3) that show a frame as players do, from a display-matrix rotation in
    degrees as FFmpeg reports it (counter-clockwise); a rotation between quarter turns goes to the nearest."""
    return round(rotation / 90) % 4


def _turned_size(height: int, width: int, rotation: float) -> tuple[int, int]:
    return (width, height) if _quarter_turns(rotation) % 2 else (height, width)


class StreamInfo(NamedTuple):
    codec: str
    height: int  # of the stored frames, before rotation
    width: int
    rotation: float  # display-matrix rotation, degrees counter-clockwise


@functools.lru_cache(maxsize=8192)  # a few dozen bytes each: every video of a dataset like HA-ViD (3222)
def _stream_info(path: str, file_size: int, mtime_ns: int) -> StreamInfo:
    """The first video stream's codec, stored size and rotation, cached per file version (training opens a video
    per clip). The rotation is read from the first decoded frame: PyAV exposes the display matrix only there."""
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            rotation = 0.0
            try:
                rotation = next(container.decode(stream)).rotation
            except (StopIteration, av.FFmpegError):  # no decodable first frame: the readers say what is wrong
                pass
            context = stream.codec_context
            return StreamInfo(context.codec.canonical_name, context.height, context.width, float(rotation))
    except (av.FFmpegError, IndexError, UnicodeDecodeError, OSError) as error:
        raise _decode_error(path, f"cannot open video ({DAMAGED})", error) from error


def stream_info(path: str) -> StreamInfo:
    stat = os.stat(path)
    return _stream_info(path, stat.st_size, stat.st_mtime_ns)


@functools.cache
def _import_decord():
    # Imported on first use, never at package import: importing decord before CUDA is set up has crashed processes.
    import decord

    # decord's FFmpeg prints "[h264 @ 0x...]" lines straight to stderr; its errors still reach us as exceptions.
    decord.logging.set_level(decord.logging.QUIET)
    return decord


class DecordVideoReader:
    """decord reader. decord turns frames by the display matrix itself (but reports the stored size)."""

    backend = "decord"

    def __init__(self, path: str, num_threads: int = 1):
        self.path = path
        self._decord = _import_decord()
        # decord raises DECORDError and RuntimeError, with its build paths in their text.
        self._errors = (self._decord.DECORDError, RuntimeError)
        self._num_threads = num_threads
        info = stream_info(path)
        self.codec = info.codec
        self.height, self.width = _turned_size(info.height, info.width, info.rotation)
        try:
            self._reader = self._decord.VideoReader(path, num_threads=num_threads)
            self.num_frames = len(self._reader)
            self.fps = float(self._reader.get_avg_fps())
        except self._errors as error:
            raise _decode_error(path, f"cannot open video ({DAMAGED})", error) from error
        if self.num_frames == 0:
            raise VideoDecodeError(f"{path}: the video has no frames")

    def get_frames(self, indices) -> torch.Tensor:
        """Frames at `indices` (clamped to the video) as uint8 (N, H, W, 3)."""
        clamped = _clamp(indices, self.num_frames)
        try:
            frames = self._reader.get_batch(clamped.tolist()).asnumpy()
        except self._errors as error:
            # decord 0.6 fails to copy frames of some widths (e.g. 24 or 48 pixels) and stops at the first damaged
            # packet: PyAV decodes the same frames, or names the damage.
            logger.debug("%s: decord failed (%s); decoding with PyAV", self.path, error)
            frames = PyAVVideoReader(self.path, num_threads=self._num_threads).get_frames(clamped)
            if self.path not in _decoded_by_pyav:  # PyAV could: say so, once per file
                _decoded_by_pyav.add(self.path)
                logger.warning("%s: decord could not decode some of its frames; decoded them with PyAV", self.path)
            return frames
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
    arithmetic, so variable frame rates, B-frames and audio tracks do not shift them. PyAV reports the display
    matrix but does not apply it: frames are turned here.
    """

    backend = "pyav"

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
        info = _stream_info(path, stat.st_size, stat.st_mtime_ns)
        self.codec = info.codec
        self.height, self.width = _turned_size(info.height, info.width, info.rotation)

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

    @staticmethod
    def _rgb(frame) -> np.ndarray:
        return np.rot90(frame.to_ndarray(format="rgb24"), k=_quarter_turns(frame.rotation))

    def get_frames(self, indices) -> torch.Tensor:
        """Frames at `indices` (clamped to the video) as uint8 (N, H, W, 3)."""
        import av

        clamped = _clamp(indices, self.num_frames)
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
                        decoded[position] = self._rgb(frame)
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


def decode_in_order(path: str, positions) -> torch.Tensor:
    """Frames at `positions` of `path`, decoded from its start in one pass with PyAV (no seeking, no index): the
    reference that a reader's random access must match. uint8 (N, H, W, 3), turned like the readers' frames."""
    import av

    wanted, found = set(positions), {}
    try:
        with av.open(path) as container:
            for position, frame in enumerate(container.decode(video=0)):
                if position in wanted:
                    found[position] = PyAVVideoReader._rgb(frame)
    except (av.FFmpegError, IndexError, OSError) as error:
        raise _decode_error(path, f"cannot decode video ({DAMAGED})", error) from error
    missing = sorted(wanted - found.keys())
    if missing:
        raise VideoDecodeError(f"{path}: frame {missing[0]} could not be decoded ({DAMAGED})")
    return _to_rgb_tensor(np.stack([found[position] for position in positions]))


class TorchCodecVideoReader:
    """torchcodec reader (`seek_mode="exact"`: frame positions from a scan of the packets, as the others).

    torchcodec turns frames by the display matrix and reports the turned size. With `device="cuda"` the frames are
    decoded on the GPU (NVDEC) and returned there, for `DeviceAugmentation` to use without a copy to the host.
    """

    backend = "torchcodec"

    def __init__(self, path: str, num_threads: int = 1, device: str | torch.device | None = None):
        from torchcodec.decoders import VideoDecoder

        self.path = path
        try:
            self._decoder = VideoDecoder(
                path, seek_mode="exact", num_ffmpeg_threads=num_threads, dimension_order="NHWC", device=device
            )
            metadata = self._decoder.metadata
        except (RuntimeError, ValueError) as error:
            raise _decode_error(path, f"cannot open video ({DAMAGED})", error) from error
        self.num_frames = int(metadata.num_frames or 0)
        if self.num_frames == 0:
            raise VideoDecodeError(f"{path}: the video has no frames")
        self.fps = float(metadata.average_fps or 0.0)
        self.height, self.width = metadata.height, metadata.width
        self.codec = metadata.codec

    def get_frames(self, indices) -> torch.Tensor:
        """Frames at `indices` (clamped to the video) as uint8 (N, H, W, 3), on the decoder's device."""
        clamped = _clamp(indices, self.num_frames)
        try:
            frames = self._decoder.get_frames_at(clamped.tolist()).data
        except (RuntimeError, ValueError) as error:
            what = f"cannot decode frames {clamped.min()}-{clamped.max()} ({DAMAGED})"
            raise _decode_error(self.path, what, error) from error
        return _to_rgb_tensor(frames)


READERS = {"decord": DecordVideoReader, "pyav": PyAVVideoReader, "torchcodec": TorchCodecVideoReader}
# Files the preferred backend could not open, and the backend that could (so the log says it once per file).
_fallbacks: dict[str, str] = {}
# Files whose frames decord failed to decode and PyAV decoded (said once per file).
_decoded_by_pyav: set[str] = set()


def _check_file(path: str) -> None:
    if not os.path.isfile(path):
        raise VideoDecodeError(f"{path}: video file not found")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(f"{path}: video file is empty (0 bytes)")


def _codec_name(path: str) -> str:
    try:
        return stream_info(path).codec
    except (VideoDecodeError, OSError):
        return "unknown"


def _open_with_another(path: str, failed: str, num_threads: int):
    """A reader of the first usable backend other than `failed` that opens `path` and decodes its first and last
    frames (a damaged file is no reason to switch), or None."""
    for name in AUTO_ORDER:
        if name == failed or backend_problem(name) is not None:
            continue
        try:
            reader = READERS[name](path, num_threads=num_threads)
            reader.get_frames([0, reader.num_frames - 1])
            return reader
        except VideoDecodeError:
            continue
    return None


def open_video(path, backend: str = "auto", num_threads: int = 1, device: str | torch.device | None = None):
    """Open `path`; the reader has backend, num_frames, fps, height, width, codec and get_frames().

    With "auto", a file the preferred backend cannot open is opened with the next backend that can (logged once
    per file); a named backend that cannot open a file another can raises `BackendCannotOpenError`. `device`
    (torchcodec only) decodes on that device.
    """
    path = os.fspath(path)
    _check_file(path)
    chosen = available_backend(backend)
    if backend == "auto" and path in _fallbacks:
        chosen = _fallbacks[path]
    options = {"device": device} if chosen == "torchcodec" and device is not None else {}
    try:
        return READERS[chosen](path, num_threads=num_threads, **options)
    except VideoDecodeError as error:
        reader = _open_with_another(path, chosen, num_threads)
        if reader is None:
            raise
        codec = _codec_name(path)
        if backend != "auto":
            raise BackendCannotOpenError(path, chosen, reader.backend, codec) from error
        _fallbacks[path] = reader.backend
        logger.warning("%s: %s cannot open this %s video; decoding it with %s", path, chosen, codec, reader.backend)
        return reader


class VideoInfo(NamedTuple):
    num_frames: int
    fps: float
    height: int
    width: int


def video_info(path, backend: str = "auto") -> VideoInfo:
    """Frame count, frame rate and (displayed) size of `path`, as `backend` reads it; raises `VideoDecodeError`.

    Cheap (no decoding besides the first frame), for checking many videos before a run: a file that is missing,
    empty, not a video, truncated before its index, or whose first frame does not decode, is refused.
    """
    reader = open_video(path, backend=backend)
    reader.get_frames([0])
    return VideoInfo(reader.num_frames, reader.fps, reader.height, reader.width)


def check_video(path, backend: str = "auto") -> VideoInfo:
    """`video_info`, also decoding the first and the last frames with the backend that will read the file: a
    file cut short (its index lists frames its data no longer has) or damaged at the end is refused."""
    reader = open_video(path, backend=backend)
    reader.get_frames([0, reader.num_frames - 1])
    return VideoInfo(reader.num_frames, reader.fps, reader.height, reader.width)


def probe_video(path, backend: str = "auto") -> int:
    """Number of frames of `path` (see `video_info`); raises `VideoDecodeError` naming the file."""
    return video_info(path, backend).num_frames


VIEW_CHUNK_FRAMES = 32


def resize_views(frames: torch.Tensor, processor) -> torch.Tensor:
    """(N, H, W, 3) uint8 at any size -> short side at the processor's, by the processor's own resize: the one
    resize after decoding, so every backend (and a reader without adhvit_hf) ends with the same pixels."""
    return processor._resize(frames.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def read_view_frames(
    path, processor, start: int | None = None, end: int | None = None, backend: str = "auto", num_threads: int = 1
) -> torch.Tensor:
    """The frames of all of `processor`'s evaluation views of a video, at the processor's resize size.

    One open per video. Returns uint8 (test_num_segment * num_frames, h, w, 3) for `processor.preprocess_video`;
    views come from the frame range [start, end] when given.
    """
    reader = open_video(path, backend=backend, num_threads=num_threads)
    indices = processor.view_frame_indices(reader.num_frames, start, end).reshape(-1)
    distinct, inverse = torch.unique(indices, return_inverse=True)  # views overlap: resize each frame once
    # In chunks: 160 native 1080p frames would hold 1 GB at once.
    chunks = [resize_views(reader.get_frames(chunk), processor) for chunk in distinct.split(VIEW_CHUNK_FRAMES)]
    return torch.cat(chunks)[inverse]

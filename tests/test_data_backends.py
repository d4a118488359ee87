# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""One decoder choice: the same frames, sizes and errors from every backend, on other codecs, rotated phone videos
and cut-short files; `auto` switching backend per file (said once), a named backend refusing what it cannot open."""

import logging
import subprocess

import numpy as np
import pytest
import torch
from helpers.codecs import (
    ALL_BACKENDS,
    cut_video,
    decode_all_pyav,
    needs_ffmpeg_cli,
    needs_torchcodec,
    smooth_frames,
    write_codec_video,
    write_faststart_h264,
)
from helpers.videos import decoded_indices, write_index_video

from adhvit_hf.data import decoding
from adhvit_hf.data.decoding import (
    BackendCannotOpenError,
    BackendUnavailableError,
    VideoDecodeError,
    available_backend,
    check_video,
    open_video,
    read_view_frames,
    video_info,
)
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("codecs")


@pytest.fixture(scope="module")
def av1(folder):
    return write_codec_video(folder, "av1_mp4", smooth_frames(12))


@pytest.fixture(autouse=True)
def no_remembered_fallbacks():
    decoding._fallbacks.clear()
    yield
    decoding._fallbacks.clear()


def test_auto_prefers_torchcodec_then_decord_then_pyav(monkeypatch):
    problems = {"torchcodec": "torchcodec is not installed", "decord": None, "pyav": None}
    monkeypatch.setattr(decoding, "backend_problem", problems.get)
    assert available_backend("auto") == "decord"
    problems["decord"] = "decord is not installed"
    assert available_backend("auto") == "pyav"
    problems["torchcodec"] = None
    assert available_backend("auto") == "torchcodec"
    problems["torchcodec"] = "torchcodec cannot load FFmpeg's libraries (apt-get install ffmpeg)"
    with pytest.raises(BackendUnavailableError) as raised:
        available_backend("torchcodec")
    assert (
        str(raised.value) == "--backend torchcodec: torchcodec cannot load FFmpeg's libraries (apt-get install ffmpeg)"
    )


@pytest.mark.parametrize("kind", ["av1_mp4", "av1_webm", "vp9_webm", "mjpeg_avi", "mpeg4_avi"])
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_same_frames_on_other_codecs_and_containers(folder, kind, backend):
    path = write_codec_video(folder, kind, smooth_frames(12), name=f"{kind}_{backend}")
    truth = torch.from_numpy(decode_all_pyav(path))
    if backend == "decord" and kind.startswith("av1"):  # decord's FFmpeg 4.1 predates AV1
        with pytest.raises(BackendCannotOpenError, match="^" + path + ": --backend decord cannot open this av1 video"):
            open_video(path, backend=backend)
        return
    reader = open_video(path, backend=backend)
    assert (reader.num_frames, reader.height, reader.width) == (12, 48, 64)
    indices = [11, 0, 5, 5, 7, 1]
    assert torch.equal(reader.get_frames(indices), truth[indices])


def gradient_frames(num_frames=12, height=48, width=64):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack(
        [np.stack([(x * 4 + i * 3) % 256, (y * 5) % 256, ((x + y) * 2) % 256], -1) for i in range(num_frames)]
    ).astype(np.uint8)


@needs_ffmpeg_cli
@needs_torchcodec
def test_ten_bit_video_is_converted_as_ffmpeg_converts_it(folder):
    """10-bit to 8-bit RGB is each FFmpeg's own conversion: torchcodec (the system FFmpeg) gives exactly the
    `ffmpeg` command's pixels; decord (FFmpeg 4.1) and PyAV (FFmpeg 8) differ from them by a few levels on average
    (docs/faults.md has the measured figures), the reason `auto` prefers torchcodec."""
    path = write_codec_video(folder, "hevc_10bit", gradient_frames(), name="ten_bit")
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True
    ).stdout
    shown = torch.from_numpy(np.frombuffer(raw, np.uint8).reshape(12, 48, 64, 3).copy())
    assert torch.equal(open_video(path, backend="torchcodec").get_frames(range(12)), shown)
    for backend in ("decord", "pyav"):
        frames = open_video(path, backend=backend).get_frames(range(12))
        assert frames.shape == shown.shape
        assert (frames.float() - shown.float()).abs().mean() < 2.5, backend


def test_auto_reads_what_its_first_backend_cannot_and_says_so_once(av1, monkeypatch, caplog):
    monkeypatch.setattr(decoding, "available_backend", lambda backend="auto": "decord")
    with caplog.at_level(logging.WARNING, logger="adhvit_hf.data.decoding"):
        readers = [open_video(av1) for _ in range(3)]
    assert {reader.backend for reader in readers} == {
        "torchcodec" if decoding.backend_problem("torchcodec") is None else "pyav"
    }
    assert caplog.messages == [f"{av1}: decord cannot open this av1 video; decoding it with {readers[0].backend}"]
    assert torch.equal(readers[0].get_frames([3, 11]), torch.from_numpy(decode_all_pyav(av1)[[3, 11]]))


def test_named_backend_refuses_in_one_line_what_another_can_open(av1):
    other = "torchcodec" if decoding.backend_problem("torchcodec") is None else "pyav"
    with pytest.raises(BackendCannotOpenError) as raised:
        video_info(av1, backend="decord")
    assert str(raised.value) == (
        f"{av1}: --backend decord cannot open this av1 video, {other} can; use --backend auto or --backend {other}"
    )


@pytest.mark.parametrize("backend", ["auto", *ALL_BACKENDS])
def test_a_file_cut_short_is_caught_by_decoding_its_last_frames(folder, backend):
    whole = write_faststart_h264(folder / f"whole_{backend}.mp4", smooth_frames(40))
    cut = cut_video(whole, folder / f"cut_{backend}.mp4", 0.6)
    assert check_video(whole, backend).num_frames == 40
    with pytest.raises(VideoDecodeError, match=f"^{cut}: cannot (open video|decode frames)") as raised:
        check_video(cut, backend)
    assert str(raised.value).endswith("(the file is damaged or not a supported video)")


ROTATIONS = [90, 180, 270]


@pytest.fixture(scope="module")
def rotated(folder):
    frames = smooth_frames(6, 32, 64)
    return {
        rotation: write_codec_video(folder, "h264", frames, name=f"rot{rotation}", rotation=rotation)
        for rotation in ROTATIONS
    }


@pytest.mark.parametrize("rotation", ROTATIONS)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_rotated_videos_are_turned_as_players_turn_them(rotated, rotation, backend):
    stored = decode_all_pyav(rotated[rotation])  # PyAV's own frames, unturned
    turned = torch.from_numpy(np.ascontiguousarray(np.rot90(stored, k=rotation // 90, axes=(1, 2))))
    reader = open_video(rotated[rotation], backend=backend)
    assert (reader.height, reader.width) == turned.shape[1:3] == ((64, 32) if rotation != 180 else (32, 64))
    assert torch.equal(reader.get_frames([0, 5, 2]), turned[[0, 5, 2]])


@needs_ffmpeg_cli
def test_the_rotation_rule_is_ffmpegs(rotated):
    """The `ffmpeg` command turns rotated videos as players do; the readers must agree with it."""
    for rotation, path in rotated.items():
        reader = open_video(path, backend="pyav")
        raw = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True
        ).stdout
        shown = np.frombuffer(raw, np.uint8).reshape(6, reader.height, reader.width, 3)
        assert np.array_equal(reader.get_frames(range(6)).numpy(), shown), rotation


PROCESSOR = AdhVitVideoProcessor(
    num_frames=4, sampling_rate=2, test_num_segment=2, test_num_crop=1, short_side_size=20, crop_size=16
)


@pytest.mark.parametrize("kind", ["h264", "vp9_webm", "mjpeg_avi"])
@needs_torchcodec
def test_every_backend_gives_the_same_resized_pixels(folder, kind):
    """One resize after decoding (the processor's, antialiased): before, decord scaled while decoding and PyAV with
    swscale, and logits differed by up to 0.47."""
    path = write_codec_video(folder, kind, smooth_frames(12), name=f"resize_{kind}")
    views = {
        backend: read_view_frames(path, PROCESSOR, backend=backend) for backend in ("decord", "pyav", "torchcodec")
    }
    assert views["pyav"].shape == (8, 20, 26, 3)
    assert torch.equal(views["decord"], views["pyav"]) and torch.equal(views["pyav"], views["torchcodec"])
    native = torch.from_numpy(decode_all_pyav(path))[PROCESSOR.view_frame_indices(12).reshape(-1)]
    assert torch.equal(views["pyav"], PROCESSOR._resize(native.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))


@needs_torchcodec
def test_rotated_views_keep_their_orientation_on_every_backend(rotated):
    views = [read_view_frames(rotated[90], PROCESSOR, backend=backend) for backend in ("decord", "pyav", "torchcodec")]
    assert views[0].shape == (8, 40, 20, 3)  # portrait: the short side (width) is 20
    assert torch.equal(views[0], views[1]) and torch.equal(views[1], views[2])


def test_frames_decord_cannot_decode_are_decoded_by_pyav_and_said_once(folder, caplog):
    """decord 0.6 fails to copy frames 24 or 48 pixels wide (at any size); PyAV decodes them, and the log says so."""
    path = write_index_video(folder / "width48.mp4", num_frames=10, height=32, width=48)
    decoding._decoded_by_pyav.discard(path)
    with caplog.at_level(logging.WARNING, logger="adhvit_hf.data.decoding"):
        for _ in range(2):
            frames = open_video(path, backend="decord").get_frames([1, 5, 9])
            assert frames.shape == (3, 32, 48, 3) and decoded_indices(frames) == [1, 5, 9]
    assert caplog.messages == [f"{path}: decord could not decode some of its frames; decoded them with PyAV"]


def test_the_backend_error_survives_a_dataloader_worker(av1):
    """Workers send errors pickled; the one-line message must come back the same."""
    import pickle

    with pytest.raises(BackendCannotOpenError) as raised:
        open_video(av1, backend="decord")
    copy = pickle.loads(pickle.dumps(raised.value))
    assert type(copy) is BackendCannotOpenError and str(copy) == str(raised.value)


@needs_torchcodec
def test_torchcodec_without_ffmpeg_is_passed_over_with_the_reason(monkeypatch):
    """torchcodec >= 0.16 imports without FFmpeg (ffmpeg_major_version None) and fails only when it decodes."""
    import torchcodec

    monkeypatch.setattr(torchcodec, "ffmpeg_major_version", None)
    decoding.backend_problem.cache_clear()
    try:
        assert decoding.backend_problem("torchcodec") == (
            "torchcodec cannot load FFmpeg's libraries (it needs FFmpeg 4 to 9 as shared libraries: apt-get install "
            "ffmpeg)"
        )
        assert available_backend("auto") == "decord"
    finally:
        decoding.backend_problem.cache_clear()

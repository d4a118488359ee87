# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import numpy as np
import pytest
import torch
from helpers.codecs import ALL_BACKENDS, needs_torchcodec
from helpers.videos import decode_everything, decoded_indices, write_garbled_video, write_index_video, write_odd_video

from adhvit_hf.data.decoding import VideoDecodeError, _to_rgb_tensor, open_video, probe_video, read_view_frames
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor


BACKENDS = ALL_BACKENDS


@pytest.fixture(scope="module")
def index_video(tmp_path_factory):
    return write_index_video(tmp_path_factory.mktemp("videos") / "index.mp4", num_frames=30, height=32, width=64)


@pytest.mark.parametrize("backend", BACKENDS)
def test_frame_exact_with_clamping(index_video, backend):
    reader = open_video(index_video, backend=backend)
    assert (reader.num_frames, reader.height, reader.width, reader.fps) == (30, 32, 64, 25.0)
    frames = reader.get_frames([0, 5, 29, 3, 3, 45, -2])
    assert frames.shape == (7, 32, 64, 3) and frames.dtype == torch.uint8
    assert decoded_indices(frames) == [0, 5, 29, 3, 3, 29, 0]


@needs_torchcodec
def test_backends_agree(index_video):
    indices = list(range(0, 30, 3))
    frames = [
        open_video(index_video, backend=backend).get_frames(indices) for backend in ("decord", "pyav", "torchcodec")
    ]
    assert torch.equal(frames[0], frames[1]) and torch.equal(frames[1], frames[2])


def test_gray_and_rgba_become_rgb():
    gray = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    assert _to_rgb_tensor(gray).shape == (1, 2, 3, 3)
    assert _to_rgb_tensor(gray)[0, 1, 2].tolist() == [5, 5, 5]
    rgba = np.arange(16, dtype=np.uint8).reshape(1, 2, 2, 4)
    assert _to_rgb_tensor(rgba)[0, 0, 1].tolist() == [4, 5, 6]


@pytest.mark.parametrize("backend", BACKENDS)
def test_unreadable_files_name_the_path(tmp_path, index_video, backend):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoDecodeError, match=f"^{empty}: video file is empty \\(0 bytes\\)$"):
        open_video(str(empty), backend=backend)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 50)
    with pytest.raises(VideoDecodeError, match=f"^{garbage}: cannot open video"):
        open_video(str(garbage), backend=backend)
    truncated = tmp_path / "truncated.mp4"
    with open(index_video, "rb") as handle:
        truncated.write_bytes(handle.read()[:2000])
    with pytest.raises(VideoDecodeError, match=f"^{truncated}: "):
        open_video(str(truncated), backend=backend).get_frames([0, 29])
    with pytest.raises(VideoDecodeError, match=f"^{tmp_path / 'gone.mp4'}: video file not found$"):
        open_video(str(tmp_path / "gone.mp4"), backend=backend)


def test_unknown_backend():
    with pytest.raises(
        ValueError, match=r"backend must be one of \('auto', 'decord', 'pyav', 'torchcodec'\), got 'opencv'"
    ):
        open_video(__file__, backend="opencv")


ODD_KINDS = ["vfr", "audio", "bframes", "long_gop"]


@pytest.fixture(scope="module")
def odd_videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("odd")
    return {kind: write_odd_video(folder / f"{kind}.mp4", kind) for kind in ODD_KINDS}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ODD_KINDS)
def test_exact_frames_on_odd_videos(odd_videos, kind, backend):
    truth = decode_everything(odd_videos[kind])
    reader = open_video(odd_videos[kind], backend=backend)
    assert reader.num_frames == len(truth) == 40
    for indices in ([0, 8, 16, 24, 32], [39, 0, 17, 5, 5, 38, 12, 25, 1], list(range(40)), [36, 37, 38, 39]):
        frames = reader.get_frames(indices)
        for index, frame in zip(indices, frames):
            assert torch.equal(frame, truth[index]), f"{kind}/{backend}: frame {index}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_garbled_mid_file_is_a_clean_video_decode_error(tmp_path, backend, capfd):
    path = write_garbled_video(tmp_path / "garbled.mp4")
    reader = open_video(path, backend=backend)
    assert reader.num_frames == 48
    assert reader.get_frames([0, 20]).shape == (2, 64, 64, 3)  # frames before the damage still decode
    with pytest.raises(VideoDecodeError) as raised:
        reader.get_frames(range(48))
    assert str(raised.value) == f"{path}: cannot decode frames 0-47 (the file is damaged or not a supported video)"
    assert probe_video(path) == 48  # the index and the first frame are fine: the damage shows only when decoding
    captured = capfd.readouterr()
    assert "h264 @" not in captured.err + captured.out
    assert "workspace" not in captured.err + captured.out  # decord's build paths


def test_probe_video(index_video, tmp_path):
    assert probe_video(index_video) == 30
    with pytest.raises(VideoDecodeError, match=f"^{tmp_path / 'gone.mp4'}: video file not found$"):
        probe_video(tmp_path / "gone.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 20)
    with pytest.raises(VideoDecodeError, match=f"^{text}: cannot open video \\(the file is damaged or not a"):
        probe_video(text)


@pytest.mark.parametrize("backend", BACKENDS)
def test_view_frames_at_the_processor_size(index_video, backend):
    processor = AdhVitVideoProcessor(
        num_frames=4, sampling_rate=2, test_num_segment=2, test_num_crop=1, short_side_size=16, crop_size=16
    )
    frames = read_view_frames(index_video, processor, start=4, end=25, backend=backend)
    assert frames.shape == (8, 16, 32, 3) and frames.dtype == torch.uint8
    assert decoded_indices(frames) == processor.view_frame_indices(30, 4, 25).reshape(-1).tolist()

import numpy as np
import pytest
import torch

from adhvit_hf.data.decoding import VideoDecodeError, _to_rgb_tensor, open_video
from data_helpers import decoded_indices, write_index_video


BACKENDS = ["decord", "pyav"]


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


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size", [(16, 32), (24, 48)])  # decord 0.6 cannot scale to width 48: PyAV steps in
def test_resize_while_decoding(index_video, backend, size):
    frames = open_video(index_video, backend=backend).get_frames(torch.tensor([1, 20]), size=size)
    assert frames.shape == (2, *size, 3)
    assert decoded_indices(frames) == [1, 20]


def test_backends_agree(index_video):
    indices = list(range(0, 30, 3))
    decord_frames = open_video(index_video, backend="decord").get_frames(indices)
    pyav_frames = open_video(index_video, backend="pyav").get_frames(indices)
    assert torch.equal(decord_frames, pyav_frames)


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
    with pytest.raises(ValueError, match=r"backend must be one of \('auto', 'decord', 'pyav'\), got 'opencv'"):
        open_video(__file__, backend="opencv")

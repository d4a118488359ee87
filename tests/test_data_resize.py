# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import logging
import os

import av
import numpy as np
import pytest
import torch
from helpers.codecs import ALL_BACKENDS, write_codec_video
from helpers.videos import decoded_indices, index_frames, write_garbled_video

from adhvit_hf.cli import resize_videos
from adhvit_hf.data.decoding import open_video, video_info
from adhvit_hf.data.encoding import write_mp4


@pytest.fixture()
def source_tree(tmp_path):
    """src/ with a long-GOP index video in a subfolder, a second one at the top, a garbled video and a text file."""
    src = tmp_path / "src"
    write_mp4(str(src / "a" / "b" / "long_gop.mp4"), index_frames(30, 24, 40), fps=30, gop_size=30, crf=0)
    write_mp4(str(src / "short.mp4"), index_frames(9, 32, 32), fps=25, gop_size=30, crf=0)
    write_garbled_video(src / "garbled.mp4")
    (src / "notes.txt").write_text("not a video")
    return src


def run(src, dst, *flags):
    return resize_videos.main([str(src), "--output_dir", str(dst), "--short_side", "12", "--workers", "1", *flags])


@pytest.mark.slow
def test_copies_keep_every_frame_and_the_tree(source_tree, tmp_path, caplog):
    dst = tmp_path / "dst"
    with caplog.at_level(logging.INFO):
        assert run(source_tree, dst, "--workers", "2") == 1  # the garbled video failed, the others were converted
    copy = video_info(dst / "a" / "b" / "long_gop.mp4")
    assert (copy.num_frames, copy.fps, copy.height, copy.width) == (30, 30.0, 12, 20)
    reader = open_video(str(dst / "a" / "b" / "long_gop.mp4"), backend="pyav")
    assert decoded_indices(reader.get_frames(range(30))) == list(range(30))  # frame ranges still mean the same
    assert decoded_indices(reader.get_frames([17, 3, 29])) == [17, 3, 29]
    assert video_info(dst / "short.mp4")[:2] == (9, 25.0)
    assert sorted(os.listdir(dst)) == ["a", "short.mp4"]  # nothing half-written, no copy of the garbled file
    assert caplog.messages[-3:] == [
        "3 videos: 2 converted, 0 already done, 1 failed",
        caplog.messages[-2],
        f"failed: {source_tree / 'garbled.mp4'}: cannot convert video (the file is damaged or not a supported video)",
    ]
    assert caplog.messages[-2].startswith("0.00 hours of video, 39 frames; size ")


def test_resumes_and_skips_finished_copies(source_tree, tmp_path, caplog):
    dst = tmp_path / "dst"
    run(source_tree, dst)
    finished = os.stat(dst / "short.mp4").st_mtime_ns
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert run(source_tree, dst) == 1
    assert "3 videos: 0 converted, 2 already done, 1 failed" in caplog.messages
    assert os.stat(dst / "short.mp4").st_mtime_ns == finished
    os.remove(source_tree / "garbled.mp4")
    assert run(source_tree, dst) == 0


def test_refuses_an_existing_copy_of_another_size(source_tree, tmp_path, caplog):
    dst = tmp_path / "dst"
    run(source_tree, dst)
    with caplog.at_level(logging.INFO):
        resize_videos.main([str(source_tree), "--output_dir", str(dst), "--short_side", "16", "--workers", "1"])
    target = dst / "short.mp4"
    assert (
        f"failed: {target}: exists but is not a 16-pixel copy of {source_tree / 'short.mp4'} with 9 frames; "
        "remove it to convert again"
    ) in caplog.messages


def test_refuses_a_copy_whose_frame_count_differs(source_tree, tmp_path, monkeypatch):
    monkeypatch.setattr(resize_videos, "count_frames", lambda file: 8)
    target = tmp_path / "dst" / "short.mp4"
    row = resize_videos.convert_one(str(source_tree / "short.mp4"), str(target), 12, 16, 20)
    assert row["error"] == (f"{source_tree / 'short.mp4'}: the copy has 8 frames but the source has 9; not written")
    assert not target.parent.exists() or os.listdir(target.parent) == []


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--short_side", "0"], "--short_side must be >= 2, got 0"),
        (["--short_side", "12", "--workers", "0"], "--workers must be >= 1, got 0"),
        (["--short_side", "12", "--gop_size", "-1"], "--gop_size must be >= 1, got -1"),
        (["--short_side", "12", "--crf", "60"], "--crf must be in 0..51, got 60"),
    ],
)
def test_bad_flags(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        resize_videos.main([str(tmp_path), "--output_dir", str(tmp_path / "dst"), *flags])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"error: {message}")


def test_bad_folders(source_tree, tmp_path):
    with pytest.raises(ValueError, match=f"^{tmp_path / 'nope'}: no such folder$"):
        run(tmp_path / "nope", tmp_path / "dst")
    with pytest.raises(ValueError, match="^--output_dir .*: must not be .* or inside it"):
        run(source_tree, source_tree / "small")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=f"^{tmp_path / 'empty'}: no videos \\(.mp4, .m4v, .mov, .mkv, .webm, .avi, "):
        run(tmp_path / "empty", tmp_path / "dst")


@pytest.fixture()
def other_containers(tmp_path):
    """MJPEG and mpeg4 in AVI (as cameras and old tools write them), VP9 in WebM and a small MP4, index frames."""
    src = tmp_path / "src"
    frames = np.broadcast_to((np.arange(70, dtype=np.uint8) * 3)[:, None, None, None], (70, 32, 48, 3))
    for kind in ("mjpeg_avi", "mpeg4_avi", "vp9_webm"):
        write_codec_video(src / "cams", kind, frames)
    write_codec_video(src, "h264", index_frames(9, 10, 14), name="tiny")
    return src


TRAINING_REQUEST = [40, 48, 56, 64, 3, 69]  # asked of H.264-in-AVI copies, decord gave 10, 6, 2, 10


def levels(frames) -> list[int]:
    return [round(float(frame.float().mean()) / 3) for frame in frames]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_copies_of_avi_and_webm_sources_are_mp4_and_read_exactly(other_containers, tmp_path, caplog, backend):
    dst = tmp_path / "dst"
    with caplog.at_level(logging.INFO):
        assert run(other_containers, dst, "--short_side", "16", "--backend", backend) == 0
    assert sorted(os.listdir(dst / "cams")) == ["mjpeg_avi.mp4", "mpeg4_avi.mp4", "vp9_webm.mp4"]
    for name in os.listdir(dst / "cams"):
        with av.open(str(dst / "cams" / name)) as container:
            assert "mp4" in container.format.name and container.streams.video[0].codec_context.name == "h264"
        reader = open_video(dst / "cams" / name, backend=backend)
        assert (reader.num_frames, reader.height, reader.width) == (70, 16, 24)
        source = next(other_containers.glob(f"cams/{name[:-4]}.*"))
        expected = levels(open_video(source, backend="pyav").get_frames(TRAINING_REQUEST))
        assert levels(reader.get_frames(TRAINING_REQUEST)) == expected, name
        assert len(set(expected)) == len(expected)  # distinct frames: a wrong frame would show
    assert "4 videos: 4 converted, 0 already done, 0 failed" in caplog.messages
    assert (
        "3 copies are named .mp4 where the source is .avi, .webm: clip lists that name those sources need the .mp4 "
        "name with the data root at the copies"
    ) in caplog.messages


def test_a_rerun_skips_its_own_copies_and_small_sources_are_not_upscaled(other_containers, tmp_path, caplog):
    dst = tmp_path / "dst"
    run(other_containers, dst, "--short_side", "16")
    assert video_info(dst / "tiny.mp4")[2:] == (10, 14)  # short side 10 < 16: kept, never upscaled
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert run(other_containers, dst, "--short_side", "16") == 0
    assert "4 videos: 0 converted, 4 already done, 0 failed" in caplog.messages
    assert (
        "1 video(s) already had a short side <= --short_side and kept their size (never upscaled)" in caplog.messages
    )


def test_two_sources_with_one_copy_name_are_refused(tmp_path):
    src = tmp_path / "src"
    write_codec_video(src, "h264", index_frames(4), name="a")
    write_codec_video(src, "mjpeg_avi", index_frames(4), name="a")
    with pytest.raises(ValueError) as raised:
        run(src, tmp_path / "dst")
    assert (
        str(raised.value)
        == f"{src / 'a.avi'} and {src / 'a.mp4'} would both be copied to {tmp_path / 'dst' / 'a.mp4'}; rename one of them"
    )


def test_a_rotated_source_is_turned_in_the_copy(tmp_path):
    frames = np.zeros((6, 32, 64, 3), np.uint8)
    frames[:, :8] = 255  # a bright band along the top of the stored frames
    src = tmp_path / "src"
    source = write_codec_video(src, "h264", frames, name="phone", rotation=90)
    assert run(src, tmp_path / "dst", "--short_side", "16") == 0
    shown = open_video(source, backend="pyav").get_frames([0])[0].float()
    copy = open_video(tmp_path / "dst" / "phone.mp4", backend="pyav")
    assert (shown.shape[:2], (copy.height, copy.width)) == ((64, 32), (32, 16))
    copied = copy.get_frames([0])[0].float()
    assert shown[:, :4].mean() > 200 and copied[:, :2].mean() > 200  # the band is on the left, as players show it
    assert shown[:, 8:].mean() < 30 and copied[:, 4:].mean() < 30


def test_refuses_a_copy_whose_frames_read_back_differ(source_tree, tmp_path, monkeypatch):
    monkeypatch.setattr(
        resize_videos, "decode_in_order", lambda path, positions: torch.zeros(len(positions), 12, 12, 3)
    )
    row = resize_videos.convert_one(str(source_tree / "short.mp4"), str(tmp_path / "dst" / "short.mp4"), 12, 16, 20)
    assert row["error"].startswith(f"{source_tree / 'short.mp4'}: the copy's frame ")
    assert row["error"].endswith("differs from the same frame decoded in order; not written")
    assert os.listdir(tmp_path / "dst") == []

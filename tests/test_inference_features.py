# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Feature extraction over untrimmed videos: files, shapes, frame alignment, timelines, skipping."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.models import LH_LABELS, RH_LABELS, TINY_PROCESSOR, HalfBrightnessModel, save_tiny_model
from helpers.videos import noise_frames, two_hand_frames, write_video

from adhvit_hf.data.decoding import open_video
from adhvit_hf.inference.features import (
    extract_features,
    frames_so_far,
    iter_window_outputs,
    plan_windows,
    record_path,
)
from adhvit_hf.inference.videos import list_videos
from adhvit_hf.inference.windows import window_frame_indices
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor, processor_with_views
from adhvit_hf.utils import UserInputError


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def outcome(summary: dict) -> dict:
    """The videos per outcome of an `extract_features` summary (without its timing)."""
    return {key: summary[key] for key in ("done", "skipped", "failed", "errors")}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """A tiny model run over a 20-frame video and a video shorter than one window (stride 3, batches of 4)."""
    root = tmp_path_factory.mktemp("extract")
    model, processor = save_tiny_model(root / "model")
    video_dir = root / "videos"
    write_video(video_dir / "assembly_01.mp4", noise_frames(20, seed=3))
    write_video(video_dir / "short.mp4", noise_frames(5, seed=4))
    summary = extract_features(
        model, processor, list_videos(video_dir), root / "out", stride=3, batch_size=4, progress=False, bf16=False
    )
    return model, processor, video_dir, root / "out", summary


def test_outputs_use_polyphony_names_shapes_and_float32(extracted):
    model, _, video_dir, out, summary = extracted

    videos = [str(video_dir / "assembly_01.mp4"), str(video_dir / "short.mp4")]
    assert outcome(summary) == {"done": videos, "skipped": [], "failed": [], "errors": {}}
    for name, num_frames in (("assembly_01", 20), ("short", 5)):
        shared = np.load(out / "shared_features" / f"{name}.npy")
        lh = np.load(out / "lh_features" / f"{name}.npy")
        rh = np.load(out / "rh_features" / f"{name}.npy")
        assert (shared.shape, lh.shape, rh.shape) == ((32, num_frames), (3, num_frames), (4, num_frames))
        assert shared.dtype == lh.dtype == rh.dtype == np.float32
        assert (out / "timelines" / f"{name}.png").read_bytes().startswith(PNG_SIGNATURE)
    leftovers = [path for path in out.rglob("*") if path.name.startswith(".") or path.suffix == ".tmp"]
    assert leftovers == []


def test_window_results_sit_on_their_centre_frames(extracted):
    """Frame alignment: the feature at a window's centre frame is that window's model output; others interpolate."""
    model, processor, video_dir, out, _ = extracted
    video = str(video_dir / "assembly_01.mp4")
    windows = window_frame_indices(20, processor.num_frames, processor.sampling_rate, stride=3)
    reader = open_video(video)
    single_crop = processor_with_views(processor, test_num_crop=1)
    clips = torch.stack([single_crop.preprocess_clip(reader.get_frames(w))[0] for w in windows])
    with torch.no_grad():
        outputs = model(pixel_values=clips)

    shared = np.load(out / "shared_features" / "assembly_01.npy")
    lh = np.load(out / "lh_features" / "assembly_01.npy")
    rh = np.load(out / "rh_features" / "assembly_01.npy")
    centres = [3, 6, 9, 12, 15, 16]  # windows start at 0, 3, ..., 12 and one ends at the last frame
    np.testing.assert_allclose(shared[:, centres], outputs.pooled_output.T.numpy(), atol=1e-5)
    np.testing.assert_allclose(lh[:, centres], outputs.lh_logits.T.numpy(), atol=1e-5)
    np.testing.assert_allclose(rh[:, centres], outputs.rh_logits.T.numpy(), atol=1e-5)
    np.testing.assert_allclose(shared[:, :3], np.repeat(shared[:, [3]], 3, axis=1), atol=0)
    np.testing.assert_allclose(shared[:, 17:], np.repeat(shared[:, [16]], 3, axis=1), atol=0)
    np.testing.assert_allclose(shared[:, 4], (2 * shared[:, 3] + shared[:, 6]) / 3, atol=1e-6)


def test_timeline_json_matches_the_saved_logits(extracted):
    _, _, _, out, _ = extracted
    timeline = json.loads((out / "timelines" / "assembly_01.json").read_text())

    assert (timeline["video"], timeline["num_frames"], timeline["fps"]) == ("assembly_01", 20, 10.0)
    for hand, labels in (("lh", LH_LABELS), ("rh", RH_LABELS)):
        frame_labels = np.load(out / f"{hand}_features" / "assembly_01.npy").argmax(axis=0)
        segments = timeline["left_hand" if hand == "lh" else "right_hand"]
        assert segments[0]["start_frame"] == 0 and segments[-1]["end_frame"] == 19
        for previous, segment in zip(segments, segments[1:]):
            assert segment["start_frame"] == previous["end_frame"] + 1
            assert segment["label"] != previous["label"]
        for segment in segments:
            run = frame_labels[segment["start_frame"] : segment["end_frame"] + 1]
            assert {labels[i] for i in run.tolist()} == {segment["label"]}
            assert 0 < segment["confidence"] <= 1
            assert segment["start_time"] == segment["start_frame"] / 10.0
            assert segment["end_time"] == (segment["end_frame"] + 1) / 10.0


@pytest.mark.parametrize("stride", [2, 5])
def test_timeline_boundaries_are_found_within_one_stride(tmp_path, stride):
    lh_switch, rh_switch = 23, 41
    write_video(tmp_path / "videos" / "two_hands.mp4", two_hand_frames(60, lh_switch, rh_switch))
    processor = AdhVitVideoProcessor(**TINY_PROCESSOR)

    extract_features(
        HalfBrightnessModel(),
        processor,
        list_videos(tmp_path / "videos"),
        tmp_path / "out",
        stride=stride,
        batch_size=4,
        num_workers=1,
        progress=False,
    )

    timeline = json.loads((tmp_path / "out" / "timelines" / "two_hands.json").read_text())
    for hand, switch in (("left_hand", lh_switch), ("right_hand", rh_switch)):
        before, after = timeline[hand]
        assert (before["start_frame"], before["label"]) == (0, "before")
        assert (after["end_frame"], after["label"]) == (59, "after")
        assert after["start_frame"] == before["end_frame"] + 1
        assert abs(after["start_frame"] - switch) <= stride
    shared = np.load(tmp_path / "out" / "shared_features" / "two_hands.npy")
    assert shared[:, :15].tolist() == [[0.0] * 15, [0.0] * 15]
    assert shared[:, 50:].tolist() == [[1.0] * 10, [1.0] * 10]


def test_finished_videos_are_skipped_unless_overwrite(tmp_path):
    video_dir = tmp_path / "videos"
    write_video(video_dir / "a.mp4", two_hand_frames(12, 4, 8))
    write_video(video_dir / "b.mp4", two_hand_frames(12, 6, 2))
    videos = list_videos(video_dir)
    model, processor = HalfBrightnessModel(), AdhVitVideoProcessor(**TINY_PROCESSOR)
    run = dict(output_dir=tmp_path / "out", stride=2, progress=False)

    def modification_times():
        return {path.relative_to(tmp_path): path.stat().st_mtime_ns for path in (tmp_path / "out").rglob("*.*")}

    first = extract_features(model, processor, videos, **run)
    after_first = modification_times()
    second = extract_features(model, processor, videos, **run)
    assert outcome(first) == {"done": [str(v) for v in videos], "skipped": [], "failed": [], "errors": {}}
    assert outcome(second) == {"done": [], "skipped": [str(v) for v in videos], "failed": [], "errors": {}}
    assert modification_times() == after_first and len(after_first) == 12
    assert record_path(tmp_path / "out", "b").is_file()

    record_path(tmp_path / "out", "b").unlink()  # as if the run was killed before b's record, its last file
    third = extract_features(model, processor, videos, **run)
    assert outcome(third) == {"done": [str(videos[1])], "skipped": [str(videos[0])], "failed": [], "errors": {}}
    unchanged = {path: mtime for path, mtime in modification_times().items() if path.stem == "a"}
    assert unchanged == {path: mtime for path, mtime in after_first.items() if path.stem == "a"}

    forced = extract_features(model, processor, videos, overwrite=True, **run)
    assert outcome(forced) == {"done": [str(v) for v in videos], "skipped": [], "failed": [], "errors": {}}


def test_an_undecodable_video_is_reported_and_the_others_are_written(tmp_path, caplog):
    video_dir = tmp_path / "videos"
    write_video(video_dir / "good.mp4", two_hand_frames(10, 3, 6))
    (video_dir / "broken.mp4").write_bytes(b"this is not a video")

    summary = extract_features(
        HalfBrightnessModel(),
        AdhVitVideoProcessor(**TINY_PROCESSOR),
        list_videos(video_dir),
        tmp_path / "out",
        progress=False,
    )

    broken = str(video_dir / "broken.mp4")
    assert summary["done"] == [str(video_dir / "good.mp4")]
    assert (summary["skipped"], summary["failed"], list(summary["errors"])) == ([], [broken], [broken])
    assert summary["errors"][broken].startswith(f"{broken}: cannot open video")
    assert f"Skipping {video_dir / 'broken.mp4'}" in caplog.text
    assert sorted(p.name for p in (tmp_path / "out" / "shared_features").iterdir()) == ["good.npy"]


def test_processor_and_model_must_agree_on_frames_per_window(tmp_path):
    video = write_video(tmp_path / "v.mp4", two_hand_frames(10, 3, 6))
    processor = AdhVitVideoProcessor(**{**TINY_PROCESSOR, "num_frames": 8})
    with pytest.raises(ValueError, match=r"samples 8 frames per window but the model expects 4 \(config.num_frames\)"):
        extract_features(HalfBrightnessModel(), processor, [video], tmp_path / "out", progress=False)


def test_list_videos_from_a_folder_takes_video_files_sorted(tmp_path):
    for name in ("b.mp4", "a.MKV", "notes.txt", "c.avi"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.mp4").mkdir()

    assert [p.name for p in list_videos(tmp_path)] == ["a.MKV", "b.mp4", "c.avi"]


def test_list_videos_from_a_list_file_resolves_relative_paths(tmp_path):
    listing = tmp_path / "lists" / "test.txt"
    listing.parent.mkdir()
    listing.write_text("# untrimmed test videos\n../videos/a.mp4\n\n/data/b.mp4\n")

    assert list_videos(listing) == [tmp_path / "lists" / "../videos/a.mp4", Path("/data/b.mp4")]


def test_list_videos_errors_name_the_source(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path}: no video files"):
        list_videos(tmp_path)
    with pytest.raises(ValueError, match=f"{tmp_path / 'missing'}: no such video, folder or video list file"):
        list_videos(tmp_path / "missing")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(ValueError, match=f"{tmp_path / 'empty.txt'}: the video list is empty"):
        list_videos(tmp_path / "empty.txt")
    (tmp_path / "twice.txt").write_text("x/a.mp4\ny/a.avi\n")
    with pytest.raises(ValueError, match="would both write outputs named 'a'"):
        list_videos(tmp_path / "twice.txt")


def test_outputs_made_by_other_settings_or_from_another_video_are_refused_and_changed_videos_redone(tmp_path, caplog):
    video_dir = tmp_path / "videos"
    write_video(video_dir / "a.mp4", two_hand_frames(12, 4, 8))
    model, processor = HalfBrightnessModel(), AdhVitVideoProcessor(**TINY_PROCESSOR)
    out = tmp_path / "out"
    extract_features(model, processor, [video_dir / "a.mp4"], out, stride=2, progress=False, bf16=False)
    record = json.loads((out / "provenance" / "a.json").read_text())
    assert record["source"]["path"] == str((video_dir / "a.mp4").resolve())
    assert record["source"]["size"] == (video_dir / "a.mp4").stat().st_size
    assert (record["run"]["stride"], record["run"]["precision"]) == (2, "fp32")
    assert set(record["run"]) == {"model", "weights", "processor", "stride", "precision"}
    before = (out / "lh_features" / "a.npy").read_bytes()

    with pytest.raises(UserInputError) as error:  # another stride: another run's results, kept
        extract_features(model, processor, [video_dir / "a.mp4"], out, stride=3, progress=False, bf16=False)
    assert str(error.value) == (
        f"{out}/provenance/a.json: the outputs in {out} were made with other --stride (2 then, 3 now); choose "
        "another --output_dir, or --overwrite to redo them with these settings"
    )
    with pytest.raises(UserInputError, match="were made with other precision \\(fp32 then, bf16 now\\)"):
        extract_features(model, processor, [video_dir / "a.mp4"], out, stride=2, progress=False, bf16=True)
    other = tmp_path / "elsewhere" / "a.mp4"  # another video of the same file name
    write_video(other, two_hand_frames(12, 6, 2))
    with pytest.raises(UserInputError, match="another video of the same name"):
        extract_features(model, processor, [other], out, stride=2, progress=False, bf16=False)
    assert (out / "lh_features" / "a.npy").read_bytes() == before

    write_video(video_dir / "a.mp4", two_hand_frames(12, 6, 2))  # the same path, a new video
    with caplog.at_level("INFO"):
        summary = extract_features(model, processor, [video_dir / "a.mp4"], out, stride=2, progress=False, bf16=False)
    assert summary["done"] == [str(video_dir / "a.mp4")]
    assert (
        f"redoing {video_dir / 'a.mp4'}: the video changed since its outputs were made (size or modification time)"
        in caplog.messages
    )
    assert (out / "lh_features" / "a.npy").read_bytes() != before


def test_frames_so_far_are_the_final_values_of_the_frames_they_cover(extracted):
    model, processor, video_dir, _, _ = extracted
    windows = plan_windows(processor, video_dir / "assembly_01.mp4", stride=3)
    batches = list(iter_window_outputs(model, processor, windows, batch_size=1))
    final = frames_so_far(windows, torch.cat([batch["lh"] for batch in batches]))

    assert final.shape == (3, 20) and len(batches) == len(windows) == 6
    for done in range(1, len(windows)):
        partial = frames_so_far(windows, torch.cat([batch["lh"] for batch in batches[:done]]))
        last_centre = windows.centres[done - 1].item()
        assert partial.shape[1] == int(last_centre) + 1
        assert torch.equal(partial, final[:, : partial.shape[1]])

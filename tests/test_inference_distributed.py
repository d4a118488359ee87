# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""adhvit-extract over several ranks (torchrun, gloo on the CPU): split, byte-identical outputs, killed ranks,
concurrent jobs, locks, and the job summary."""

import json
import os
import subprocess
import sys

import pytest
from helpers.cli import HELPERS, free_port, subprocess_env
from helpers.models import save_tiny_model
from helpers.videos import noise_frames, write_video

from adhvit_hf.inference import distributed
from adhvit_hf.inference.distributed import balanced_split, video_lock
from adhvit_hf.inference.features import RECORD_FOLDER, extract_features, is_complete, record_path
from adhvit_hf.inference.loading import load_model_for_inference, load_processor_for_inference
from adhvit_hf.inference.videos import list_videos


pytestmark = pytest.mark.slow

# Frame counts of the test folder's videos: the split by frame count is not the split by position.
FRAME_COUNTS = {"v0": 20, "v1": 8, "v2": 14, "v3": 9, "v4": 11, "v5": 6}


def extract(out, videos, model, ranks: int, env=None, expect=0, extra=()):
    """Runs adhvit-extract on `ranks` torchrun ranks (one thread each), `extra` flags added; returns its stderr."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(ranks)]
    command += ["--master_port", str(free_port()), str(HELPERS / "extract_worker.py")]
    command += ["--model", str(model), "--videos", str(videos), "--output_dir", str(out), "--stride", "2"]
    command += ["--batch_size", "3", "--num_workers", "0", "--device", "cpu", *extra]
    run_env = subprocess_env(OMP_NUM_THREADS="1", **(env or {}))
    result = subprocess.run(command, env=run_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == expect, result.stderr[-3000:]
    return result.stderr


def output_bytes(out) -> dict:
    """Every output file's bytes, by path, without the per-video records (checked on their own), the summary and the
    hidden `.tmp` files of writes a killed rank left unfinished (atomic_write's: never taken for an output)."""
    return {
        str(path.relative_to(out)): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file()
        and path.parent.name != RECORD_FOLDER
        and path.name != distributed.SUMMARY_NAME
        and not (path.name.startswith(".") and path.name.endswith(".tmp"))
    }


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny model, six videos of different lengths, and the outputs of a one-rank run."""
    root = tmp_path_factory.mktemp("distributed")
    save_tiny_model(root / "model")
    for seed, (name, frames) in enumerate(FRAME_COUNTS.items()):
        write_video(root / "videos" / f"{name}.mp4", noise_frames(frames, seed=seed))
    extract(root / "single", root / "videos", root / "model", ranks=1)
    return root


def test_the_split_balances_frames_longest_first():
    assert balanced_split([20, 8, 14, 9, 11, 6], 2) == [[0, 3, 5], [1, 2, 4]]  # 35 and 33 frames
    assert balanced_split([5], 3) == [[0], [], []]
    assert balanced_split([], 2) == [[], []]
    assert balanced_split([3, 3, 3, 3], 2) == [[0, 2], [1, 3]]


def test_two_ranks_write_the_one_rank_bytes_each_video_once(folder, tmp_path):
    extract(tmp_path, folder / "videos", folder / "model", ranks=2)

    assert output_bytes(tmp_path) == output_bytes(folder / "single")
    assert len(output_bytes(tmp_path)) == 5 * len(FRAME_COUNTS)
    summary = json.loads((tmp_path / distributed.SUMMARY_NAME).read_text())
    assert summary["world_size"] == 2
    assert sorted(summary["done"]) == sorted(str(folder / "videos" / f"{name}.mp4") for name in FRAME_COUNTS)
    assert [(rank["rank"], rank["done"], rank["frames"]) for rank in summary["per_rank"]] == [(0, 3, 35), (1, 3, 33)]
    assert summary["frames"] == sum(FRAME_COUNTS.values()) and summary["frames_per_second"] > 0
    assert (summary["skipped"], summary["failed"]) == ([], [])
    assert sorted(path.stem for path in (tmp_path / RECORD_FOLDER).iterdir()) == sorted(FRAME_COUNTS)
    assert not (tmp_path / distributed.LOCK_FOLDER).exists()


def test_a_rank_killed_mid_video_and_a_rerun_complete_the_folder_doing_each_video_once(folder, tmp_path):
    # Rank 1 dies while writing its second video (v2: its share is v1, v2, v4); torchrun then stops rank 0.
    extract(tmp_path, folder / "videos", folder / "model", ranks=2, env={"KILL_RANK": "1", "KILL_AT": "2"}, expect=1)
    complete = {name for name in FRAME_COUNTS if is_complete(tmp_path, name)}
    assert "v1" in complete and "v2" not in complete and (tmp_path / "shared_features" / "v2.npy").exists()
    assert (tmp_path / distributed.LOCK_FOLDER / "v2.lock").exists()  # the dead rank's, stale now
    records_before = {name: record_path(tmp_path, name).stat().st_mtime_ns for name in complete}

    stderr = extract(tmp_path, folder / "videos", folder / "model", ranks=2)

    summary = json.loads((tmp_path / distributed.SUMMARY_NAME).read_text())
    assert sorted(summary["done"]) == sorted(
        str(folder / "videos" / f"{n}.mp4") for n in FRAME_COUNTS if n not in complete
    )
    assert sorted(entry["video"] for entry in summary["skipped"]) == sorted(
        str(folder / "videos" / f"{name}.mp4") for name in complete
    )
    assert {name: record_path(tmp_path, name).stat().st_mtime_ns for name in complete} == records_before
    assert output_bytes(tmp_path) == output_bytes(folder / "single")
    assert "taking over the stale lock" in stderr


def test_more_ranks_than_videos(folder, tmp_path):
    (tmp_path / "one.txt").write_text(str(folder / "videos" / "v1.mp4") + "\n")
    extract(tmp_path / "out", tmp_path / "one.txt", folder / "model", ranks=3)

    summary = json.loads((tmp_path / "out" / distributed.SUMMARY_NAME).read_text())
    assert [rank["done"] for rank in summary["per_rank"]] == [1, 0, 0]
    assert output_bytes(tmp_path / "out") == {
        key: value for key, value in output_bytes(folder / "single").items() if "v1." in key
    }


def test_a_video_locked_by_a_running_job_is_left_to_it(folder, tmp_path):
    model = load_model_for_inference(folder / "model", "cpu")
    processor = load_processor_for_inference(folder / "model")
    videos = list_videos(folder / "videos")[:2]
    with video_lock(tmp_path, "v0"):  # this process stands for the other job, which is running
        summary = extract_features(model, processor, videos, tmp_path, stride=2, progress=False)
    assert summary["done"] == [str(videos[1])]
    assert summary["skipped"] == [str(videos[0])]
    assert summary["skip_reasons"][str(videos[0])].startswith(f"v0: locked by process {os.getpid()} on ")
    assert not is_complete(tmp_path, "v0")


def test_a_lock_of_a_dead_process_is_taken_over_and_one_of_another_host_is_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = tmp_path / distributed.LOCK_FOLDER / "a.lock"
    lock.parent.mkdir()
    lock.write_text(json.dumps({"host": distributed.socket.gethostname(), "pid": int(dead.stdout), "since": "x"}))
    with video_lock(tmp_path, "a"):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()

    lock.parent.mkdir()
    lock.write_text(json.dumps({"host": "another-node", "pid": int(dead.stdout), "since": "2026-12-08T01:00:00"}))
    with pytest.raises(distributed.VideoLocked, match=f"a: locked by process {dead.stdout.strip()} on another-node"):
        with video_lock(tmp_path, "a"):
            pass
    assert lock.exists()


def test_predict_over_two_ranks_prints_the_one_rank_results_in_order(folder):
    videos = [str(folder / "videos" / f"{name}.mp4") for name in FRAME_COUNTS]
    outputs = []
    for ranks in (1, 2):
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(ranks)]
        command += ["--master_port", str(free_port()), "-m", "adhvit_hf.cli.predict", *videos]
        command += ["--model", str(folder / "model"), "--json", "--device", "cpu", "--top_k", "2"]
        result = subprocess.run(
            command, env=subprocess_env(OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-3000:]
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1]
    assert [entry["video"] for entry in outputs[1]] == videos


def test_each_rank_gets_its_own_device_and_an_explicit_gpu_is_refused_under_several_ranks():
    one, four = distributed.Ranks(0, 1, 0), distributed.Ranks(5, 8, 1)
    assert distributed.rank_device(None, one) is None and distributed.rank_device("cuda:1", one) == "cuda:1"
    assert distributed.rank_device("cpu", four) == "cpu"
    if not distributed.torch.cuda.is_available():
        assert distributed.rank_device(None, four) == "cpu"
    with pytest.raises(distributed.UserInputError, match=r"--device cuda:1: with 8 ranks each rank uses its own GPU"):
        distributed.rank_device("cuda:1", four)


def test_two_ranks_with_cameras_write_the_one_rank_bytes_fused_and_per_camera(folder, tmp_path):
    # Three recordings filmed by two cameras: each rank does whole recordings, every camera of one on the same rank.
    for camera in ("side", "top"):
        for seed, (name, frames) in enumerate(list(FRAME_COUNTS.items())[:3]):
            write_video(tmp_path / "videos" / camera / f"{name}.mp4", noise_frames(frames, seed=seed + len(camera)))
    videos, cameras = tmp_path / "videos" / "{camera}", ["--cameras", "side", "top"]

    single, multi = tmp_path / "single", tmp_path / "multi"
    extract(single, videos, folder / "model", ranks=1, extra=cameras)
    extract(multi, videos, folder / "model", ranks=2, extra=cameras)

    assert output_bytes(multi) == output_bytes(single)
    assert {path.parts[-3] for path in multi.glob("cameras/*/shared_features/*.npy")} == {"side", "top"}
    assert len(output_bytes(multi)) == 3 * 5 * 3  # fused + two cameras, five files per recording
    summary = json.loads((multi / distributed.SUMMARY_NAME).read_text())
    assert sorted(rank["done"] for rank in summary["per_rank"]) == [1, 2]

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The suite's shared fixtures (helpers are in tests/helpers): the demo data, one saved tiny model with its videos,
a local Hub, and one two-rank DDP run."""

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.cli import run_two_ranks, tiny_run_args
from helpers.hub_server import LocalHub
from helpers.models import save_tiny_model
from helpers.videos import noise_frames, two_hand_frames, write_video

from adhvit_hf.data.demo import make_demo_dataset
from adhvit_hf.data.demo_cameras import make_camera_demo_dataset
from adhvit_hf.publishing import add_remote_code


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """A demo dataset small enough for tests: 16 train, 6 val, 6 test videos per hand."""
    root = tmp_path_factory.mktemp("demo_data")
    make_demo_dataset(str(root), seed=0, split_sizes={"train": 16, "val": 6, "test": 6})
    return root


@dataclass
class SavedModel:
    model: object
    processor: object
    folder: Path
    hub_folder: Path
    video_folder: Path
    videos: dict[str, str]


@pytest.fixture(scope="session")
def camera_demo_data(tmp_path_factory):
    """The demo scene filmed by cameras 0, 1 and 2: 8 train, 3 val, 3 test recordings per hand."""
    root = tmp_path_factory.mktemp("camera_demo_data")
    make_camera_demo_dataset(str(root), 3, seed=0, split_sizes={"train": 8, "val": 3, "test": 3})
    return root


@pytest.fixture(scope="session")
def saved(tmp_path_factory) -> SavedModel:
    """A tiny model with named labels saved with its processor (`folder`), the same prepared for the Hub with its
    remote code (`hub_folder`: the package must still use its own), and videos: `video_folder` holds "first" (12 noise
    frames) and "second" (9 frames, two hands switching); "long" (20) and "short" (5 noise frames) lie elsewhere."""
    root = tmp_path_factory.mktemp("saved")
    model, processor = save_tiny_model(root / "model")
    shutil.copytree(root / "model", root / "hub_model")
    add_remote_code(root / "hub_model")
    videos = {
        "first": write_video(root / "videos" / "first.mp4", noise_frames(12, seed=5)),
        "second": write_video(root / "videos" / "second.mp4", two_hand_frames(9, 3, 6, size=32)),
        "long": write_video(root / "clips" / "long.mp4", noise_frames(20, seed=1)),
        "short": write_video(root / "clips" / "short.mp4", noise_frames(5, seed=2)),
    }
    return SavedModel(model, processor, root / "model", root / "hub_model", root / "videos", videos)


@pytest.fixture
def local_hub(tmp_path, monkeypatch):
    """A local Hub for one test. This process's `huggingface_hub` points at it; `hub.env` is for subprocesses.

    The test fails if any request reached a route the local hub does not implement."""
    from huggingface_hub import constants

    with LocalHub(tmp_path / "hf_home") as hub:
        for name, value in hub.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf_home" / "hub"))
        monkeypatch.setattr(
            constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
        )
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        import transformers.utils.hub as transformers_hub

        monkeypatch.setattr(transformers_hub, "_hf_api", None)
        yield hub
        hub.check_routes()


@dataclass
class TwoRankRun:
    run: dict
    output_dir: Path
    ranks: list[dict]


@pytest.fixture(scope="session")
def two_rank_run(demo_data, tmp_path_factory) -> TwoRankRun:
    """One DDP run on two CPU ranks (10 steps, hands switching every 3, checkpoint-5 and -10), shared by the DDP tests.

    use_cpu: on a machine without GPUs transformers runs torchrun ranks as separate single-process jobs otherwise."""
    run = dict(max_steps=10, alternation_steps=3, save_strategy="steps", save_steps=5, use_cpu="True")
    root = tmp_path_factory.mktemp("two_ranks")
    ranks = run_two_ranks(root, tiny_run_args(demo_data, root / "out", **run))
    return TwoRankRun(run, root / "out", ranks)

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Shared fixtures: a small demo dataset and the argument list of a tiny, fast training run."""

import pytest

from adhvit_hf.data.demo import make_demo_dataset
from adhvit_hf.data.demo_cameras import make_camera_demo_dataset


TINY_MODEL = "hidden_size=32,num_hidden_layers=2,num_attention_heads=2,intermediate_size=64"


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """A demo dataset small enough for tests: 16 train, 6 val, 6 test videos per hand."""
    root = tmp_path_factory.mktemp("demo_data")
    make_demo_dataset(str(root), seed=0, split_sizes={"train": 16, "val": 6, "test": 6})
    return root


@pytest.fixture(scope="session")
def camera_demo_data(tmp_path_factory):
    """The demo scene filmed by cameras 0, 1 and 2: 8 train, 3 val, 3 test recordings per hand."""
    root = tmp_path_factory.mktemp("camera_demo_data")
    make_camera_demo_dataset(str(root), 3, seed=0, split_sizes={"train": 8, "val": 3, "test": 3})
    return root


def tiny_run_args(data_root, output_dir, **overrides) -> list[str]:
    """run_havid arguments of a tiny model on the demo data: a few seconds of CPU per epoch."""
    args = {
        "lh_data_path": f"{data_root}/lh",
        "rh_data_path": f"{data_root}/rh",
        "output_dir": str(output_dir),
        "model": "vit_small_patch16_224",
        "config_overrides": TINY_MODEL,
        "lh_num_classes": 6,
        "rh_num_classes": 6,
        "input_size": 32,
        "short_side_size": 32,
        "num_frames": 4,
        "sampling_rate": 2,
        "num_sample": 1,
        "test_num_segment": 2,
        "test_num_crop": 1,
        "batch_size": 4,
        "per_device_eval_batch_size": 4,
        "learning_rate": 1e-3,
        "warmup_steps": 2,
        "alternation_steps": 2,
        "num_train_epochs": 1,
        "num_workers": 0,
        "report_to": "none",
        "eval_strategy": "no",
        "save_strategy": "no",
        "do_eval": "False",
        "no_auto_resume": None,
        "seed": 0,
    }
    args.update(overrides)
    argv = []
    for name, value in args.items():
        values = [] if value is None else value if isinstance(value, list) else [value]
        argv += [f"--{name}", *map(str, values)]
    return argv

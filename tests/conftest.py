# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Shared fixtures: a small demo dataset and the argument list of a tiny, fast training run.

Before any test module imports huggingface_hub or transformers (both read these variables once, at import), the
suite gives itself the environment it needs, whatever the caller's shell has: an empty HF home of its own per
session (no cached registry, token or model from the user's machine) and the offline switches, so nothing reaches
the network; tests of the local Hub switch back on what they need. This module imports neither package itself.
"""

import atexit
import os
import shutil
import tempfile

import pytest


SESSION_HF_HOME = tempfile.mkdtemp(prefix="adhvit_test_hf_home_")
atexit.register(shutil.rmtree, SESSION_HF_HOME, ignore_errors=True)
TEST_ENVIRONMENT = {
    "HF_HOME": SESSION_HF_HOME,
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
}
for _name in ("HF_TOKEN", "HF_ENDPOINT", "HF_HUB_CACHE", "HF_MODULES_CACHE", "HUGGINGFACE_HUB_CACHE"):
    os.environ.pop(_name, None)
os.environ.update(TEST_ENVIRONMENT)


TINY_MODEL = "hidden_size=32,num_hidden_layers=2,num_attention_heads=2,intermediate_size=64"


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """A demo dataset small enough for tests: 16 train, 6 val, 6 test videos per hand."""
    from adhvit_hf.data.demo import make_demo_dataset

    root = tmp_path_factory.mktemp("demo_data")
    make_demo_dataset(str(root), seed=0, split_sizes={"train": 16, "val": 6, "test": 6})
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
        argv += [f"--{name}"] + ([] if value is None else [str(value)])
    return argv

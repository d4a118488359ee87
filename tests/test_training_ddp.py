# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Two DDP processes on the CPU (gloo): same hand at every step on both ranks, identical final weights."""

import json
import os
import socket
import subprocess
import sys

from conftest import tiny_run_args


TESTS = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_two_ranks(out_dir, argv):
    """Runs ddp_worker.py on 2 CPU ranks; returns each rank's record (moved heads, weight digest, world size)."""
    # the caller's PYTHONPATH too, so the ranks import the adhvit_hf under test (a worktree), not an installed one
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(free_port()),
        os.path.join(TESTS, "ddp_worker.py"),
        str(out_dir),
        *argv,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads((out_dir / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_two_ranks_alternate_together_and_end_identical(demo_data, tmp_path):
    # use_cpu: on a machine without GPUs transformers runs torchrun ranks as separate single-process jobs otherwise
    argv = tiny_run_args(
        demo_data, tmp_path / "weights", max_steps=6, alternation_steps=2, weight_decay=0.1, use_cpu="True"
    )
    ranks = run_two_ranks(tmp_path, argv)
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    expected = [[("lh", "rh")[(step // 2) % 2]] for step in range(6)]
    assert ranks[0]["moved"] == ranks[1]["moved"] == expected
    assert ranks[0]["weights"] == ranks[1]["weights"]


def test_a_resumed_ddp_run_ends_where_the_uninterrupted_one_does(demo_data, tmp_path):
    # 4 optimizer steps per epoch on 2 ranks: the resume from step 5 lands inside the second epoch
    run = dict(max_steps=10, alternation_steps=3, save_strategy="steps", save_steps=5, use_cpu="True")
    (tmp_path / "full").mkdir()
    (tmp_path / "resumed").mkdir()
    full = run_two_ranks(tmp_path / "full", tiny_run_args(demo_data, tmp_path / "full" / "out", **run))
    checkpoint = tmp_path / "full" / "out" / "checkpoint-5"
    resumed = run_two_ranks(
        tmp_path / "resumed",
        tiny_run_args(demo_data, tmp_path / "resumed" / "out", resume_from_checkpoint=checkpoint, **run),
    )
    assert resumed[0]["weights"] == resumed[1]["weights"] == full[0]["weights"]


def test_two_ranks_with_pooled_cameras_alternate_together_and_end_identical(camera_demo_data, tmp_path):
    # each rank draws its clips' cameras from their seeds; the ranks still train the same hand at every step
    argv = tiny_run_args(
        camera_demo_data,
        tmp_path / "weights",
        cameras=["0", "1", "2"],
        max_steps=4,
        alternation_steps=1,
        use_cpu="True",
    )
    ranks = run_two_ranks(tmp_path, argv)
    assert ranks[0]["moved"] == ranks[1]["moved"] == [[("lh", "rh")[step % 2]] for step in range(4)]
    assert ranks[0]["weights"] == ranks[1]["weights"]

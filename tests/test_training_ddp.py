# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Two DDP processes on the CPU (gloo): same hand at every step on both ranks, identical final weights, and a resumed
run that ends where the uninterrupted one (the shared `two_rank_run`) does."""

import pytest
from helpers.cli import run_two_ranks, tiny_run_args


pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("two_rank_run")]


def test_two_ranks_alternate_together_and_end_identical(two_rank_run):
    ranks = two_rank_run.ranks
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    steps, alternation = two_rank_run.run["max_steps"], two_rank_run.run["alternation_steps"]
    expected = [[("lh", "rh")[(step // alternation) % 2]] for step in range(steps)]
    assert ranks[0]["moved"] == ranks[1]["moved"] == expected
    assert ranks[0]["weights"] == ranks[1]["weights"]


def test_a_resumed_ddp_run_ends_where_the_uninterrupted_one_does(demo_data, two_rank_run, tmp_path):
    # 4 optimizer steps per epoch on 2 ranks: the resume from step 5 lands inside the second epoch
    checkpoint = two_rank_run.output_dir / "checkpoint-5"
    resumed = run_two_ranks(
        tmp_path, tiny_run_args(demo_data, tmp_path / "out", resume_from_checkpoint=checkpoint, **two_rank_run.run)
    )
    assert resumed[0]["weights"] == resumed[1]["weights"] == two_rank_run.ranks[0]["weights"]


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

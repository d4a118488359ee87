# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Preemption and killed jobs: a run stopped at any moment resumes to the same weights as an uninterrupted one."""

import os
import signal
import subprocess
import sys

import pytest
import torch
from helpers.callbacks import SignalDuringStep
from helpers.cli import HELPERS, subprocess_env, tiny_run_args, torchrun
from safetensors.torch import load_file

from adhvit_hf.cli import run_havid
from adhvit_hf.training.checkpoints import COMPLETE_MARKER


pytestmark = pytest.mark.slow


# 8 optimizer steps (16 clips per hand, batch 4, alternating every 2 steps), a checkpoint every 2.
CHECKPOINTED = dict(save_strategy="steps", save_steps=2, auto_resume="True")


def run_args(data, output_dir, **overrides):
    args = tiny_run_args(data, output_dir, **{**CHECKPOINTED, **overrides})
    no_auto = args.index("--no_auto_resume")
    return args[:no_auto] + args[no_auto + 1 :]


def final_weights(output_dir) -> dict:
    return load_file(os.path.join(output_dir, "model.safetensors"))


def assert_same_weights(actual: dict, expected: dict):
    assert actual.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(
            actual[name], expected[name], rtol=0, atol=1e-6, msg=lambda m, name=name: f"{name}: {m}"
        )


@pytest.fixture(scope="module")
def reference(demo_data, tmp_path_factory):
    """Final weights of the uninterrupted run."""
    output_dir = tmp_path_factory.mktemp("reference")
    run_havid.main(run_args(demo_data, output_dir))
    return final_weights(output_dir)


def run_killed(args: list[str], kill: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(HELPERS / "kill_run.py"), kill, *args],
        capture_output=True,
        text=True,
        env=subprocess_env(),
    )


def test_sigkill_at_any_point_resumes_to_the_uninterrupted_weights(demo_data, tmp_path, reference):
    output_dir = tmp_path / "out"
    args = run_args(demo_data, output_dir, save_total_limit=1)

    # Killed while writing checkpoint-2 (weights written, optimizer not): nothing complete yet.
    result = run_killed(args, "save:2")
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    assert (output_dir / "checkpoint-2" / "model.safetensors").is_file()
    assert not (output_dir / "checkpoint-2" / COMPLETE_MARKER).exists()

    # Starts afresh (the half-written checkpoint is skipped and replaced), killed after writing every file of
    # checkpoint-4 but before its marker: checkpoint-2 is not rotated away before checkpoint-4 is complete.
    result = run_killed(args, "marker:4")
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    assert f"skipping incomplete checkpoint {output_dir}/checkpoint-2" in result.stderr
    assert (output_dir / "checkpoint-2" / COMPLETE_MARKER).is_file()
    assert (output_dir / "checkpoint-4" / "trainer_state.json").is_file()
    assert not (output_dir / "checkpoint-4" / COMPLETE_MARKER).exists()

    # Resumes from checkpoint-2 (never the unmarked checkpoint-4), killed between two saves.
    result = run_killed(args, "step:5")
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    assert f"skipping incomplete checkpoint {output_dir}/checkpoint-4" in result.stderr
    assert f"resuming from {output_dir}/checkpoint-2" in result.stderr
    assert (output_dir / "checkpoint-4" / COMPLETE_MARKER).is_file()
    assert not (output_dir / "checkpoint-2").exists()  # rotated once checkpoint-4 was complete

    # Resumes from checkpoint-4 and finishes.
    results = run_havid.main(args)
    assert results["epoch"] == 1.0
    assert_same_weights(final_weights(output_dir), reference)


def test_sigterm_saves_a_checkpoint_stops_and_resumes_exactly(demo_data, tmp_path, reference, caplog):
    output_dir = tmp_path / "out"
    args = run_args(demo_data, output_dir, save_steps=100)

    with caplog.at_level("WARNING"):
        results = run_havid.main(args, callbacks=[SignalDuringStep(3, signal.SIGTERM)])

    assert results == {"preempted_at_step": 3}
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone after training
    assert (output_dir / "checkpoint-3" / COMPLETE_MARKER).is_file()
    assert not (output_dir / "model.safetensors").exists()  # no final model from an unfinished run
    checkpoint = f"{output_dir}/checkpoint-3"
    assert (
        f"training stopped by SIGTERM at step 3; checkpoint saved in {checkpoint}. To resume, rerun the same "
        f"command (auto-resume takes the newest complete checkpoint), or add --resume_from_checkpoint {checkpoint}"
    ) in caplog.messages

    run_havid.main([*args, "--resume_from_checkpoint", checkpoint])
    assert_same_weights(final_weights(output_dir), reference)


def test_sigterm_on_one_ddp_rank_stops_every_rank_at_the_same_step(demo_data, tmp_path):
    output_dir = tmp_path / "out"
    result = torchrun(
        "kill_run.py",
        ["sigterm-rank1:3", *run_args(demo_data, output_dir, save_steps=100, use_cpu="True")],
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training stopped by SIGTERM at step 3" in result.stderr
    assert "training stopped by a signal on another rank at step 3" in result.stderr
    assert "parallel_mode != ParallelMode.DISTRIBUTED" not in result.stderr  # real DDP (needs use_cpu on CPU)
    assert sorted(p.name for p in output_dir.glob("checkpoint-*")) == ["checkpoint-3"]
    assert (output_dir / "checkpoint-3" / COMPLETE_MARKER).is_file()

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Runs `run_havid` and kills (or signals) itself at a chosen point: `python tests/faults_helpers.py WHEN:STEP ARGS...`.

WHEN is `step` (at the end of optimizer step STEP), `save` (during the save of checkpoint-STEP, after its weights
and before its optimizer state) or `marker` (after every file of checkpoint-STEP, before its completion marker);
`sigterm-rank1` sends SIGTERM instead, to rank 1 only, as step STEP begins (run it under torchrun).
"""

import os
import signal
import sys

from transformers import Trainer, TrainerCallback

from adhvit_hf.cli import run_havid
from adhvit_hf.training import checkpoints


class ScoreByEpoch(TrainerCallback):
    """Makes epoch k's validation mean top-1 `scores[k - 1]`, so the best epoch is known in advance."""

    def __init__(self, scores):
        self.scores = scores

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        metrics["eval_mean_top1"] = self.scores[round(state.epoch) - 1]


def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


class KillAtStepEnd(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            kill_self()


class SignalDuringStep(TrainerCallback):
    """Sends `signum` to this process as optimizer step `step` (counted from 1) begins: a scheduler's notice."""

    def __init__(self, step: int, signum: int = signal.SIGTERM):
        self.step, self.signum = step, signum

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.step - 1:
            os.kill(os.getpid(), self.signum)


def install_kill(when: str, step: int) -> list:
    """Patches the save path for `save`/`marker`; returns the callbacks for `step`."""
    if when == "step":
        return [KillAtStepEnd(step)]
    if when == "sigterm-rank1":  # under torchrun: only rank 1 is told to stop
        return [SignalDuringStep(step)] if os.environ.get("RANK") == "1" else []
    if when == "save":
        original = Trainer._save_optimizer_and_scheduler

        def save_optimizer_and_scheduler(self, output_dir):
            if self.state.global_step == step:
                kill_self()
            original(self, output_dir)

        Trainer._save_optimizer_and_scheduler = save_optimizer_and_scheduler
    elif when == "marker":
        original_mark = checkpoints.mark_checkpoint_complete

        def mark_checkpoint_complete(folder, global_step):
            if global_step == step:
                kill_self()
            original_mark(folder, global_step)

        checkpoints.mark_checkpoint_complete = mark_checkpoint_complete
    else:
        raise ValueError(f"unknown kill point {when!r}")
    return []


if __name__ == "__main__":
    when, step = sys.argv[1].split(":")
    run_havid.main(sys.argv[2:], callbacks=install_kill(when, int(step)))

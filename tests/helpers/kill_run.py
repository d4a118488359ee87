# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Runs `run_havid` and kills (or signals) itself at a chosen point: `python tests/helpers/kill_run.py WHEN:STEP ARGS...`.

WHEN is `step` (at the end of optimizer step STEP), `save` (during the save of checkpoint-STEP, after its weights
and before its optimizer state) or `marker` (after every file of checkpoint-STEP, before its completion marker);
`sigterm-rank1` sends SIGTERM instead, to rank 1 only, as step STEP begins (run it under torchrun).
"""

import os
import sys

from transformers import Trainer

from adhvit_hf.cli import run_havid
from adhvit_hf.training import checkpoints
from helpers.callbacks import KillAtStepEnd, SignalDuringStep, kill_self


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

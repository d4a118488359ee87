# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The checkpoint lifecycle: Hub pushes of complete checkpoints only, one preemption handler."""

import os

import pytest
from helpers.cli import tiny_run_args
from transformers import Trainer

from adhvit_hf.cli import run_havid
from adhvit_hf.training import AlternatingTrainingArguments
from adhvit_hf.training.checkpoints import COMPLETE_MARKER
from adhvit_hf.training.ema import EMA_WEIGHTS


@pytest.mark.slow
def test_a_checkpoint_is_pushed_only_once_it_is_complete(demo_data, tmp_path, local_hub, monkeypatch):
    push = Trainer._push_from_checkpoint
    seen_at_push = []

    def recording_push(self, folder):
        seen_at_push.append(sorted(name for name in os.listdir(folder) if name in (COMPLETE_MARKER, EMA_WEIGHTS)))
        push(self, folder)

    monkeypatch.setattr(Trainer, "_push_from_checkpoint", recording_push)
    argv = tiny_run_args(
        demo_data,
        tmp_path / "out",
        max_steps=4,
        save_strategy="steps",
        save_steps=2,
        model_ema=None,
        push_to_hub=None,
        hub_model_id="local-user/lifecycle",
        hub_strategy="checkpoint",
        hub_always_push=None,
    )
    run_havid.main(argv)

    assert seen_at_push == [[COMPLETE_MARKER, EMA_WEIGHTS]] * 2
    pushed = local_hub.files("local-user/lifecycle")
    assert {f"last-checkpoint/{COMPLETE_MARKER}", f"last-checkpoint/{EMA_WEIGHTS}"} <= set(pushed)
    assert pushed[f"last-checkpoint/{COMPLETE_MARKER}"] == b'{"global_step": 4}'
    local_hub.check_routes()


def test_jit_checkpointing_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ValueError, match="SIGTERM/SIGINT already save a complete checkpoint at the end of the step"):
        AlternatingTrainingArguments(output_dir=str(tmp_path), enable_jit_checkpoint=True)

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The checkpoint lifecycle: Hub pushes of complete checkpoints only, one preemption handler, the weight average."""

import os

import matplotlib
import numpy as np
import pytest
import torch
from conftest import tiny_run_args
from hub_server import local_hub  # noqa: F401 - pytest fixture
from model_helpers import tiny_model
from transformers import Trainer
from transformers.trainer_utils import PredictionOutput

from adhvit_hf.cli import run_havid
from adhvit_hf.training import AlternatingTrainingArguments
from adhvit_hf.training.checkpoints import COMPLETE_MARKER
from adhvit_hf.training.ema import EMA_WEIGHTS, ModelEmaCallback
from adhvit_hf.training.reporting import write_prediction_reports


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


def test_weight_average_blends_each_step_and_saves_the_average(tmp_path):
    model = tiny_model()
    args = AlternatingTrainingArguments(output_dir=str(tmp_path), report_to="none")
    ema = ModelEmaCallback(decay=0.75)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    ema.on_train_begin(args, None, None, model=model)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(1.0)
    ema.on_step_end(args, None, None, model=model)
    ema.on_train_end(args, None, None, model=model)

    saved = type(model).from_pretrained(tmp_path / "model_ema")
    for name, param in saved.named_parameters():
        torch.testing.assert_close(param, start[name] + 0.25, rtol=0, atol=1e-6)
    # the trained weights are left as they are
    for name, param in model.named_parameters():
        torch.testing.assert_close(param, start[name] + 1.0, rtol=0, atol=0)


@pytest.fixture
def svg_backend():
    previous = matplotlib.get_backend()
    matplotlib.use("svg")
    yield
    matplotlib.use(previous)


def test_prediction_reports_leave_the_matplotlib_backend_alone(tmp_path, svg_backend):
    model = tiny_model(rh_num_labels=3)
    outputs = {
        hand: PredictionOutput(predictions=np.eye(3)[[0, 1, 2, 1]], label_ids=np.array([0, 1, 2, 2]), metrics={})
        for hand in ("lh", "rh")
    }
    datasets = {hand: FakeVideos([f"{hand}{i}.mp4" for i in range(4)]) for hand in outputs}
    model.config.rh_id2label = {0: "a", 1: "b", 2: "c"}
    write_prediction_reports(outputs, datasets, model.config, str(tmp_path))

    assert matplotlib.get_backend() == "svg"
    assert (tmp_path / "confusion_rh.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "confusion_rh.csv").read_text().splitlines()[3] == "c,0,1,1"


class FakeVideos:
    def __init__(self, videos):
        self.videos = videos

    def with_format(self, _):
        return {"video": self.videos}

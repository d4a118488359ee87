# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The test run's reports: per-video predictions and per-hand confusion matrices."""

import matplotlib
import numpy as np
import pytest
from datasets import Dataset
from helpers.models import tiny_model
from transformers.trainer_utils import PredictionOutput

from adhvit_hf.training.reporting import write_prediction_reports


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
    datasets = {
        hand: Dataset.from_dict({"video": [f"{hand}{i}.mp4" for i in range(4)], "start": [0] * 4, "end": [9] * 4})
        for hand in outputs
    }
    model.config.rh_id2label = {0: "a", 1: "b", 2: "c"}
    write_prediction_reports(outputs, datasets, model.config, str(tmp_path))

    assert matplotlib.get_backend() == "svg"
    assert (tmp_path / "confusion_rh.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "confusion_rh.csv").read_text().splitlines()[3] == "c,0,1,1"

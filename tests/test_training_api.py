# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Training from Python: the README's example runs as printed, on the tiny demo data."""

import os
import re
from pathlib import Path

import pytest
from transformers import AutoModel


README = Path(__file__).resolve().parent.parent / "README.md"


def readme_training_example() -> str:
    section = README.read_text(encoding="utf-8").split("## Training from Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_readme_training_example_trains_evaluates_and_saves(demo_data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    os.symlink(demo_data, tmp_path / "demo_data")
    namespace = {}
    exec(compile(readme_training_example(), str(README), "exec"), namespace)

    trainer, metrics = namespace["trainer"], namespace["test_metrics"]
    # one epoch: a pass over each hand's 16 clips in batches of 4, alternating every 2 steps
    assert trainer.state.global_step == 8
    assert [trainer.schedule.hand_at(step) for step in range(8)] == ["lh", "lh", "rh", "rh"] * 2
    assert {"test_lh_top1", "test_rh_top1", "test_mean_top1"} <= set(metrics)
    printed = capsys.readouterr().out.split()[-2:]
    assert [float(value) for value in printed] == [metrics["test_lh_top1"], metrics["test_rh_top1"]]
    model = AutoModel.from_pretrained(tmp_path / "demo_python")
    assert (model.config.lh_num_labels, model.config.hidden_size, model.config.image_size) == (6, 64, 32)

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The weight average (--model_ema): blended every step, saved beside the trained weights."""

import torch
from helpers.models import tiny_model

from adhvit_hf.training import AlternatingTrainingArguments
from adhvit_hf.training.ema import ModelEmaCallback


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

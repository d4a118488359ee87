# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Exponential moving average of the weights (the original's `--model_ema`), kept across resumes."""

import logging
import os

from safetensors.torch import load_file, save
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from transformers import TrainerCallback

from ..utils import atomic_write


logger = logging.getLogger(__name__)

EMA_WEIGHTS = "ema.safetensors"


class ModelEmaCallback(TrainerCallback):
    """After every optimizer step, `ema = decay * ema + (1 - decay) * weights` over all parameters.

    The average (a `torch.optim.swa_utils.AveragedModel`) starts from the weights at the start of training. It is
    saved into every checkpoint (`ema.safetensors`, before the checkpoint is marked complete) and restored from
    `resume_from`, so a resumed run keeps the same average; at the end of training it is written as a loadable model
    folder `output_dir/model_ema`.
    """

    def __init__(self, decay: float, resume_from: str | None = None):
        self.decay = decay
        self.resume_from = resume_from
        self.average: AveragedModel | None = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(self.decay))
        # Counted as one average already, so the first step blends into these weights instead of replacing them.
        self.average.n_averaged.fill_(1)
        saved = os.path.join(self.resume_from, EMA_WEIGHTS) if self.resume_from else None
        if saved and os.path.isfile(saved):
            self.average.module.load_state_dict(load_file(saved), strict=False)
        elif saved:
            logger.warning(
                "%s holds no weight average; --model_ema starts again from the current weights", self.resume_from
            )

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.average.update_parameters(model)

    def save_to_checkpoint(self, checkpoint: str) -> None:
        """Called by `CompleteCheckpointMixin` before it marks `checkpoint` complete."""
        weights = {n: p.detach().contiguous().cpu() for n, p in self.average.module.named_parameters()}
        with atomic_write(os.path.join(checkpoint, EMA_WEIGHTS), "wb") as file:
            file.write(save(weights))

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if args.should_save:
            # The averaged copy shares the model's class and config: it saves as a model folder of its own.
            self.average.module.save_pretrained(os.path.join(args.output_dir, "model_ema"))

"""Exponential moving average of the weights (the seed's `--model_ema`), kept across resumes."""

import logging
import os

import torch
from safetensors.torch import load_file, save
from transformers import TrainerCallback

from ..utils import atomic_write

logger = logging.getLogger(__name__)

EMA_WEIGHTS = "ema.safetensors"


class ModelEmaCallback(TrainerCallback):
    """After every optimizer step, `ema = decay * ema + (1 - decay) * weights` over all parameters.

    The average is saved into every checkpoint (`ema.safetensors`, before the checkpoint is marked complete)
    and restored from `resume_from`,
    so a resumed run keeps the same average; at the end of training it is written as a loadable
    model folder `output_dir/model_ema`.
    """

    def __init__(self, decay: float, resume_from: str | None = None):
        self.decay = decay
        self.resume_from = resume_from
        self.shadow: dict[str, torch.Tensor] = {}

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.shadow = {name: p.detach().clone() for name, p in model.named_parameters()}
        saved = os.path.join(self.resume_from, EMA_WEIGHTS) if self.resume_from else None
        if saved and os.path.isfile(saved):
            for name, tensor in load_file(saved).items():
                self.shadow[name].copy_(tensor)
        elif saved:
            logger.warning("%s holds no weight average; --model_ema starts again from the current weights", self.resume_from)

    @torch.no_grad()
    def on_step_end(self, args, state, control, model=None, **kwargs):
        params = dict(model.named_parameters())
        torch._foreach_lerp_(list(self.shadow.values()), [params[n].detach() for n in self.shadow], 1.0 - self.decay)

    def save_to_checkpoint(self, checkpoint: str) -> None:
        """Called by `CompleteCheckpointMixin` before it marks `checkpoint` complete."""
        with atomic_write(os.path.join(checkpoint, EMA_WEIGHTS), "wb") as file:
            file.write(save({n: t.contiguous().cpu() for n, t in self.shadow.items()}))

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if args.should_save:
            original = {n: p.detach().clone() for n, p in model.named_parameters()}
            with torch.no_grad():
                for name, param in model.named_parameters():
                    param.copy_(self.shadow[name])
                model.save_pretrained(os.path.join(args.output_dir, "model_ema"))
                for name, param in model.named_parameters():
                    param.copy_(original[name])

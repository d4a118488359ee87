# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Exponential moving average of the weights (the original's `--model_ema`), kept across resumes."""

import logging
import os

import torch
from safetensors.torch import load_file, save
from transformers import TrainerCallback

from ..utils import atomic_write
from .fsdp import unsharded_class


logger = logging.getLogger(__name__)

EMA_WEIGHTS = "ema.safetensors"


def _local(tensor: torch.Tensor) -> torch.Tensor:
    """This rank's part of a parameter: its shard under FSDP2 (a DTensor), the whole tensor otherwise."""
    return tensor.to_local() if hasattr(tensor, "to_local") else tensor


def _full(average: torch.Tensor, parameter: torch.Tensor) -> torch.Tensor:
    """The whole averaged tensor from this rank's part, laid out like `parameter` (a collective under FSDP2)."""
    if not hasattr(parameter, "to_local"):
        return average
    from torch.distributed.tensor import DTensor

    return DTensor.from_local(
        average, parameter.device_mesh, parameter.placements, shape=parameter.shape, stride=parameter.stride()
    ).full_tensor()


class ModelEmaCallback(TrainerCallback):
    """After every optimizer step, `ema = decay * ema + (1 - decay) * weights` over all parameters.

    The average starts from the weights at the start of training; under FSDP2 each rank averages its own shards, so
    the average costs no communication and is sharded like the weights. It is saved into every checkpoint
    (`ema.safetensors`, full tensors, before the checkpoint is marked complete) and restored from `resume_from`, so
    a resumed run keeps the same average; at the end of training it is written as a loadable model folder
    `output_dir/model_ema`.
    """

    def __init__(self, decay: float, resume_from: str | None = None):
        self.decay = decay
        self.resume_from = resume_from
        self.average: dict[str, torch.Tensor] | None = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        parameters = dict(model.named_parameters())
        self.average = {name: _local(p.detach()).clone() for name, p in parameters.items()}
        saved = os.path.join(self.resume_from, EMA_WEIGHTS) if self.resume_from else None
        if saved and os.path.isfile(saved):
            for name, tensor in load_file(saved).items():
                if name in parameters:
                    self.average[name].copy_(self._shard_of(tensor, parameters[name]))
        elif saved:
            logger.warning(
                "%s holds no weight average; --model_ema starts again from the current weights", self.resume_from
            )

    @staticmethod
    def _shard_of(full: torch.Tensor, parameter: torch.Tensor) -> torch.Tensor:
        """This rank's part of a whole saved tensor, laid out like `parameter` (no communication: every rank has it)."""
        if not hasattr(parameter, "to_local"):
            return full
        from torch.distributed.tensor import distribute_tensor

        return distribute_tensor(
            full.to(parameter.device), parameter.device_mesh, parameter.placements, src_data_rank=None
        ).to_local()

    @torch.no_grad()
    def on_step_end(self, args, state, control, model=None, **kwargs):
        names = list(self.average)
        parameters = dict(model.named_parameters())
        torch._foreach_lerp_(
            [self.average[name] for name in names],
            [_local(parameters[name].detach()) for name in names],
            1 - self.decay,
        )

    def full_average(self, model) -> dict[str, torch.Tensor]:
        """The whole average, on the CPU; every rank must call it under FSDP2."""
        parameters = dict(model.named_parameters())
        return {name: _full(average, parameters[name]).cpu().contiguous() for name, average in self.average.items()}

    def save_to_checkpoint(self, checkpoint: str, model, should_save: bool) -> None:
        """Called on every rank by `CompleteCheckpointMixin` before it marks `checkpoint` complete."""
        weights = self.full_average(model)
        if should_save:
            with atomic_write(os.path.join(checkpoint, EMA_WEIGHTS), "wb") as file:
                file.write(save(weights))

    def on_train_end(self, args, state, control, model=None, **kwargs):
        weights = self.full_average(model)
        if args.should_save:
            # The average has the model's tensors: it saves as a model folder of its own, with the model's config.
            with unsharded_class(model):
                model.save_pretrained(os.path.join(args.output_dir, "model_ema"), state_dict=weights)

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""One rank of the 2-process DDP / FSDP2 tests: trains with run_havid and records which head moved at each step,
whether the parameters were sharded (DTensors) during training, the idle head's gradient, and a digest and copy of
its final weights (gathered to full tensors under FSDP2)."""

import hashlib
import json
import os
import sys

import torch
from safetensors.torch import save_file
from torch.distributed.tensor import DTensor
from transformers import TrainerCallback

from adhvit_hf.cli import run_havid


def full(tensor: torch.Tensor) -> torch.Tensor:
    """A parameter as one plain tensor (a collective under FSDP2: every rank calls it)."""
    tensor = tensor.detach()
    return (tensor.full_tensor() if isinstance(tensor, DTensor) else tensor).clone()


class MovedHeadRecorder(TrainerCallback):
    def __init__(self):
        self.previous = None
        self.moved = []
        self.sharded = []
        self.idle_grads = []

    def heads(self, model):
        return {h: full(getattr(model, f"{h}_classifier").weight) for h in ("lh", "rh")}

    def on_train_begin(self, args, state, control, **kwargs):
        self.world_size = args.world_size

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        self.previous = self.heads(model)

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        # The head of neither hand that moves: None is what AdamW skips.
        grads = {h: getattr(model, f"{h}_classifier").weight.grad for h in ("lh", "rh")}
        self.idle_grads.append(sorted(h for h, grad in grads.items() if grad is None))

    def on_step_end(self, args, state, control, model=None, **kwargs):
        now = self.heads(model)
        self.moved.append([h for h in ("lh", "rh") if not torch.equal(now[h], self.previous[h])])
        self.sharded.append(all(isinstance(p, DTensor) for p in model.parameters()))

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.state_dict = {name: full(tensor).cpu().contiguous() for name, tensor in model.state_dict().items()}
        digest = hashlib.sha256()
        for name, tensor in sorted(self.state_dict.items()):
            digest.update(name.encode() + tensor.numpy().tobytes())
        self.weights = digest.hexdigest()


def main():
    out_dir, argv = sys.argv[1], sys.argv[2:]
    recorder = MovedHeadRecorder()
    run_havid.main(argv, callbacks=[recorder])
    rank = os.environ["RANK"]
    save_file(recorder.state_dict, os.path.join(out_dir, f"rank{rank}.safetensors"))
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        record = {"moved": recorder.moved, "weights": recorder.weights, "world_size": recorder.world_size}
        json.dump({**record, "sharded": recorder.sharded, "idle_grads": recorder.idle_grads}, f)


if __name__ == "__main__":
    main()

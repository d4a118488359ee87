# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""One rank of the 2-process DDP test: trains with run_havid and records which head moved at each step and a digest
of its final weights."""

import hashlib
import json
import os
import sys

import torch
from transformers import TrainerCallback

from adhvit_hf.cli import run_havid


class MovedHeadRecorder(TrainerCallback):
    def __init__(self):
        self.previous = None
        self.moved = []

    def heads(self, model):
        return {h: getattr(model, f"{h}_classifier").weight.detach().clone() for h in ("lh", "rh")}

    def on_train_begin(self, args, state, control, **kwargs):
        self.world_size = args.world_size

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        self.previous = self.heads(model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        now = self.heads(model)
        self.moved.append([h for h in ("lh", "rh") if not torch.equal(now[h], self.previous[h])])

    def on_train_end(self, args, state, control, model=None, **kwargs):
        digest = hashlib.sha256()
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
        self.weights = digest.hexdigest()


def main():
    out_dir, argv = sys.argv[1], sys.argv[2:]
    recorder = MovedHeadRecorder()
    run_havid.main(argv, callbacks=[recorder])
    with open(os.path.join(out_dir, f"rank{os.environ['RANK']}.json"), "w") as f:
        json.dump({"moved": recorder.moved, "weights": recorder.weights, "world_size": recorder.world_size}, f)


if __name__ == "__main__":
    main()

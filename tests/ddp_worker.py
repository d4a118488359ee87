"""One rank of the 2-process DDP test: trains with run_havid and records, per optimizer step, which head moved."""

import hashlib
import json
import os
import sys

import torch
from transformers import TrainerCallback

from adhvit_hf.scripts import run_havid


class MovedHeadRecorder(TrainerCallback):
    def __init__(self):
        self.previous = None
        self.moved = []

    def heads(self, model):
        return {h: getattr(model, f"{h}_classifier").weight.detach().clone() for h in ("lh", "rh")}

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        self.previous = self.heads(model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        now = self.heads(model)
        self.moved.append([h for h in ("lh", "rh") if not torch.equal(now[h], self.previous[h])])


def main():
    out_dir, argv = sys.argv[1], sys.argv[2:]
    recorder = MovedHeadRecorder()
    run_havid.main(argv, callbacks=[recorder])
    rank = int(os.environ["RANK"])
    weights = run_havid_model_digest(os.path.join(out_dir, "weights"), rank)
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"moved": recorder.moved, "weights": weights}, f)


def run_havid_model_digest(directory, rank):
    from safetensors.torch import load_file

    state = load_file(os.path.join(directory, "model.safetensors"))
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode() + state[name].numpy().tobytes())
    return digest.hexdigest()


if __name__ == "__main__":
    main()

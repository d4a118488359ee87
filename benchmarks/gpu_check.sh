#!/usr/bin/env bash
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
# The GPU half of issue 22, for the next time a GPU machine is lent (about 6 minutes on one H100):
#   1. adhvit-extract on every GPU (NCCL-free gloo group, cuda:LOCAL_RANK) against one GPU: same files, features
#      within 1e-4 (bit-identity is promised on the CPU only: cuDNN may pick other kernels per process);
#   2. FSDP2 against DDP with NCCL on the GPUs (one rank where there is one GPU): sharded parameters, idle head
#      bit-identical, final weights within 1e-4;
#   3. the training-step memory of the large backbones, measured with torch.cuda.max_memory_allocated.
# Run from the repository root: bash benchmarks/gpu_check.sh [OUT]; each step prints PASS or FAIL.
set -uo pipefail
OUT=${1:-${OUT:-/tmp/adhvit_gpu_check}}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/tests:$PWD${PYTHONPATH:+:$PYTHONPATH}"
GPUS=$(python -c "import torch; print(torch.cuda.device_count())")
echo "GPUs: $GPUS"; nvidia-smi -L || true
[ "$GPUS" -ge 1 ] || { echo "FAIL: no CUDA GPU"; exit 1; }
status=0

# At least 2 ranks: with one GPU they share it (cuda:LOCAL_RANK modulo the GPUs).
RANKS=$(( GPUS > 2 ? GPUS : 2 ))
echo "== 1. extraction on $RANKS ranks over $GPUS GPU(s) against 1 rank"
python - "$OUT" <<'PY' || status=1
import sys
from pathlib import Path
from helpers.models import save_tiny_model
from helpers.videos import noise_frames, write_video
out = Path(sys.argv[1])
save_tiny_model(out / "model")
for i, frames in enumerate([40, 16, 28, 18, 22, 12, 9, 30]):
    write_video(out / "videos" / f"v{i}.mp4", noise_frames(frames, seed=i))
PY
for ranks in 1 "$RANKS"; do
  torchrun --nproc_per_node "$ranks" -m adhvit_hf.cli.extract_features --model "$OUT/model" --videos "$OUT/videos" \
    --output_dir "$OUT/extract_$ranks" --stride 2 --device cuda --num_workers 0 > "$OUT/extract_$ranks.log" 2>&1 \
    || { echo "FAIL: extraction on $ranks rank(s), see $OUT/extract_$ranks.log"; status=1; }
done
python - "$OUT" "$RANKS" <<'PY' || status=1
import json, sys
import numpy as np
from pathlib import Path
out, gpus = Path(sys.argv[1]), sys.argv[2]
one, many = out / "extract_1", out / f"extract_{gpus}"
files = sorted(p.relative_to(one) for p in one.rglob("*.npy"))
assert files == sorted(p.relative_to(many) for p in many.rglob("*.npy")), "different files"
worst = max(float(np.abs(np.load(one / f) - np.load(many / f)).max()) for f in files)
summary = json.loads((many / "extract_summary.json").read_text())
print("per rank:", [(r["rank"], r["done"], r["frames_per_second"]) for r in summary["per_rank"]], "max diff", worst)
print("PASS" if worst <= 1e-4 else "FAIL: features differ by more than 1e-4")
sys.exit(worst > 1e-4)
PY

echo "== 2. FSDP2 against DDP (NCCL, $GPUS rank(s))"
python - "$OUT" "$GPUS" <<'PY' || status=1
import json, os, subprocess, sys
from pathlib import Path
import torch
from safetensors.torch import load_file
from helpers.cli import free_port, tiny_run_args
from adhvit_hf.data.demo import make_demo_dataset
out, gpus = Path(sys.argv[1]), sys.argv[2]
make_demo_dataset(str(out / "demo"), seed=0, split_sizes={"train": 16, "val": 6, "test": 6})
run = dict(max_steps=8, alternation_steps=2, weight_decay=0.1, gradient_checkpointing="True")
records = {}
for name, extra in (("ddp", {}), ("fsdp2", dict(fsdp="full_shard", fsdp_config=json.dumps({"version": 2})))):
    folder = out / name
    folder.mkdir(exist_ok=True)
    argv = tiny_run_args(out / "demo", folder / "out", overwrite_output_dir=None, **run, **extra)
    command = ["torchrun", "--nproc_per_node", gpus, "--master_port", str(free_port()), "tests/helpers/ddp_worker.py", str(folder), *argv]
    result = subprocess.run(command, capture_output=True, text=True)
    (folder / "log.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"{name} failed, see {folder / 'log.txt'}"
    records[name] = json.loads((folder / "rank0.json").read_text()), load_file(folder / "rank0.safetensors")
(ddp, ddp_weights), (fsdp, fsdp_weights) = records["ddp"], records["fsdp2"]
worst = max((fsdp_weights[k] - ddp_weights[k]).abs().max().item() for k in ddp_weights)
checks = {"sharded": all(fsdp["sharded"]), "idle head grad None": fsdp["idle_grads"] == ddp["idle_grads"],
          "same moved heads": fsdp["moved"] == ddp["moved"], f"weights within 1e-4 ({worst:.2e})": worst <= 1e-4}
print(checks)
print("PASS" if all(checks.values()) else "FAIL")
sys.exit(not all(checks.values()))
PY

echo "== 3. large-backbone memory on the GPU"
python -m benchmarks.backbones --device cuda --measure small,base,large,huge,giant --output "$OUT/backbones_cuda.json" \
  || { echo "FAIL: memory benchmark"; status=1; }
exit $status

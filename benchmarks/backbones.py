# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Training-step memory of VideoMAE V2's ViT-S/B/L/H/g backbones in ADH-ViT, with and without activation
checkpointing, at batch 1 (16 frames, 224 px), and which of them fit one 80 GB GPU with AdamW, without and with
FSDP2 over 8 GPUs.

Whole ViT-L/H/g steps do not fit this machine's memory, so each configuration is measured at depth 1 and 2 (each in
a fresh process: its peak resident memory is its own; the machine's load does not change it) and the full model is
extrapolated: total(depth) = fixed + depth x per_layer. Sizes given in `--measure` are measured, the others are
computed from the measured per-layer activation memory per token and channel (its mean over the measured sizes).

    python -m benchmarks.backbones --measure small,base,large
"""

import argparse
import json
import time

import torch

from adhvit_hf.modeling_adhvit import AdhVitForDualHandClassification
from adhvit_hf.videomae_v2.architectures import config_from_model_name

from .common import in_fresh_process, markdown_table
from .training import peak_memory_mb


NAMES = {
    "small": "vit_small_patch16_224",
    "base": "vit_base_patch16_224",
    "large": "vit_large_patch16_224",
    "huge": "vit_huge_patch16_224",
    "giant": "vit_giant_patch14_224",
}
# Parameters, gradients and AdamW's two moments, float32.
STATE_BYTES_PER_PARAMETER = 16
GPU_BYTES = 80e9
FSDP_GPUS = 8


def config(size: str, depth: int | None = None):
    overrides = {"lh_num_labels": 75, "rh_num_labels": 75, "num_frames": 16}
    if depth is not None:
        overrides["num_hidden_layers"] = depth
    return config_from_model_name(NAMES[size], **overrides)


def parameter_counts(size: str) -> dict:
    """Parameters of the whole model and of one block (counted on the meta device)."""
    with torch.device("meta"):
        model = AdhVitForDualHandClassification(config(size))
    block = sum(p.numel() for p in model.videomae.encoder.layer[0].parameters())
    return {"total": sum(p.numel() for p in model.parameters()), "block": block}


def measure_step(size: str, depth: int, checkpointing: bool, device: str = "cpu") -> dict:
    """Peak memory (MiB: resident on the CPU, allocated on a GPU) of two fp32 training steps (AdamW's state exists
    from the first) of a `depth`-block model; meant to run in a fresh process."""
    from adhvit_hf.training.optim import create_adamw

    torch.manual_seed(0)
    model = AdhVitForDualHandClassification(config(size, depth)).to(device).train()
    if checkpointing:
        model.activation_checkpointing_enable({"use_reentrant": False})
    optimizer = create_adamw(model, lr=1e-4, weight_decay=0.05, layer_decay=0.75, betas=(0.9, 0.999), eps=1e-8)
    pixel_values = torch.randn(1, 16, 3, 224, 224, device=device)
    labels = torch.zeros(1, dtype=torch.long, device=device)
    start = time.perf_counter()
    for _ in range(2):
        loss = model(pixel_values=pixel_values, lh_labels=labels, hand="lh").loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return {"peak_mb": peak_memory_mb(torch.device(device)), "seconds": time.perf_counter() - start}


def tokens(size: str) -> int:
    c = config(size)
    return (c.num_frames // c.tubelet_size) * (c.image_size // c.patch_size) ** 2


def run(measured: list[str], device: str = "cpu") -> dict:
    results = {}
    for size in NAMES:
        counts = parameter_counts(size)
        entry = {"parameters": counts["total"], "block_parameters": counts["block"], "tokens": tokens(size)}
        if size in measured:
            for checkpointing in (False, True):
                peaks = [
                    in_fresh_process(measure_step, size, depth, checkpointing, device)["peak_mb"] for depth in (1, 2)
                ]
                per_layer = (peaks[1] - peaks[0]) * 2**20
                key = "checkpointed" if checkpointing else "plain"
                # What a block adds besides its own parameters, gradients and AdamW moments: its activations.
                activations = per_layer - STATE_BYTES_PER_PARAMETER * counts["block"]
                entry[key] = {
                    "peak_mb_depth_1_2": peaks,
                    "per_layer_bytes": per_layer,
                    "activation_bytes": activations,
                }
                entry[key]["per_token_channel"] = activations / (entry["tokens"] * config(size).hidden_size)
                entry[key]["fixed_bytes"] = peaks[0] * 2**20 - per_layer
        results[size] = entry
    for key in ("plain", "checkpointed"):
        rates = [results[size][key]["per_token_channel"] for size in measured]
        fixed = [results[size][key]["fixed_bytes"] for size in measured]
        for size, entry in results.items():
            if key not in entry:
                activations = sum(rates) / len(rates) * entry["tokens"] * config(size).hidden_size
                entry[key] = {"activation_bytes": activations, "computed": True, "fixed_bytes": min(fixed)}
            depth = config(size).num_hidden_layers
            activations = depth * entry[key]["activation_bytes"]
            state = STATE_BYTES_PER_PARAMETER * entry["parameters"]
            entry[key]["step_bytes"] = entry[key]["fixed_bytes"] + state + activations
            # FSDP2: state sharded over the GPUs; activations are not; two gathered blocks (the one running and the
            # prefetched one) in float32.
            entry[key]["fsdp_bytes"] = (
                entry[key]["fixed_bytes"] + state / FSDP_GPUS + activations + 2 * 4 * entry["block_parameters"]
            )
    return results


def tables(results: dict) -> list[str]:
    rows = []
    for size, entry in results.items():
        row = [f"ViT-{size[0].upper()} ({NAMES[size]})", f"{entry['parameters'] / 1e6:.0f} M"]
        for key in ("plain", "checkpointed"):
            how = "computed" if entry[key].get("computed") else "measured"
            row.append(f"{entry[key]['step_bytes'] / 1e9:.1f} GB ({how})")
        for key in ("plain", "checkpointed"):
            one, sharded = entry[key]["step_bytes"], entry[key]["fsdp_bytes"]
            row.append(f"{'yes' if one < GPU_BYTES else 'no'} / {'yes' if sharded < GPU_BYTES else 'no'}")
        rows.append(row)
    header = ["backbone", "parameters", "step memory", "step memory, checkpointed"]
    header += ["fits 80 GB: 1 GPU / FSDP2 x8", "fits 80 GB, checkpointed: 1 GPU / FSDP2 x8"]
    return markdown_table(header, rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measure", default="small,base,large", help="sizes measured (the others are computed)")
    parser.add_argument("--output", default=None, help="JSON file for the figures")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args(argv)
    results = run(args.measure.split(","), args.device)
    print("\n".join(tables(results)))
    if args.output:
        with open(args.output, "w") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()

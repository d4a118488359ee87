# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Training-step memory of VideoMAE V2's ViT-S/B/L/H/g backbones in ADH-ViT, with and without activation
checkpointing, at batch 1 (16 frames, 224 px, float32), and which of them fit one 80 GB GPU with AdamW, without and
with FSDP2 over 8 GPUs.

A step's memory is the parameters, gradients and AdamW's two moments (16 bytes a parameter) plus the activations
autograd keeps for the backward pass. The activations are measured: every tensor autograd saves is counted once (by
storage) with `torch.autograd.graph.saved_tensors_hooks`, at depth 1 and 2 (so per block and for the rest), which
neither the machine's load nor the allocator changes. With activation checkpointing a block keeps only its input
and recomputes the rest during the backward pass, so one block's activations are alive at a time. Sizes in
`--measure` have their per-block figure measured; the others get it from the measured figure per token and channel.
`--device cuda` also measures two real steps per size with `torch.cuda.max_memory_allocated` (the GPU check).

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
LETTERS = {"small": "S", "base": "B", "large": "L", "huge": "H", "giant": "g"}
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


def saved_activation_bytes(size: str, depth: int) -> int:
    """Bytes of the tensors autograd saves in one training forward pass (and loss) of a `depth`-block model."""
    torch.manual_seed(0)
    model = AdhVitForDualHandClassification(config(size, depth)).train()
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = model(
            pixel_values=torch.randn(1, 16, 3, 224, 224), lh_labels=torch.zeros(1, dtype=torch.long), hand="lh"
        )
    del loss
    # The parameters autograd saves (weights of matmuls) are counted with the optimizer state, not here.
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    return sum(nbytes for pointer, nbytes in storages.items() if pointer not in parameters)


def run(measured: list[str], device: str = "cpu") -> dict:
    results = {}
    for size in NAMES:
        counts = parameter_counts(size)
        c = config(size)
        entry = {"parameters": counts["total"], "block_parameters": counts["block"], "tokens": tokens(size)}
        if size in measured:
            saved = [in_fresh_process(saved_activation_bytes, size, depth) for depth in (1, 2)]
            entry["saved_bytes_depth_1_2"] = saved
            entry["block_activation_bytes"] = saved[1] - saved[0]
            entry["other_activation_bytes"] = saved[0] - entry["block_activation_bytes"]
            entry["measured"] = True
            if device != "cpu":
                entry["cuda_peak_mb_depth_1_2"] = {
                    key: [
                        in_fresh_process(measure_step, size, depth, checkpointing, device)["peak_mb"]
                        for depth in (1, 2)
                    ]
                    for key, checkpointing in (("plain", False), ("checkpointed", True))
                }
        results[size] = entry
    measured_entries = [results[size] for size in measured]
    per_token_channel = sum(
        e["block_activation_bytes"] / (e["tokens"] * config(size).hidden_size)
        for size, e in results.items()
        if e.get("measured")
    ) / len(measured_entries)
    other_per_token_channel = sum(
        e["other_activation_bytes"] / (e["tokens"] * config(size).hidden_size)
        for size, e in results.items()
        if e.get("measured")
    ) / len(measured_entries)
    for size, entry in results.items():
        c = config(size)
        if not entry.get("measured"):
            entry["block_activation_bytes"] = per_token_channel * entry["tokens"] * c.hidden_size
            entry["other_activation_bytes"] = other_per_token_channel * entry["tokens"] * c.hidden_size
        state = STATE_BYTES_PER_PARAMETER * entry["parameters"]
        block_input = 4 * entry["tokens"] * c.hidden_size
        activations = {
            "plain": entry["other_activation_bytes"] + c.num_hidden_layers * entry["block_activation_bytes"],
            "checkpointed": entry["other_activation_bytes"]
            + c.num_hidden_layers * block_input
            + entry["block_activation_bytes"],
        }
        for key, kept in activations.items():
            entry[key] = {
                "activation_bytes": kept,
                "step_bytes": state + kept,
                # FSDP2: the state is sharded over the GPUs, the activations are not; two gathered blocks (the one
                # running and the prefetched one), float32.
                "fsdp_bytes": state / FSDP_GPUS + kept + 2 * 4 * entry["block_parameters"],
            }
    return results


def tables(results: dict) -> list[str]:
    rows = []
    for size, entry in results.items():
        row = [f"ViT-{LETTERS[size]} ({NAMES[size]})", f"{entry['parameters'] / 1e6:.0f} M"]
        row.append(
            f"{entry['block_activation_bytes'] / 2**20:.0f} MiB ({'measured' if entry.get('measured') else 'computed'})"
        )
        for key in ("plain", "checkpointed"):
            row.append(f"{entry[key]['step_bytes'] / 1e9:.1f} GB")
        for key in ("plain", "checkpointed"):
            # Activations grow with the batch; the state does not.
            fixed = {"one": entry[key]["step_bytes"], "fsdp": entry[key]["fsdp_bytes"]}
            kept = entry[key]["activation_bytes"]
            batches = [int((GPU_BYTES - (fixed[where] - kept)) // kept) for where in ("one", "fsdp")]
            row.append(" / ".join(f"yes, batch {batch}" if batch >= 1 else "no" for batch in batches))
        rows.append(row)
    header = ["backbone", "parameters", "activations per block", "step memory", "step memory, checkpointed"]
    header += ["fits 80 GB (largest batch): 1 GPU / FSDP2 x8", "same, checkpointed"]
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

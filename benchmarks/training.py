# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Training step (forward + backward + AdamW) of AdhVit next to the baselines it replaces, same architecture and
input, each configuration in a fresh process so its peak memory is its own.

What each ratio measures:
- against `videomae_eager_fp32` (HF's `VideoMAEForVideoClassification`, eager attention): SDPA attention plus
  everything else; at ViT-B 16x224 (1568 tokens) nearly all of it is SDPA against eager;
- against `videomae_sdpa_fp32` (the same stock model with SDPA): what the package itself adds or costs at equal
  attention (two heads, one run per step, layer-decay AdamW);
- against `original_fp32` (the original ADH-ViT's `AlternatingDualHeadVisionTransformer`, eager attention, loaded
  from `--original_model_file`): what a user moving from the original code gains.
The baselines use a plain fused AdamW, AdhVit the package's layer-decay AdamW (fused too).
"""

import importlib
import logging
import os
import resource
import statistics
import sys
import time
import types
import warnings

import torch

from adhvit_hf.configuration_adhvit import HANDS

from .common import NUM_LABELS, in_fresh_process, markdown_table, model_config, ratio, significant, synchronize


logger = logging.getLogger(__name__)

# name -> (model family, attention, autocast dtype)
VARIANTS = {
    "videomae_eager_fp32": ("videomae", "eager", None),
    "videomae_sdpa_fp32": ("videomae", "sdpa", None),
    "original_fp32": ("original", "eager", None),
    "adhvit_sdpa_fp32": ("adhvit", "sdpa", None),
    "adhvit_sdpa_bf16": ("adhvit", "sdpa", torch.bfloat16),
}
BASELINES = ("videomae_eager_fp32", "videomae_sdpa_fp32", "original_fp32")
ORIGINAL_CLASS = "AlternatingDualHeadVisionTransformer"
# the package name the original's folder is imported under, so its relative import (.modeling_finetune) resolves
ORIGINAL_PACKAGE = "original_adhvit_models"


def load_original_class(path: str):
    """The original ADH-ViT's model class from its `models/modeling_finetune_alternating.py` at `path`.

    The file imports `.modeling_finetune` from its own folder, so the folder is imported as a package (without
    running its `__init__.py`, which pulls in the whole original training code)."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"--original_model_file {path}: file not found")
    # a file loaded before (another path) must not answer for this one
    for name in [name for name in sys.modules if name.split(".")[0] == ORIGINAL_PACKAGE]:
        del sys.modules[name]
    package = types.ModuleType(ORIGINAL_PACKAGE)
    package.__path__ = [os.path.dirname(path)]
    sys.modules[ORIGINAL_PACKAGE] = package
    module_name = f"{ORIGINAL_PACKAGE}.{os.path.splitext(os.path.basename(path))[0]}"
    try:
        with warnings.catch_warnings():
            # the original registers its models under timm's own names (vit_base_patch16_224, ...) and imports
            # timm's deprecated paths: timm warns about both, which is noise for a benchmark
            warnings.filterwarnings("ignore", message="Overwriting .* in registry")
            warnings.filterwarnings("ignore", message="Importing from timm", category=FutureWarning)
            module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"--original_model_file {path}: cannot import it ({error}); the original needs timm "
            "and modeling_finetune.py beside it"
        ) from error
    if not hasattr(module, ORIGINAL_CLASS):
        raise ValueError(f"--original_model_file {path}: no class {ORIGINAL_CLASS} in it")
    return getattr(module, ORIGINAL_CLASS)


def build_model(family: str, attention: str, size: str, original_model_file: str | None = None):
    """(model, loss function of (model, pixel_values (B, T, C, H, W), labels, step)) of one family.

    AdhVit and the original switch hands every step: the alternation at its most frequent."""
    config = model_config(size)
    if family == "adhvit":
        from adhvit_hf import AdhVitForDualHandClassification

        model = AdhVitForDualHandClassification._from_config(config, attn_implementation=attention)

        def loss_fn(model, pixel_values, labels, step):
            hand = HANDS[step % 2]
            return model(pixel_values=pixel_values, hand=hand, **{f"{hand}_labels": labels}).loss

        return model, loss_fn
    if family == "original":
        model = load_original_class(original_model_file)(
            img_size=config.image_size,
            patch_size=config.patch_size,
            embed_dim=config.hidden_size,
            depth=config.num_hidden_layers,
            num_heads=config.num_attention_heads,
            mlp_ratio=config.intermediate_size / config.hidden_size,
            qkv_bias=True,
            all_frames=config.num_frames,
            tubelet_size=config.tubelet_size,
            lh_num_classes=NUM_LABELS,
            rh_num_classes=NUM_LABELS,
        )

        def loss_fn(model, pixel_values, labels, step):
            # the original takes (B, C, T, H, W)
            logits = model(pixel_values.transpose(1, 2), hand_type=HANDS[step % 2])
            return torch.nn.functional.cross_entropy(logits, labels)

        return model, loss_fn
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    fields = (
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "patch_size",
        "image_size",
        "num_frames",
        "tubelet_size",
        "qv_bias",
        "layer_norm_eps",
    )
    stock = VideoMAEConfig(num_labels=NUM_LABELS, use_mean_pooling=True, **{f: getattr(config, f) for f in fields})
    model = VideoMAEForVideoClassification._from_config(stock, attn_implementation=attention)
    return model, lambda model, pixel_values, labels, step: model(pixel_values=pixel_values, labels=labels).loss


def build_optimizer(family: str, model):
    if family == "adhvit":
        from adhvit_hf.training.optim import create_adamw

        return create_adamw(model, lr=1e-4, weight_decay=0.05, layer_decay=0.75, betas=(0.9, 0.999), eps=1e-8)
    return torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05, fused=True)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    # ru_maxrss is in KiB on Linux, in bytes on macOS
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def measure_step(
    variant: str,
    size: str,
    batch_size: int,
    steps: int,
    warmup: int,
    device: str,
    original_model_file: str | None = None,
) -> dict:
    """Wall seconds of `steps` training steps after `warmup` ones, their CPU seconds, peak memory and whether the
    last loss was finite; meant to run in a fresh process. Each step is timed alone (a step is seconds long, so
    `Timer`'s loop adds nothing) with a device synchronisation before the clock stops."""
    family, attention, autocast_dtype = VARIANTS[variant]
    device = torch.device(device)
    torch.manual_seed(0)
    model, loss_fn = build_model(family, attention, size, original_model_file)
    model.to(device).train()
    optimizer = build_optimizer(family, model)
    config = model_config(size)
    pixel_values = torch.randn(batch_size, config.num_frames, 3, config.image_size, config.image_size, device=device)
    labels = torch.randint(0, NUM_LABELS, (batch_size,), device=device)
    step_seconds = []
    for step in range(warmup + steps):
        if step == warmup:
            cpu_start = time.process_time()
        start = time.perf_counter()
        with torch.autocast(device.type, autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            loss = loss_fn(model, pixel_values, labels, step)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        synchronize(device)
        step_seconds.append(time.perf_counter() - start)
    return {
        "attention": getattr(getattr(model, "config", None), "_attn_implementation", attention),
        "step_seconds": step_seconds[warmup:],
        "cpu_seconds": time.process_time() - cpu_start,
        "peak_memory_mb": peak_memory_mb(device),
        "loss_is_finite": bool(torch.isfinite(loss).item()),
    }


def summarize(variant: str, batch_size: int, train_flops: int, rounds: list[dict]) -> dict:
    """One variant's figures over its rounds; clips/s from the fastest step, which a shared machine slows least."""
    steps = [seconds for run in rounds for seconds in run["step_seconds"]]
    clips_per_second = float(f"{batch_size / min(steps):.4g}")
    return {
        "attention": rounds[0]["attention"],
        "dtype": "bf16" if VARIANTS[variant][2] is torch.bfloat16 else "fp32",
        "step_seconds": [round(s, 3) for s in steps],
        "best_step_seconds": round(min(steps), 3),
        "median_step_seconds": round(statistics.median(steps), 3),
        "clips_per_second": clips_per_second,
        "cpu_seconds_per_clip": significant(sum(run["cpu_seconds"] for run in rounds) / (batch_size * len(steps))),
        "model_flops_per_second": train_flops * clips_per_second,
        "peak_memory_mb": round(max(run["peak_memory_mb"] for run in rounds), 1),
        "loss_is_finite": all(run["loss_is_finite"] for run in rounds),
    }


def run(
    sizes: list[str],
    variants: list[str],
    batch_size: int,
    steps: int,
    warmup: int,
    rounds: int,
    device: str,
    original_model_file: str | None,
    isolate: bool,
    train_flops: dict[str, int],
) -> dict:
    """{size: {variant: figures}} with the speed-up and memory ratio of every variant against every baseline
    present; `train_flops` are the counted FLOPs of a training clip per size. Rounds interleave the variants, so a
    busy spell of a shared machine hits them alike."""
    if original_model_file is None:
        variants = [variant for variant in variants if VARIANTS[variant][0] != "original"]
    results = {}
    for size in sizes:
        measured = {variant: [] for variant in variants}
        for round_index in range(rounds):
            for variant in variants:
                logger.info("training step: %s at %s, round %d", variant, size, round_index + 1)
                measured[variant].append(
                    in_fresh_process(
                        measure_step,
                        variant,
                        size,
                        batch_size,
                        steps,
                        warmup,
                        device,
                        original_model_file,
                        isolate=isolate,
                    )
                )
        runs = {
            variant: summarize(variant, batch_size, train_flops[size], rounds) for variant, rounds in measured.items()
        }
        add_ratios(runs)
        results[size] = runs
    return results


def add_ratios(runs: dict) -> None:
    """Each variant against each baseline present: speed-up in wall time (clips/s) and in CPU time per clip (which
    waiting for a core does not inflate), and peak memory."""
    for run in runs.values():
        for baseline in [baseline for baseline in BASELINES if baseline in runs]:
            base = runs[baseline]
            run[f"speedup_vs_{baseline}"] = ratio(run["clips_per_second"], base["clips_per_second"])
            run[f"cpu_speedup_vs_{baseline}"] = ratio(base["cpu_seconds_per_clip"], run["cpu_seconds_per_clip"])
            run[f"memory_vs_{baseline}"] = ratio(run["peak_memory_mb"], base["peak_memory_mb"])


def add_fractions_of_peak(results: dict, peak: dict) -> None:
    for runs in results.values():
        for run in runs.values():
            run["fraction_of_peak"] = run["model_flops_per_second"] / peak[f"{run['dtype']}_flops_per_second"]


def times(factor: float | None) -> str:
    return "n/a" if factor is None else f"{factor:.2f}x"


def tables(results: dict) -> list[str]:
    baselines = [b for b in BASELINES if any(b in runs for runs in results.values())]
    header = [
        "size",
        "variant",
        "attention",
        "clips/s",
        "best / median step (s)",
        "CPU s per clip",
        "peak memory (MiB)",
        *[f"speed-up vs {b} (wall / CPU)" for b in baselines],
        *[f"memory vs {b}" for b in baselines],
        "model GFLOP/s",
        "fraction of peak",
    ]
    rows = []
    for size, runs in results.items():
        for variant, run in runs.items():
            rows.append(
                [
                    size,
                    variant,
                    run["attention"],
                    f"{run['clips_per_second']:.4g}",
                    f"{run['best_step_seconds']:.2f} / {run['median_step_seconds']:.2f}",
                    f"{run['cpu_seconds_per_clip']:.2f}",
                    f"{run['peak_memory_mb']:.0f}",
                    *[
                        f"{times(run[f'speedup_vs_{b}'])} / {times(run[f'cpu_speedup_vs_{b}'])}"
                        if f"speedup_vs_{b}" in run
                        else "-"
                        for b in baselines
                    ],
                    *[times(run[f"memory_vs_{b}"]) if f"memory_vs_{b}" in run else "-" for b in baselines],
                    f"{run['model_flops_per_second'] / 1e9:.1f}",
                    f"{run['fraction_of_peak']:.1%} ({run['dtype']})",
                ]
            )
    return markdown_table(header, rows)

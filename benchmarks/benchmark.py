#!/usr/bin/env python
# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Offline performance harness: training step, data pipeline, inference windows and matmul peak, side by side.

    python scripts/benchmark.py --output benchmark.json [--sizes base,small] [--steps 3] [--device cpu]

Prints one table per section and writes everything to `--output` as JSON:

- `matmul_peak`: the best dense matmul FLOP/s of this device, fp32 and bf16 (the yardstick for the fractions below);
- `train`: clips/s and peak memory of one training step (forward + backward + AdamW) of AdhVit with the package's
  defaults (SDPA attention, the alternating heads switching every step, layer-decay AdamW) next to HF's stock
  `VideoMAEForVideoClassification` with eager attention, same architecture and input; each configuration runs in a
  fresh process, so its peak resident memory (`ru_maxrss`, CPU) or `torch.cuda.max_memory_allocated` (GPU) is its own;
- `data`: decode + augment clips/s of one worker, training clips and evaluation views, decord and PyAV, on the demo
  data and on a 720p 30 fps video (both generated here, in a temporary folder);
- `inference`: sliding windows/s of `extract_video_features` (both hands per window).

Model FLOPs are counted analytically (matmuls of the ViT, backward = 2 x forward), so `fraction_of_peak` is
comparable across attention implementations. Training clips/s come from the fastest measured step and data figures
from the best of `--data_rounds` rounds: on a shared machine other processes only ever slow a measurement down.
"""

import argparse
import json
import logging
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import torch
from adhvit_hf.utils import run_cli


logger = logging.getLogger(__name__)

# name -> (seed model name, config overrides)
SIZES = {
    "base": ("vit_base_patch16_224", {"num_frames": 16, "image_size": 224}),
    "small": ("vit_small_patch16_224", {"num_frames": 16, "image_size": 112}),
    # configs/demo.json's model
    "demo": (
        "vit_small_patch16_224",
        {"num_frames": 8, "image_size": 64, "hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4,
         "intermediate_size": 384},
    ),
    "tiny": (
        "vit_small_patch16_224",
        {"num_frames": 4, "image_size": 32, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
         "intermediate_size": 64},
    ),
}
NUM_LABELS = 75
# name -> (model family, attention, autocast dtype); the first one is the baseline of the speed-up and memory ratios
TRAIN_VARIANTS = {
    "videomae_eager_fp32": ("videomae", "eager", None),
    "adhvit_sdpa_fp32": ("adhvit", "sdpa", None),
    "adhvit_sdpa_bf16": ("adhvit", "sdpa", torch.bfloat16),
}
BASELINE = "videomae_eager_fp32"


def model_config(size: str):
    """The AdhVitConfig of a benchmark size."""
    from adhvit_hf import config_from_model_name

    name, overrides = SIZES[size]
    return config_from_model_name(name, lh_num_labels=NUM_LABELS, rh_num_labels=NUM_LABELS, **overrides)


def forward_flops(config) -> int:
    """Matmul FLOPs of one clip's forward pass (patch embedding, blocks, one head); 2 FLOPs per multiply-add."""
    hidden, inter = config.hidden_size, config.intermediate_size
    tokens = (config.num_frames // config.tubelet_size) * (config.image_size // config.patch_size) ** 2
    patch = config.num_channels * config.tubelet_size * config.patch_size**2
    per_layer = 2 * tokens * (4 * hidden * hidden + 2 * hidden * inter) + 4 * tokens * tokens * hidden
    return 2 * tokens * patch * hidden + config.num_hidden_layers * per_layer + 2 * hidden * NUM_LABELS


def build_model(family: str, attention: str, size: str):
    """(model, loss function of (model, pixel_values, labels, step)) for one training variant."""
    config = model_config(size)
    if family == "adhvit":
        from adhvit_hf import AdhVitForDualHandClassification

        model = AdhVitForDualHandClassification._from_config(config, attn_implementation=attention)

        def loss_fn(model, pixel_values, labels, step):
            hand = ("lh", "rh")[step % 2]  # the alternation at its most frequent: a switch every step
            return model(pixel_values=pixel_values, hand=hand, **{f"{hand}_labels": labels}).loss

        return model, loss_fn
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    fields = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "patch_size",
              "image_size", "num_frames", "tubelet_size", "qv_bias", "layer_norm_eps")
    stock = VideoMAEConfig(num_labels=NUM_LABELS, use_mean_pooling=True, **{f: getattr(config, f) for f in fields})
    model = VideoMAEForVideoClassification._from_config(stock, attn_implementation=attention)
    return model, lambda model, pixel_values, labels, step: model(pixel_values=pixel_values, labels=labels).loss


def build_optimizer(family: str, model):
    """The package's layer-decay AdamW for AdhVit; for the baseline, the fused AdamW a stock `Trainer` builds."""
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


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_train_step(variant: str, size: str, batch_size: int, steps: int, warmup: int, device: str,
                       compile_model: bool = False) -> dict:
    """Times `steps` training steps of one configuration after `warmup` ones; meant to run in a fresh process.

    Returns the raw figures: per-step wall seconds, CPU seconds of the measured steps, peak memory (MiB) before the
    first step and at the end, whether the last loss was finite.
    """
    family, attention, autocast_dtype = TRAIN_VARIANTS[variant]
    device = torch.device(device)
    torch.manual_seed(0)
    model, loss_fn = build_model(family, attention, size)
    model.to(device).train()
    optimizer = build_optimizer(family, model)
    attention = model.config._attn_implementation
    if compile_model:
        model = torch.compile(model)
    config = model.config
    pixel_values = torch.randn(batch_size, config.num_frames, 3, config.image_size, config.image_size, device=device)
    labels = torch.randint(0, NUM_LABELS, (batch_size,), device=device)
    memory_before = peak_memory_mb(device)
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
        "attention": attention,
        "warmup_seconds": step_seconds[:warmup],
        "step_seconds": step_seconds[warmup:],
        "cpu_seconds": time.process_time() - cpu_start,
        "memory_before_training_mb": memory_before,
        "peak_memory_mb": peak_memory_mb(device),
        "loss_is_finite": bool(torch.isfinite(loss).item()),
    }


def summarize_train_rounds(variant: str, size: str, batch_size: int, compiled: bool, rounds: list[dict]) -> dict:
    """One variant's figures over its rounds; clips/s from the fastest step, which a shared machine slows least."""
    steps = [seconds for run in rounds for seconds in run["step_seconds"]]
    best = min(steps)
    clips_per_second = batch_size / best
    return {
        "variant": variant,
        "size": size,
        "attention": rounds[0]["attention"],
        "dtype": "bf16" if TRAIN_VARIANTS[variant][2] is torch.bfloat16 else "fp32",
        "compiled": compiled,
        "batch_size": batch_size,
        "warmup_seconds": [round(s, 3) for run in rounds for s in run["warmup_seconds"]],
        "step_seconds": [round(s, 3) for s in steps],
        "best_step_seconds": round(best, 3),
        "median_step_seconds": round(statistics.median(steps), 3),
        "clips_per_second": round(clips_per_second, 3),
        # CPU time is what other processes distort least (wall time also counts waiting for a core)
        "cpu_seconds_per_clip": round(sum(run["cpu_seconds"] for run in rounds) / (batch_size * len(steps)), 3),
        "model_flops_per_second": 3 * forward_flops(model_config(size)) * clips_per_second,
        "memory_before_training_mb": round(max(run["memory_before_training_mb"] for run in rounds), 1),
        "peak_memory_mb": round(max(run["peak_memory_mb"] for run in rounds), 1),
        "loss_is_finite": all(run["loss_is_finite"] for run in rounds),
    }


def in_fresh_process(function, *args, isolate: bool = True, **kwargs):
    """`function(*args, **kwargs)` in a new spawned interpreter, so its peak memory is its own (or here, if not
    `isolate`: faster, but peak memory is then this process's running peak)."""
    if not isolate:
        return function(*args, **kwargs)
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args, **kwargs).result()


def matmul_peak(device: str, size: int, repeats: int) -> dict:
    """Best dense matmul TFLOP/s of `size` x `size` products, fp32 and bf16."""
    device = torch.device(device)
    result = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a = torch.randn(size, size, device=device, dtype=dtype)
        b = torch.randn(size, size, device=device, dtype=dtype)
        torch.mm(a, b)  # warm-up: thread pools, kernel selection
        best = float("inf")
        for _ in range(repeats):
            synchronize(device)
            start = time.perf_counter()
            torch.mm(a, b)
            synchronize(device)
            best = min(best, time.perf_counter() - start)
        result[f"{name}_flops_per_second"] = 2 * size**3 / best
    result["matrix_size"] = size
    return result


def train_section(args) -> dict:
    """Every size and variant, each in a fresh process; `args.rounds` rounds interleave the variants, so a busy
    spell of a shared machine hits them alike."""
    runs = {}
    for size in args.sizes:
        rounds = {variant: [] for variant in args.train_variants}
        for round_index in range(args.rounds):
            for variant in args.train_variants:
                logger.info("training step: %s at %s, round %d", variant, size, round_index + 1)
                rounds[variant].append(in_fresh_process(
                    measure_train_step, variant, size, args.batch_size, args.steps, args.warmup, args.device,
                    compile_model=args.compile and variant != BASELINE, isolate=args.isolate,
                ))
        runs[size] = {
            variant: summarize_train_rounds(variant, size, args.batch_size, args.compile and variant != BASELINE,
                                            variant_rounds)
            for variant, variant_rounds in rounds.items()
        }
        baseline = runs[size].get(BASELINE)
        for run in runs[size].values():
            if baseline is not None:
                run["speedup_vs_baseline"] = round(run["clips_per_second"] / baseline["clips_per_second"], 3)
                run["cpu_time_speedup_vs_baseline"] = round(
                    baseline["cpu_seconds_per_clip"] / run["cpu_seconds_per_clip"], 3)
                run["peak_memory_vs_baseline"] = round(run["peak_memory_mb"] / baseline["peak_memory_mb"], 3)
    return runs


SECTIONS = ("train", "data", "inference")  # the matmul peak is always measured: the fractions need it
DATA_CASES = ("demo_no_randaugment", "demo_randaugment", "720p30_randaugment")
RANDAUGMENT = "rand-m7-n4-mstd0.5-inc1"  # VideoMAE V2's recipe


def data_case(name: str, work_dir: str, repeats: int):
    """(processor, rows, repeats, RandAugment spec) of one data case; its videos are written under `work_dir`.

    The demo cases use the demo recipe (`configs/demo.json`: 64 px, 8 x 4 frames); the 720p case VideoMAE V2's
    defaults (16 x 4 frames, 224 crops, 10 x 3 evaluation views) on a 1280x720 30 fps H.264 video.
    """
    from adhvit_hf.data.datasets import load_hand_splits
    from adhvit_hf.data.demo import MOTIONS, make_demo_dataset
    from adhvit_hf.processing_adhvit import AdhVitVideoProcessor
    from benchmarks.data_throughput import write_720p_video

    aa = None if name == "demo_no_randaugment" else RANDAUGMENT
    if name.startswith("demo"):
        demo_dir = os.path.join(work_dir, "demo")
        if not os.path.isdir(demo_dir):
            make_demo_dataset(demo_dir, seed=0, split_sizes={"train": 16, "val": 1, "test": 1})
        rows = load_hand_splits(os.path.join(demo_dir, "lh"), "lh", len(MOTIONS))["train"][:]
        rows["seed"] = list(range(len(rows["video"])))
        processor = AdhVitVideoProcessor(num_frames=8, sampling_rate=4, test_num_segment=2, test_num_crop=1,
                                         short_side_size=64, crop_size=64)
        return processor, rows, repeats, aa
    video = os.path.join(work_dir, "720p30.mp4")
    if not os.path.isfile(video):
        write_720p_video(video, num_frames=150)
    rows = {"video": [video], "start": [-1], "end": [-1], "label": [0], "hand": ["lh"], "seed": [0]}
    return AdhVitVideoProcessor(), rows, max(repeats // 8, 2), aa


def data_throughput(cases: list[str], work_dir: str, repeats: int, rounds: int) -> dict:
    """Decode + augment clips/s of one worker (one torch thread, one decoder thread) per case and decoder, with
    `scripts/data_throughput.py`'s measurement (training: RandAugment as the case says and random erasing 0.25).

    Each figure is the best of `rounds` rounds: on a shared machine, other processes only ever slow a round down.
    """
    from benchmarks.data_throughput import measure

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what a DataLoader worker runs with
    results = {}
    try:
        for name in cases:
            processor, rows, case_repeats, aa = data_case(name, work_dir, repeats)
            best = {}
            for _ in range(rounds):
                for backend, speeds in measure(processor, rows, case_repeats, aa).items():
                    for view, speed in speeds.items():
                        best.setdefault(backend, {})[view] = max(best.get(backend, {}).get(view, 0.0), speed)
            results[name] = {
                backend: {"train_clips_per_second": round(speeds["train"], 2),
                          "eval_videos_per_second": round(speeds["eval"], 3),
                          "eval_views_per_video": processor.num_views}
                for backend, speeds in best.items()
            }
    finally:
        torch.set_num_threads(threads)
    return results


def inference_throughput(size: str, num_windows: int, batch_size: int, device: str, work_dir: str) -> dict:
    """Sliding windows/s of `extract_video_features` over a generated 320x240 video, both hands per window."""
    from adhvit_hf import AdhVitForDualHandClassification
    from adhvit_hf.data.encoding import write_mp4
    from adhvit_hf.inference.features import extract_video_features
    from adhvit_hf.processing_adhvit import AdhVitVideoProcessor

    config = model_config(size)
    processor = AdhVitVideoProcessor(num_frames=config.num_frames, sampling_rate=4, test_num_crop=1,
                                     short_side_size=config.image_size, crop_size=config.image_size)
    span = (config.num_frames - 1) * processor.sampling_rate + 1
    num_video_frames = span + (num_windows - 1) * processor.sampling_rate
    video = os.path.join(work_dir, f"windows_{num_video_frames}.mp4")
    if not os.path.isfile(video):
        noise = torch.Generator().manual_seed(0)
        write_mp4(video, (torch.randint(0, 256, (240, 320, 3), dtype=torch.uint8, generator=noise).numpy()
                          for _ in range(num_video_frames)))
    model = AdhVitForDualHandClassification._from_config(config).to(device)
    run = lambda: extract_video_features(model, processor, video, batch_size=batch_size, progress=False)  # noqa: E731
    run()  # warm-up: thread pools, decoder, first-call allocations
    start = time.perf_counter()
    features = run()
    seconds = time.perf_counter() - start
    windows_per_second = num_windows / seconds
    return {
        "size": size,
        "attention": model.config._attn_implementation,
        "windows": num_windows,
        "batch_size": batch_size,
        "num_video_frames": features.num_video_frames,
        "windows_per_second": round(windows_per_second, 3),
        "model_flops_per_second": forward_flops(config) * windows_per_second,
    }


def add_fractions_of_peak(results: dict) -> None:
    """`fraction_of_peak` of every training and inference run: its model FLOP/s over the matmul peak of its dtype."""
    peak = results["matmul_peak"]
    for run in [run for runs in results.get("train", {}).values() for run in runs.values()]:
        run["fraction_of_peak"] = run["model_flops_per_second"] / peak[f"{run['dtype']}_flops_per_second"]
    for run in results.get("inference", {}).values():
        run["fraction_of_peak"] = run["model_flops_per_second"] / peak["fp32_flops_per_second"]


def workers_needed(train: dict, data: dict) -> dict:
    """Data workers that keep up with each training configuration: its clips/s over one worker's (decord)."""
    needed = {}
    for size, runs in train.items():
        for variant, run in runs.items():
            if variant == BASELINE:
                continue
            needed[f"{size}/{variant}"] = {
                case: round(run["clips_per_second"] / backends["decord"]["train_clips_per_second"], 2)
                for case, backends in data.items()
            }
    return needed


def markdown_tables(results: dict) -> str:
    """The results as Markdown tables (what docs/benchmark.md shows)."""
    machine = results["machine"]
    peak = results["matmul_peak"]
    lines = [
        f"Machine: {machine['processor']}, {machine['cpu_count']} CPUs, torch {machine['torch']} "
        f"({machine['torch_threads']} threads), device {machine.get('gpu', machine['device'])}.",
        "",
        f"Dense matmul peak ({peak['matrix_size']}^3): fp32 {peak['fp32_flops_per_second'] / 1e9:.1f} GFLOP/s, "
        f"bf16 {peak['bf16_flops_per_second'] / 1e9:.1f} GFLOP/s.",
    ]
    if "train" in results:
        lines += ["", "| size | variant | clips/s | best / median step (s) | CPU s per clip | peak memory (MiB) "
                  "| speed-up (wall / CPU) | memory ratio | model GFLOP/s | fraction of peak |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for size, runs in results["train"].items():
            for variant, run in runs.items():
                lines.append(
                    f"| {size} | {variant}{' (compiled)' if run['compiled'] else ''} | {run['clips_per_second']:.3f} "
                    f"| {run['best_step_seconds']:.2f} / {run['median_step_seconds']:.2f} "
                    f"| {run['cpu_seconds_per_clip']:.2f} | {run['peak_memory_mb']:.0f} "
                    f"| {run.get('speedup_vs_baseline', float('nan')):.2f}x "
                    f"/ {run.get('cpu_time_speedup_vs_baseline', float('nan')):.2f}x "
                    f"| {run.get('peak_memory_vs_baseline', float('nan')):.2f}x "
                    f"| {run['model_flops_per_second'] / 1e9:.1f} | {run['fraction_of_peak']:.1%} ({run['dtype']}) |"
                )
    if "data" in results:
        lines += ["", "| data case | decoder | train clips/s per worker | eval videos/s per worker (views) |",
                  "|---|---|---|---|"]
        for case, backends in results["data"].items():
            for backend, run in backends.items():
                lines.append(f"| {case} | {backend} | {run['train_clips_per_second']:.2f} "
                             f"| {run['eval_videos_per_second']:.3f} ({run['eval_views_per_video']}) |")
    if "inference" in results:
        lines += ["", "| size | windows/s (both hands) | windows per batch | model GFLOP/s | fraction of fp32 peak |",
                  "|---|---|---|---|---|"]
        for size, run in results["inference"].items():
            lines.append(f"| {size} | {run['windows_per_second']:.3f} | {run['batch_size']} "
                         f"| {run['model_flops_per_second'] / 1e9:.1f} | {run['fraction_of_peak']:.1%} |")
    if "workers_needed" in results:
        cases = list(results["data"])
        lines += ["", "| training configuration | " + " | ".join(f"workers needed: {c}" for c in cases) + " |",
                  "|---|" + "---|" * len(cases)]
        for name, needed in results["workers_needed"].items():
            lines.append(f"| {name} | " + " | ".join(f"{needed[c]:.2f}" for c in cases) + " |")
    return "\n".join(lines)


def machine_description(device: str) -> dict:
    info = {
        "platform": platform.platform(),
        "processor": cpu_model_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device,
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def cpu_model_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="benchmark.json", help="JSON file to write")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--sizes", default="base,small", help=f"comma-separated model sizes from {list(SIZES)}")
    parser.add_argument("--train_variants", default=",".join(TRAIN_VARIANTS),
                        help=f"comma-separated subset of {list(TRAIN_VARIANTS)}")
    parser.add_argument("--steps", type=int, default=3, help="measured training steps per configuration")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured training steps before them")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds of all training variants")
    parser.add_argument("--batch_size", type=int, default=2, help="clips per training step")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--compile", action="store_true", help="torch.compile the AdhVit variants")
    parser.add_argument("--data_cases", default=",".join(DATA_CASES), help=f"comma-separated subset of {DATA_CASES}")
    parser.add_argument("--data_repeats", type=int, default=32, help="clips timed per data case (720p: an eighth)")
    parser.add_argument("--data_rounds", type=int, default=3, help="rounds per data case; the best one counts")
    parser.add_argument("--windows", type=int, default=8, help="sliding windows per inference measurement")
    parser.add_argument("--inference_batch_size", type=int, default=4, help="windows per forward pass")
    parser.add_argument("--matmul_size", type=int, default=2048)
    parser.add_argument("--no_isolation", dest="isolate", action="store_false",
                        help="measure in this process instead of one fresh process per configuration (quick runs; "
                             "peak memory is then not per configuration)")
    args = parser.parse_args(argv)
    args.sections = args.sections.split(",")
    args.sizes = args.sizes.split(",")
    args.train_variants = args.train_variants.split(",")
    args.data_cases = args.data_cases.split(",")
    choices = (
        ("--sizes", args.sizes, SIZES),
        ("--train_variants", args.train_variants, TRAIN_VARIANTS),
        ("--data_cases", args.data_cases, DATA_CASES),
        ("--sections", args.sections, SECTIONS),
    )
    for name, values, known in choices:
        unknown = [value for value in values if value not in known]
        if unknown:
            parser.error(f"{name}: unknown {unknown}; choose from {list(known)}")
    return args


def main(argv=None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    results = {"machine": machine_description(args.device), "settings": {
        "sizes": args.sizes, "steps": args.steps, "warmup": args.warmup, "rounds": args.rounds,
        "batch_size": args.batch_size,
        "compile": args.compile, "isolated": args.isolate,
    }}
    peak_before = matmul_peak(args.device, args.matmul_size, repeats=5)
    if "train" in args.sections:
        results["train"] = train_section(args)
    with tempfile.TemporaryDirectory() as work_dir:
        if "data" in args.sections:
            logger.info("data pipeline")
            results["data"] = in_fresh_process(
                data_throughput, args.data_cases, work_dir, args.data_repeats, args.data_rounds, isolate=args.isolate
            )
        if "inference" in args.sections:
            results["inference"] = {}
            for size in args.sizes:
                logger.info("inference windows: %s", size)
                run = in_fresh_process(inference_throughput, size, args.windows, args.inference_batch_size,
                                       args.device, work_dir, isolate=args.isolate)
                results["inference"][size] = run
    # measured before and after the rest, the better one counts: a busy spell rarely covers both
    peak_after = matmul_peak(args.device, args.matmul_size, repeats=5)
    results["matmul_peak"] = {key: max(peak_before[key], peak_after[key]) for key in peak_before}
    add_fractions_of_peak(results)
    if "data" in results and "train" in results:
        results["workers_needed"] = workers_needed(results["train"], results["data"])
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(markdown_tables(results))
    return results


def cli() -> None:
    """The console script: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

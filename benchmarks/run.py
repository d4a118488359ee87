# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Run the benchmarks, print Markdown tables, write everything to JSON.

    python -m benchmarks.run --output benchmark.json [--original_model_file PATH] [--sections train,data]

Sections (the device's dense matmul peak is always measured: the fractions of peak need it):
- `train` (benchmarks/training.py): a training step of AdhVit next to stock VideoMAE (eager and SDPA attention) and
  the original ADH-ViT model (with `--original_model_file`, its models/modeling_finetune_alternating.py);
- `data` (benchmarks/data.py): CPU milliseconds per training clip (decode / augmentation / collate and the bare
  PyAV decode floor) on a 720p long-GOP video and its prepared copy, and the CPU cores per GPU they imply for
  ViT-B 16x224 at `--gpu_fraction` of `--gpu_peak_tflops`, from FLOPs counted by `torch.utils.flop_counter`;
- `inference` (benchmarks/inference.py): sliding windows/s of feature extraction.
With `--device cuda` the training step runs on the GPU, and the cores table adds the GPU's measured rate.
"""

import argparse
import json
import logging
import tempfile

import torch

from adhvit_hf.utils import atomic_write, run_cli

from . import data, inference, peak, training
from .common import SIZES, count_flops, in_fresh_process, log_progress, machine_description


logger = logging.getLogger(__name__)

SECTIONS = ("train", "data", "inference")
DATA_PRESETS = {
    "havid": {},  # benchmarks/data.py's defaults: HA-ViD's 1280x720 30 fps, 250-frame GOP; the ViT-B recipe
    "tiny": {  # seconds-long, for the smoke test
        "original": {"height": 72, "width": 128, "fps": 30, "gop": 25, "crf": 23, "num_frames": 40},
        "prepared": {"short_side": 32, "gop": 4, "crf": 20},
        "recipe": {"num_frames": 4, "sampling_rate": 2, "crop_size": 32, "num_sample": 2, "batch_size": 2},
    },
}
FLOPS_SIZE = "base"  # the cores per GPU are for ViT-B 16x224


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {number}")
    return number


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="benchmark.json", help="JSON file to write (default: %(default)s)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="device of the training step, inference and matmul peak (default: %(default)s)",
    )
    group = parser.add_argument_group("training step")
    group.add_argument("--sizes", default="base", help=f"comma-separated model sizes from {list(SIZES)}")
    group.add_argument(
        "--train_variants",
        default=",".join(training.VARIANTS),
        help=f"comma-separated subset of {list(training.VARIANTS)}",
    )
    group.add_argument(
        "--original_model_file",
        default=None,
        help="the original ADH-ViT's models/modeling_finetune_alternating.py (modeling_finetune.py "
        "beside it; needs timm): adds the original model as a baseline",
    )
    group.add_argument("--steps", type=positive, default=2, help="measured steps per variant (default: %(default)s)")
    group.add_argument("--warmup", type=int, default=1, help="unmeasured steps before them (default: %(default)s)")
    group.add_argument("--rounds", type=positive, default=1, help="interleaved rounds of all variants")
    group.add_argument("--batch_size", type=positive, default=2, help="clips per step (default: %(default)s)")
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data_preset",
        default="havid",
        choices=list(DATA_PRESETS),
        help="videos and recipe: HA-ViD's 720p and the ViT-B recipe, or tiny ones (default: havid)",
    )
    group.add_argument("--data_clips", type=positive, default=8, help="training clips per round (default: 8)")
    group.add_argument("--data_rounds", type=positive, default=3, help="rounds; the best counts (default: 3)")
    group.add_argument("--work_dir", default=None, help="where the videos are written and reused (default: temp)")
    group.add_argument(
        "--gpu_peak_tflops",
        type=float,
        default=989.0,
        help="the GPU's dense bf16 peak (default: H100 SXM, %(default)s)",
    )
    group.add_argument("--gpu_fraction", type=float, default=0.4, help="fraction of it reached (default: 0.4)")
    group = parser.add_argument_group("inference and peak")
    group.add_argument("--windows", type=positive, default=8, help="sliding windows per measurement")
    group.add_argument("--inference_batch_size", type=positive, default=4, help="windows per forward pass")
    group.add_argument("--matmul_size", type=positive, default=2048)
    parser.add_argument(
        "--no_isolation",
        dest="isolate",
        action="store_false",
        help="measure in this process instead of one fresh process per configuration (quicker; "
        "peak memory is then not per configuration)",
    )
    args = parser.parse_args(argv)
    args.sections = args.sections.split(",")
    args.sizes = args.sizes.split(",")
    args.train_variants = args.train_variants.split(",")
    for name, values, known in (
        ("--sizes", args.sizes, SIZES),
        ("--train_variants", args.train_variants, training.VARIANTS),
        ("--sections", args.sections, SECTIONS),
    ):
        unknown = [value for value in values if value not in known]
        if unknown:
            parser.error(f"{name}: unknown {unknown}; choose from {list(known)}")
    if args.warmup < 0:
        parser.error(f"--warmup: must be >= 0, got {args.warmup}")
    if not 0 < args.gpu_fraction <= 1:
        parser.error(f"--gpu_fraction: must be in (0, 1], got {args.gpu_fraction}")
    if args.gpu_peak_tflops <= 0:
        parser.error(f"--gpu_peak_tflops: must be > 0, got {args.gpu_peak_tflops}")
    return args


def markdown_tables(results: dict) -> str:
    """The results as Markdown (what docs/benchmark.md shows)."""
    machine, matmul = results["machine"], results["matmul_peak"]
    device = machine.get("gpu", machine["device"])
    fp32, bf16 = matmul["fp32_flops_per_second"] / 1e9, matmul["bf16_flops_per_second"] / 1e9
    lines = [
        (
            f"Machine: {machine['processor']}, {machine['cpu_count']} CPUs (load average {machine['load_average']}), "
            f"torch {machine['torch']} ({machine['torch_threads']} threads), device {device}."
        ),
        "",
        f"Dense matmul peak ({matmul['matrix_size']}^3): fp32 {fp32:.1f} GFLOP/s, bf16 {bf16:.1f} GFLOP/s.",
    ]
    flops = results["flops"]
    lines += [
        "",
        "Counted FLOPs per clip (`FlopCounterMode`, 2 per multiply-add): "
        + ", ".join(
            f"{size} forward {f['forward'] / 1e9:.4g} G, forward + backward {f['train'] / 1e9:.4g} G"
            for size, f in flops.items()
        ),
    ]
    if "train" in results:
        lines += ["", "### Training step", ""] + training.tables(results["train"])
    if "data" in results:
        lines += ["", "### CPU milliseconds per training clip", ""] + data.tables(results["data"], results["cores"])
    if "inference" in results:
        lines += ["", "### Inference", ""] + inference.tables(results["inference"], results["matmul_peak"])
    return "\n".join(lines)


def main(argv=None) -> dict:
    log_progress()
    args = parse_args(argv)
    if args.original_model_file is not None:
        training.load_original_class(args.original_model_file)  # a bad file fails now, not after minutes
    elif "train" in args.sections and "original_fp32" in args.train_variants:
        logger.info("original_fp32 left out: no --original_model_file")
    results = {
        "machine": machine_description(args.device),
        "settings": {
            key: getattr(args, key)
            for key in (
                "sections",
                "sizes",
                "train_variants",
                "steps",
                "warmup",
                "rounds",
                "batch_size",
                "original_model_file",
                "isolate",
            )
        },
    }
    results["flops"] = {size: count_flops(size) for size in dict.fromkeys([*args.sizes, FLOPS_SIZE])}
    peak_before = peak.matmul_peak(args.device, args.matmul_size)
    if "train" in args.sections:
        results["train"] = training.run(
            args.sizes,
            args.train_variants,
            args.batch_size,
            args.steps,
            args.warmup,
            args.rounds,
            args.device,
            args.original_model_file,
            args.isolate,
            {size: results["flops"][size]["train"] for size in args.sizes},
        )
    with tempfile.TemporaryDirectory() as temp_dir:
        work_dir = args.work_dir or temp_dir
        if "data" in args.sections:
            results["data"] = in_fresh_process(
                data.run,
                work_dir,
                args.data_clips,
                args.data_rounds,
                **DATA_PRESETS[args.data_preset],
                isolate=args.isolate,
            )
        if "inference" in args.sections:
            results["inference"] = {
                size: in_fresh_process(
                    inference.run,
                    size,
                    args.windows,
                    args.inference_batch_size,
                    args.device,
                    work_dir,
                    results["flops"][size]["forward"],
                    isolate=args.isolate,
                )
                for size in args.sizes
            }
    results["matmul_peak"] = peak.best_of(peak_before, peak.matmul_peak(args.device, args.matmul_size))
    if "train" in results:
        training.add_fractions_of_peak(results["train"], results["matmul_peak"])
    if "data" in results:
        measured = None
        if args.device.startswith("cuda"):
            measured = results.get("train", {}).get(FLOPS_SIZE, {}).get("adhvit_sdpa_bf16", {}).get("clips_per_second")
        results["cores"] = data.cores_per_gpu(
            results["data"],
            results["flops"][FLOPS_SIZE]["train"],
            args.gpu_peak_tflops * 1e12,
            args.gpu_fraction,
            measured,
        )
        results["targets"] = data.targets(results["data"], results["cores"])
    with atomic_write(args.output) as handle:
        json.dump(results, handle, indent=2)
    print(markdown_tables(results))
    return results


def cli() -> None:
    """The command line: bad input ends in one line, not a traceback."""
    run_cli(main)


if __name__ == "__main__":
    cli()

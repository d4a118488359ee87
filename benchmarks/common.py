# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""What every benchmark shares: model sizes, counted FLOPs, CPU timing, fresh processes, the machine, tables."""

import logging
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import torch
from torch.utils.benchmark import Timer
from torch.utils.flop_counter import FlopCounterMode


NUM_LABELS = 75  # HA-ViD's primitive tasks per hand
# name -> (VideoMAE V2 model name, config overrides)
SIZES = {
    "base": ("vit_base_patch16_224", {"num_frames": 16, "image_size": 224}),
    "small": ("vit_small_patch16_224", {"num_frames": 16, "image_size": 112}),
    "tiny": (
        "vit_small_patch16_224",
        {
            "num_frames": 4,
            "image_size": 32,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
        },
    ),
}


def model_config(size: str):
    """The AdhVitConfig of a benchmark size."""
    from adhvit_hf import config_from_model_name

    name, overrides = SIZES[size]
    return config_from_model_name(name, lh_num_labels=NUM_LABELS, rh_num_labels=NUM_LABELS, **overrides)


def count_flops(size: str) -> dict:
    """FLOPs of one clip through AdhVit at `size`, counted by `FlopCounterMode` (2 per multiply-add, the convention
    of GPU peak figures): the forward pass, and forward + backward (a training step without the optimizer).

    Counted on the meta device, so nothing is computed and ViT-B costs well under a second."""
    from adhvit_hf import AdhVitForDualHandClassification

    config = model_config(size)
    with torch.device("meta"):
        model = AdhVitForDualHandClassification._from_config(config, attn_implementation="sdpa")
        pixel_values = torch.empty(1, config.num_frames, 3, config.image_size, config.image_size)
        labels = torch.zeros(1, dtype=torch.long)
    counter = FlopCounterMode(display=False)
    with counter:
        loss = model(pixel_values=pixel_values, hand="lh", lh_labels=labels).loss
        forward = counter.get_total_flops()
        loss.backward()
    return {"forward": forward, "train": counter.get_total_flops()}


def best_cpu_seconds(function, rounds: int) -> float:
    """The least CPU time (this process, all its threads) of `rounds` calls of `function`, timed by torch's `Timer`.

    CPU time does not count waiting for a core, and on a shared machine other processes only ever slow a round
    down: the best round is the closest to the cost on an idle machine.
    """
    timer = Timer(
        stmt="function()", globals={"function": function}, timer=time.process_time, num_threads=torch.get_num_threads()
    )
    return min(timer.timeit(1).mean for _ in range(rounds))


def significant(value: float, digits: int = 4) -> float:
    """`value` to `digits` significant figures: a tiny model's milliseconds keep their size instead of becoming 0."""
    return float(f"{value:.{digits}g}")


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator to 3 significant figures, or None where the denominator measured 0 (a clock that did
    not tick for a tiny model on a fast machine): a figure that cannot be measured is not a crash."""
    return significant(numerator / denominator, 3) if denominator else None


def log_progress() -> None:
    """Show the benchmarks' progress messages (also in a fresh process, which starts without logging set up)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")


def in_fresh_process(function, *args, isolate: bool = True, **kwargs):
    """`function(*args, **kwargs)` in a new spawned interpreter, so its peak memory and thread pools are its own (or
    here, if not `isolate`: quicker, but peak memory is then this process's running peak)."""
    if not isolate:
        return function(*args, **kwargs)
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=log_progress) as pool:
        return pool.submit(function, *args, **kwargs).result()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_model_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_description(device: str) -> dict:
    info = {
        "platform": platform.platform(),
        "processor": cpu_model_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device,
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def markdown_table(header: list[str], rows: list[list]) -> list[str]:
    """Lines of a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]

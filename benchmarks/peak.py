# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The device's best dense matmul FLOP/s, fp32 and bf16: the yardstick of the training and inference fractions."""

import torch
from torch.utils.benchmark import Timer


def matmul_peak(device: str, size: int, rounds: int = 5) -> dict:
    """Best dense matmul FLOP/s of `size` x `size` products over `rounds` timings (torch's `Timer`, which also
    synchronizes CUDA)."""
    result = {"matrix_size": size}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a = torch.randn(size, size, device=device, dtype=dtype)
        b = torch.randn(size, size, device=device, dtype=dtype)
        timer = Timer(
            stmt="torch.mm(a, b)", globals={"torch": torch, "a": a, "b": b}, num_threads=torch.get_num_threads()
        )
        timer.timeit(1)  # warm-up: thread pools, kernel selection
        result[f"{name}_flops_per_second"] = 2 * size**3 / min(timer.timeit(1).mean for _ in range(rounds))
    return result


def best_of(*peaks: dict) -> dict:
    """Per key the best of several measurements (taken before and after the rest: a busy spell rarely covers both)."""
    return {key: max(peak[key] for peak in peaks) for key in peaks[0]}

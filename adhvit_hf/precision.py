# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The one rule for bf16 autocast, used by training, predict, extract and (as a copy: it ships as remote code) the
pipeline: bf16 where the device computes it natively, fp32 elsewhere.

On the CPU that means AMX tiles or AVX512-BF16 instructions. Without them torch emulates bf16 matmuls, slower than
fp32; with AVX512-BF16 alone (AMD EPYC, no AMX) a ViT-B 16x224 training step is about 2x faster in bf16
(docs/benchmark.md has the figures).
"""

import dataclasses

import torch


@dataclasses.dataclass(frozen=True)
class Precision:
    """Whether bf16 autocast runs on a device, and why (for the log)."""

    bf16: bool
    reason: str

    def describe(self) -> str:
        return f"{'bf16 autocast' if self.bf16 else 'fp32'} ({self.reason})"


def cpu_bf16_instructions() -> str | None:
    """The CPU's native bf16 instructions ("AMX" or "AVX512-BF16"), or None (bf16 would be emulated)."""
    if torch.cpu._is_amx_tile_supported():
        return "AMX"
    if torch.cpu._is_avx512_bf16_supported():
        return "AVX512-BF16"
    return None


PRECISIONS = ("auto", "fp32", "bf16")
PRECISION_HELP = (
    "auto: bf16 autocast on GPUs with bf16 and on CPUs with bf16 instructions (AMX, AVX512-BF16), fp32 elsewhere; "
    "fp32 or bf16 force one"
)


def chosen_precision(flag: str, device: str | torch.device) -> Precision:
    """The precision a `--precision` value (one of PRECISIONS) gives on `device`: "auto" is the rule below."""
    if flag == "auto":
        return autocast_precision(device)
    if flag not in PRECISIONS:
        raise ValueError(f"--precision {flag!r}: use one of {', '.join(PRECISIONS)}")
    return Precision(flag == "bf16", f"--precision {flag}")


def autocast_precision(device: str | torch.device, auto_bf16: bool = True) -> Precision:
    """The precision a model runs in on `device`: bf16 autocast where the device computes bf16 natively (unless
    `auto_bf16` is False), fp32 otherwise."""
    device = torch.device(device)
    if not auto_bf16:
        return Precision(False, "--auto_bf16 False")
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return Precision(True, f"{torch.cuda.get_device_name(device)} computes bf16")
        return Precision(False, f"{torch.cuda.get_device_name(device)} has no bf16")
    if device.type == "cpu":
        instructions = cpu_bf16_instructions()
        if instructions:
            return Precision(True, f"the CPU has {instructions}; --auto_bf16 False for fp32")
        return Precision(False, "the CPU has neither AMX nor AVX512-BF16, so bf16 would be emulated and slower")
    return Precision(False, f"no bf16 rule for {device.type} devices")

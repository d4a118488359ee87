# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Sliding windows/s of `extract_video_features` (both hands per window) over a generated 320x240 video."""

import os
import time

import torch

from .common import markdown_table, model_config


def run(size: str, num_windows: int, batch_size: int, device: str, work_dir: str, forward_flops: int) -> dict:
    from adhvit_hf import AdhVitForDualHandClassification
    from adhvit_hf.data.encoding import write_mp4
    from adhvit_hf.inference.features import extract_video_features
    from adhvit_hf.processing_adhvit import AdhVitVideoProcessor

    config = model_config(size)
    processor = AdhVitVideoProcessor(
        num_frames=config.num_frames,
        sampling_rate=4,
        test_num_crop=1,
        short_side_size=config.image_size,
        crop_size=config.image_size,
    )
    span = (config.num_frames - 1) * processor.sampling_rate + 1
    num_video_frames = span + (num_windows - 1) * processor.sampling_rate
    video = os.path.join(work_dir, f"windows_{num_video_frames}.mp4")
    if not os.path.isfile(video):
        noise = torch.Generator().manual_seed(0)
        write_mp4(
            video,
            (
                torch.randint(0, 256, (240, 320, 3), dtype=torch.uint8, generator=noise).numpy()
                for _ in range(num_video_frames)
            ),
        )
    model = AdhVitForDualHandClassification._from_config(config).to(device)
    extract_video_features(model, processor, video, batch_size=batch_size, progress=False)  # warm-up
    start = time.perf_counter()
    features = extract_video_features(model, processor, video, batch_size=batch_size, progress=False)
    windows_per_second = num_windows / (time.perf_counter() - start)
    return {
        "attention": model.config._attn_implementation,
        "windows": num_windows,
        "batch_size": batch_size,
        "num_video_frames": features.num_video_frames,
        "windows_per_second": round(windows_per_second, 3),
        "model_flops_per_second": forward_flops * windows_per_second,
    }


def tables(results: dict, peak: dict) -> list[str]:
    return markdown_table(
        ["size", "windows/s (both hands)", "windows per batch", "model GFLOP/s", "fraction of fp32 peak"],
        [
            [
                size,
                f"{run['windows_per_second']:.3f}",
                run["batch_size"],
                f"{run['model_flops_per_second'] / 1e9:.1f}",
                f"{run['model_flops_per_second'] / peak['fp32_flops_per_second']:.1%}",
            ]
            for size, run in results.items()
        ],
    )

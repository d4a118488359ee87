# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""GPU check of torchcodec decoding on CUDA (NVDEC) into the device augmentation path (`--gpu_decoding`).

    python -m benchmarks.gpu_decoding [--out gpu_decoding.json] [--device cpu]

Needs a CUDA GPU, torchcodec and FFmpeg's shared libraries (apt-get install ffmpeg). It writes a 1280x720 H.264
clip, then checks and measures, printing one JSON object:
- frames decoded with device="cuda" are on the GPU, the decoder did not fall back to the CPU, and they match the CPU
  decode (the largest and mean per-pixel difference: NVDEC's colour conversion is not swscale's);
- `VideoTransform(decode_device="cuda", device_augmentation=True)` -> `ClipCollator` -> `DeviceAugmentation` gives
  a CUDA batch whose uint8 clips never were on the host (the collated tensor is already on the GPU);
- milliseconds per training clip (16 frames at stride 4) decoded on the CPU (one thread) and on the GPU.
Not run in the test suite (no GPU there); run it wherever a GPU is lent and put the figures in docs/benchmark.md.
`--device cpu` runs the same path on the CPU (a dry run of the glue, where no GPU is lent).
"""

import argparse
import json
import os
import tempfile
import time

import torch

from adhvit_hf.data.collate import ClipCollator
from adhvit_hf.data.decoding import open_video
from adhvit_hf.data.device_augment import DeviceAugmentation
from adhvit_hf.data.sampling import train_clip_indices
from adhvit_hf.data.transforms import VideoTransform, row_generator
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor

from .data import write_recorded_video


CLIPS = 16


def per_clip_ms(path: str, device: str | None, indices: list) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for clip in indices:
        frames = open_video(path, backend="torchcodec", device=device).get_frames(clip)
    if device == "cuda":
        torch.cuda.synchronize()
    assert frames.shape[0] == len(indices[-1])
    return (time.perf_counter() - start) * 1000 / len(indices)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="also write the JSON here")
    parser.add_argument("--device", default="cuda", help="cuda (the check) or cpu (a dry run)")
    args = parser.parse_args(argv)
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: no CUDA device: this check needs a GPU (or --device cpu for a dry run)")
    result = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu"}
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "recorded.mp4")
        write_recorded_video(path, height=720, width=1280, fps=30, gop=32, crf=23, num_frames=300)
        indices = [train_clip_indices(300, 16, 4, row_generator(seed)) for seed in range(CLIPS)]

        gpu = open_video(path, backend="torchcodec", device=device)
        cpu = open_video(path, backend="torchcodec")
        on_gpu, on_cpu = gpu.get_frames(indices[0]), cpu.get_frames(indices[0])
        difference = (on_gpu.cpu().float() - on_cpu.float()).abs()
        result["frames_device"] = str(on_gpu.device)
        result["cpu_fallback"] = str(gpu._decoder.cpu_fallback) if device == "cuda" else "n/a"
        result["max_abs_difference_to_cpu"] = float(difference.max())
        result["mean_abs_difference_to_cpu"] = round(float(difference.mean()), 3)

        processor = AdhVitVideoProcessor(num_frames=16, sampling_rate=4, crop_size=224, short_side_size=224)
        transform = VideoTransform(processor, train=True, num_sample=2, device_augmentation=True, decode_device=device)
        collator = ClipCollator({"lh": 5, "rh": 5})
        rows = [
            transform({"video": [path], "start": [None], "end": [None], "hand": ["lh"], "label": [1], "seed": [seed]})
            for seed in range(2)
        ]
        features = [
            {
                "pixel_values": row["pixel_values"][0],
                "labels": row["labels"][0],
                "hand": row["hand"][0],
                "stream": "lh",
                "seed": seed,
                "augment_seeds": row["augment_seeds"][0],
                "augment_flips": row["augment_flips"][0],
            }
            for seed, row in enumerate(rows)
        ]
        batch = collator(features)
        result["collated_clips_device"] = str(batch["pixel_values"].device)  # cuda: no host copy before augmenting
        augmented = DeviceAugmentation(transform.augment, None, {"lh": 5, "rh": 5})(batch, device)
        result["augmented_batch"] = [list(augmented["pixel_values"].shape), str(augmented["pixel_values"].device)]

        torch.set_num_threads(1)
        per_clip_ms(path, device, indices[:2])  # warm-up: NVDEC decoder creation
        result["ms_per_clip_cpu_1_thread"] = round(per_clip_ms(path, None, indices), 1)
        result[f"ms_per_clip_{device}"] = round(per_clip_ms(path, device, indices), 1)
    result["ok"] = (
        result["frames_device"].startswith(device)
        and result["collated_clips_device"].startswith(device)
        and result["augmented_batch"][1].startswith(device)
        and result["mean_abs_difference_to_cpu"] < 3
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
    return result


if __name__ == "__main__":
    main()

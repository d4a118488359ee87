# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""CPU cost of one training clip on HA-ViD-like video, as it was recorded and as prepared for training.

The recorded video is 1280x720 at 30 fps with a 250-frame keyframe interval (HA-ViD's kind); the prepared copy
keeps every frame at a short side of 224 with a short keyframe interval and no B-frames. For the same training
clips (same seeds, so the same frames) of both, one worker's CPU time (one torch thread, one decoder thread) is
split into decode (the package's readers: decord, PyAV and torchcodec where it loads), augmentation (the recipe's `ClipAugmentation`: RandAugment m7-n4,
random resized crop, erasing 0.25; `num_sample` per decode) and collate (`ClipCollator` with the recipe's mixup),
next to the bare-decode floor: PyAV alone decoding the same frames, one thread. With device-side augmentation the
workers pay only decode and the collate of uint8 clips (augmentation and mixup run on the GPU).

Every figure is per training clip: a decode serves `num_sample` training clips, so its cost is divided by it.
"""

import logging
import os

import numpy as np
import torch

from adhvit_hf.data.collate import ClipCollator
from adhvit_hf.data.decoding import available_backend, backend_problem, open_video
from adhvit_hf.data.encoding import transcode, write_mp4
from adhvit_hf.data.mixup import ClipMixup
from adhvit_hf.data.sampling import train_clip_indices
from adhvit_hf.data.transforms import VideoTransform, row_generator
from adhvit_hf.processing_adhvit import AdhVitVideoProcessor

from .common import NUM_LABELS, best_cpu_seconds, markdown_table


logger = logging.getLogger(__name__)

RANDAUGMENT = "rand-m7-n4-mstd0.5-inc1"  # VideoMAE V2's and the original ADH-ViT's recipe
RECIPE = {"num_frames": 16, "sampling_rate": 4, "crop_size": 224, "num_sample": 2, "batch_size": 4}
ORIGINAL = {"height": 720, "width": 1280, "fps": 30, "gop": 250, "crf": 23, "num_frames": 500}
PREPARED = {"short_side": 224, "gop": 16, "crf": 20}  # adhvit-resize-videos' keyframe interval and quality
DECODERS = tuple(name for name in ("decord", "pyav", "torchcodec") if backend_problem(name) is None)
TORCHCODEC_TARGET = 1.2  # torchcodec's cost per training clip on prepared video, at most this times the floor


def write_recorded_video(path: str, height: int, width: int, fps: int, gop: int, crf: int, num_frames: int) -> None:
    """A camera-like video: a fixed smooth texture panning slowly, with a bright block moving across it. Written
    beside `path` and moved there when complete, so an interrupted run leaves no short video to be reused."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (height // 16 + 2, width // 16 + 2, 3), dtype=np.uint8)
    texture = (
        torch.nn.functional.interpolate(
            torch.from_numpy(coarse).permute(2, 0, 1)[None].float(), scale_factor=16, mode="bilinear"
        )[0]
        .permute(1, 2, 0)
        .to(torch.uint8)
        .numpy()
    )
    block = max(height // 6, 2)

    def frames():
        for t in range(num_frames):
            frame = texture[t % 16 : t % 16 + height, (2 * t) % 16 : (2 * t) % 16 + width].copy()
            x = (7 * t) % max(width - block, 1)
            frame[height // 3 : height // 3 + block, x : x + block] = 230
            yield frame

    write_mp4(f"{path}.partial", frames(), fps=fps, gop_size=gop, crf=crf)
    os.replace(f"{path}.partial", path)


def prepare_copy(source: str, destination: str, short_side: int, gop: int, crf: int) -> None:
    """The copy `adhvit-resize-videos` makes (every frame, `short_side`, a keyframe every `gop`, no B-frames, x264's
    fast-decode tuning); moved into place when complete."""
    transcode(source, f"{destination}.partial", short_side, gop_size=gop, crf=crf)
    os.replace(f"{destination}.partial", destination)


def bare_decode(path: str, indices: list[int]) -> list[np.ndarray]:
    """The floor: PyAV alone, one thread, seek to the keyframe before the first frame and decode forward."""
    import av

    wanted = set(indices)
    frames = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        frame_duration = 1 / (stream.average_rate * stream.time_base)
        start = stream.start_time or 0
        container.seek(int(start + min(wanted) * frame_duration), stream=stream, backward=True)
        for frame in container.decode(stream):
            index = round((frame.pts - start) / frame_duration)
            if index in wanted:
                frames.append(frame.to_ndarray(format="rgb24"))
            if index >= max(wanted):
                break
    return frames


def clip_costs(path: str, seeds: list[int], rounds: int, recipe: dict) -> dict:
    """Best-of-`rounds` CPU seconds per training clip of each stage, for the clips drawn from `seeds`."""
    num_sample, batch_size = recipe["num_sample"], recipe["batch_size"]
    processor = AdhVitVideoProcessor(
        num_frames=recipe["num_frames"],
        sampling_rate=recipe["sampling_rate"],
        crop_size=recipe["crop_size"],
        short_side_size=recipe["crop_size"],
    )
    transform = VideoTransform(processor, train=True, num_sample=num_sample, aa=RANDAUGMENT, reprob=0.25)
    reader = open_video(path, backend="pyav")
    num_video_frames = reader.num_frames
    bitrate_kbps = os.path.getsize(path) * 8 / (num_video_frames / reader.fps) / 1000
    indices = [
        train_clip_indices(num_video_frames, recipe["num_frames"], recipe["sampling_rate"], row_generator(seed))
        for seed in seeds
    ]
    clips_per_round = len(seeds) * num_sample
    costs = {}

    def decode(backend):
        return [open_video(path, backend=backend, num_threads=1).get_frames(i).permute(0, 3, 1, 2) for i in indices]

    for backend in DECODERS:
        costs[f"decode_{backend}"] = (
            best_cpu_seconds(lambda backend=backend: decode(backend), rounds) / clips_per_round
        )
    costs["bare_decode"] = best_cpu_seconds(lambda: [bare_decode(path, i.tolist()) for i in indices], rounds)
    costs["bare_decode"] /= clips_per_round

    clips = decode("pyav")
    augmented = []

    def augment():
        augmented.clear()
        for seed, clip in zip(seeds, clips, strict=True):
            augmented.append(torch.stack([transform.augment(clip, seed * num_sample + k) for k in range(num_sample)]))

    costs["augment"] = best_cpu_seconds(augment, rounds) / clips_per_round

    num_labels = {"lh": NUM_LABELS, "rh": NUM_LABELS}
    mixup = {hand: ClipMixup(num_labels=NUM_LABELS) for hand in num_labels}

    def collate(collator, samples, **extra):
        for first in range(0, len(samples), batch_size):
            collator(
                [
                    {"pixel_values": sample, "labels": 0, "hand": "lh", "stream": "lh", "seed": first + offset} | extra
                    for offset, sample in enumerate(samples[first : first + batch_size])
                ]
            )

    costs["collate"] = best_cpu_seconds(lambda: collate(ClipCollator(num_labels, mixup), augmented), rounds)
    costs["collate"] /= clips_per_round
    # with device-side augmentation a row is its decoded uint8 clip (num_sample views of one tensor) with the seeds
    # and flips of its samples; augmentation and mixup happen on the device
    raw = [clip.unsqueeze(0).expand(num_sample, -1, -1, -1, -1) for clip in clips]
    device_rows = {"augment_seeds": list(range(num_sample)), "augment_flips": [False] * num_sample}
    costs["collate_uint8"] = best_cpu_seconds(lambda: collate(ClipCollator(num_labels), raw, **device_rows), rounds)
    costs["collate_uint8"] /= clips_per_round
    return {key: round(seconds * 1000, 2) for key, seconds in costs.items()} | {
        "frame_size": list(clips[0].shape[-2:]),
        "bitrate_kbps": round(bitrate_kbps),
    }


def run(
    work_dir: str, clips: int, rounds: int, original: dict = ORIGINAL, prepared: dict = PREPARED, recipe: dict = RECIPE
) -> dict:
    """{"settings", "videos": {"original" | "prepared": {decoder: per-clip milliseconds}}}; one torch thread."""
    # named by their settings, so a work folder reused with other settings never serves the wrong video
    original_path = os.path.join(work_dir, "original_{width}x{height}_{fps}fps_gop{gop}_crf{crf}_{num_frames}.mp4")
    original_path = original_path.format(**original)
    prepared_path = original_path.replace(".mp4", "_prepared_{short_side}_gop{gop}_crf{crf}.mp4".format(**prepared))
    if not os.path.isfile(original_path):
        logger.info("writing the %dx%d long-GOP video", original["width"], original["height"])
        write_recorded_video(original_path, **original)
    if not os.path.isfile(prepared_path):
        logger.info("preparing its copy")
        prepare_copy(original_path, prepared_path, **prepared)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what a DataLoader worker runs with
    try:
        videos = {}
        for name, path in (("original", original_path), ("prepared", prepared_path)):
            logger.info("clip costs: %s video", name)
            videos[name] = clip_costs(path, list(range(clips)), rounds, recipe)
    finally:
        torch.set_num_threads(threads)
    settings = {
        "original": original,
        "prepared": prepared,
        "recipe": recipe,
        "clips": clips,
        "rounds": rounds,
        "randaugment": RANDAUGMENT,
        "files": {"original": os.path.basename(original_path), "prepared": os.path.basename(prepared_path)},
        "default_decoder": available_backend("auto"),
    }
    return {"settings": settings, "videos": videos}


def per_clip_totals(costs: dict, decoder: str) -> dict:
    """Milliseconds per training clip a worker pays without and with device-side augmentation."""
    decode = costs[f"decode_{decoder}"]
    return {
        "host_augmentation": decode + costs["augment"] + costs["collate"],
        "device_augmentation": decode + costs["collate_uint8"],
    }


def cores_per_gpu(
    data: dict,
    train_flops: int,
    gpu_flops_per_second: float,
    fraction: float,
    measured_clips_per_second: float | None = None,
) -> dict:
    """CPU cores a GPU needs so that data keeps up: clips/s the GPU trains at `fraction` of its peak (from the counted
    FLOPs of a training clip), times CPU seconds per training clip; also at a measured GPU rate when there is one."""
    clips_per_second = fraction * gpu_flops_per_second / train_flops
    rates = {"at_fraction_of_peak": clips_per_second}
    if measured_clips_per_second is not None:
        rates["measured"] = measured_clips_per_second
    result = {
        "train_flops_per_clip": train_flops,
        "gpu_flops_per_second": gpu_flops_per_second,
        "fraction": fraction,
        "gpu_clips_per_second": {k: round(v, 1) for k, v in rates.items()},
        "cores": {},
    }
    for video, costs in data["videos"].items():
        for decoder in DECODERS:
            for path, ms in per_clip_totals(costs, decoder).items():
                result["cores"][f"{video}/{decoder}/{path}"] = {k: round(v * ms / 1000, 1) for k, v in rates.items()}
    return result


def targets(data: dict, cores: dict) -> list[dict]:
    """The data-speed targets, measured (with the package's default decoder: `--backend auto`'s choice)."""
    original, prepared = data["videos"]["original"], data["videos"]["prepared"]
    default = data["settings"].get("default_decoder", "decord")
    decode_ratio = original["bare_decode"] / prepared["bare_decode"]
    whole = per_clip_totals(prepared, default)["host_augmentation"]
    whole_device = per_clip_totals(prepared, default)["device_augmentation"]
    needed = cores["cores"][f"prepared/{default}/device_augmentation"]["at_fraction_of_peak"]
    measured = []
    if "decode_torchcodec" in prepared:
        ratio = prepared["decode_torchcodec"] / prepared["bare_decode"]
        measured.append(
            {
                "target": f"torchcodec's decode of a training clip on prepared video <= {TORCHCODEC_TARGET}x the "
                "bare-decode floor",
                "measured": f"{ratio:.2f}x ({prepared['decode_torchcodec']:.1f} ms vs {prepared['bare_decode']:.1f} ms)",
                "met": ratio <= TORCHCODEC_TARGET,
            }
        )
    return measured + [
        {
            "target": "bare decoding of a training clip: prepared >= 4x cheaper than the 720p long-GOP original",
            "measured": f"{decode_ratio:.1f}x ({original['bare_decode']:.1f} ms vs {prepared['bare_decode']:.1f} ms)",
            "met": decode_ratio >= 4,
        },
        {
            "target": f"whole CPU cost of a training clip on prepared video ({default}) <= 2x its bare-decode floor",
            "measured": f"{whole / prepared['bare_decode']:.1f}x ({whole:.1f} ms vs {prepared['bare_decode']:.1f} ms; "
            f"with device-side augmentation {whole_device / prepared['bare_decode']:.1f}x)",
            "met": whole <= 2 * prepared["bare_decode"],
        },
        {
            "target": f"cores per GPU, ViT-B 16x224 at {cores['fraction']:.0%} of H100 bf16 peak, device-side "
            "augmentation, prepared video <= 24",
            "measured": f"{needed:.1f}",
            "met": needed <= 24,
        },
    ]


def tables(data: dict, cores: dict | None) -> list[str]:
    rows = []
    for video, costs in data["videos"].items():
        for decoder in DECODERS:
            totals = per_clip_totals(costs, decoder)
            rows.append(
                [
                    video,
                    "x".join(map(str, costs["frame_size"])),
                    costs["bitrate_kbps"],
                    decoder,
                    f"{costs[f'decode_{decoder}']:.1f}",
                    f"{costs['augment']:.1f}",
                    f"{costs['collate']:.1f}",
                    f"{totals['host_augmentation']:.1f}",
                    f"{costs['collate_uint8']:.1f}",
                    f"{totals['device_augmentation']:.1f}",
                    f"{costs['bare_decode']:.1f}",
                    f"{totals['host_augmentation'] / costs['bare_decode']:.1f}x",
                ]
            )
    lines = markdown_table(
        [
            "video",
            "frame size",
            "kbit/s",
            "decoder",
            "decode",
            "augmentation",
            "collate (mixup)",
            "whole",
            "collate uint8",
            "whole with device augmentation",
            "bare PyAV decode",
            "whole / bare",
        ],
        rows,
    )
    if cores is None:
        return lines
    rates = cores["gpu_clips_per_second"]
    names = {
        "at_fraction_of_peak": f"{cores['fraction']:.0%} of {cores['gpu_flops_per_second'] / 1e12:.0f} TFLOP/s",
        "measured": "the measured step",
    }
    lines += [""] + markdown_table(
        [
            "video / decoder / augmentation",
            *[f"cores per GPU at {names[rate]} ({clips} clips/s)" for rate, clips in rates.items()],
        ],
        [[name, *[f"{needed[rate]:.1f}" for rate in rates]] for name, needed in cores["cores"].items()],
    )
    lines += [""] + markdown_table(
        ["target", "measured", "met"],
        [[t["target"], t["measured"], "yes" if t["met"] else "**no**"] for t in targets(data, cores)],
    )
    return lines

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The app's speed and memory: windows/s, time to the first timeline and peak RSS of `analyse_video`.

    python -m benchmarks.app --model DIR_OR_vit_base --video V.mp4 [--stride S] [--precision fp32|bf16]

`--model vit_base` builds ViT-B 16x224 with random weights (its cost is what matters) and the processor of the
original recipe (16 frames every 4, 224 crops). Prints one JSON line.
"""

import argparse
import json
import resource
import sys
import time


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--video", required=True)
    parser.add_argument("--stride", type=int, default=None)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--max_windows", type=int, default=None, help="stop after this many windows")
    args = parser.parse_args(argv)

    from adhvit_hf.app.analysis import AppModel, analyse_video, default_stride, load_app_model

    if args.model == "vit_base":
        from adhvit_hf import AdhVitForDualHandClassification
        from adhvit_hf.processing_adhvit import AdhVitVideoProcessor
        from adhvit_hf.videomae_v2 import config_from_model_name

        config = config_from_model_name("vit_base_patch16_224", lh_num_labels=75, rh_num_labels=75)
        processor = AdhVitVideoProcessor(num_frames=16, sampling_rate=4, test_num_crop=1)
        model = AdhVitForDualHandClassification._from_config(config).eval()
        app = AppModel(model, processor, "vit_base (random)", args.stride or default_stride(processor))
        app.bf16, app.batch_size = args.precision == "bf16", args.batch_size
    else:
        app = load_app_model(args.model, args.stride, "cpu", precision=args.precision, batch_size=args.batch_size)
    start = time.perf_counter()
    first = None
    analysis = None
    for analysis in analyse_video(app, args.video):
        first = first or time.perf_counter() - start
        if args.max_windows and analysis.windows_done >= args.max_windows:
            break
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "model": app.source,
                "video": args.video,
                "stride": app.stride,
                "precision": "bf16" if app.bf16 else "fp32",
                "batch_size": app.batch_size,
                "windows": analysis.windows_done,
                "num_windows": analysis.num_windows,
                "num_frames": analysis.num_frames,
                "seconds": round(elapsed, 2),
                "windows_per_s": round(analysis.windows_done / elapsed, 3),
                "first_timeline_s": round(first, 2),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()

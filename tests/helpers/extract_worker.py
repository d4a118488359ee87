# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""One rank of the multi-rank extraction tests: `adhvit-extract`'s main, optionally killed mid-video.

With `KILL_RANK=r KILL_AT=k`, rank r dies (`os._exit`, as a SIGKILL would leave it: its lock and a part of the
video's outputs on disk, no record) after writing the first output file of its k-th video.
"""

import os
import sys

from adhvit_hf.cli import extract_features
from adhvit_hf.inference import features


def kill_mid_video(at: int) -> None:
    write_outputs, started = features.write_video_outputs, []

    def write_then_die(output_dir, name, video_features, config):
        started.append(name)
        if len(started) == at:
            features.save_npy(features.output_paths(output_dir, name)["shared"], video_features.shared)
            os._exit(9)
        write_outputs(output_dir, name, video_features, config)

    features.write_video_outputs = write_then_die


if __name__ == "__main__":
    if os.environ.get("KILL_RANK") == os.environ["RANK"]:
        kill_mid_video(int(os.environ["KILL_AT"]))
    sys.exit(extract_features.main(sys.argv[1:]))

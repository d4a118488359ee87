# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""A seconds-long run of the benchmarks at tiny sizes: the JSON they write, the tables they print, bad input."""

import json

import numpy as np
import pytest

from adhvit_hf.data.decoding import available_backend, open_video
from benchmarks import data, run, training
from benchmarks.common import count_flops


pytestmark = pytest.mark.slow


# A stand-in for the original ADH-ViT's models/ folder: the alternating model imports its backbone from the file
# beside it, as the original does, and refuses anything but (B, C, T, H, W).
STAND_IN_BACKBONE = """
import torch.nn as nn


class VisionTransformer(nn.Module):
    def __init__(self, img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio, qkv_bias, all_frames,
                 tubelet_size, num_classes=1000):
        super().__init__()
        self.embed_dim = embed_dim
        kernel = (tubelet_size, patch_size, patch_size)
        self.patch_embed = nn.Conv3d(3, embed_dim, kernel, stride=kernel)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward_features(self, x):
        assert x.shape[1] == 3, f"expected (B, C, T, H, W), got {tuple(x.shape)}"
        return self.patch_embed(x).flatten(2).mean(-1)
"""
STAND_IN_ALTERNATING = """
import torch.nn as nn

from .modeling_finetune import VisionTransformer


class AlternatingDualHeadVisionTransformer(VisionTransformer):
    def __init__(self, lh_num_classes=75, rh_num_classes=75, **kwargs):
        super().__init__(**kwargs)
        del self.head
        self.lh_head = nn.Linear(self.embed_dim, lh_num_classes)
        self.rh_head = nn.Linear(self.embed_dim, rh_num_classes)

    def forward(self, x, hand_type=None):
        return getattr(self, f"{hand_type}_head")(self.forward_features(x))
"""
TINY_ARGS = [
    "--sizes",
    "tiny",
    "--steps",
    "1",
    "--warmup",
    "1",
    "--data_preset",
    "tiny",
    "--data_clips",
    "2",
    "--data_rounds",
    "1",
    "--windows",
    "2",
    "--inference_batch_size",
    "2",
    "--matmul_size",
    "64",
    "--no_isolation",
]
VARIANTS = ["videomae_eager_fp32", "videomae_sdpa_fp32", "original_fp32", "adhvit_sdpa_fp32", "adhvit_sdpa_bf16"]
COST_KEYS = {
    *(f"decode_{decoder}" for decoder in data.DECODERS),
    "bare_decode",
    "augment",
    "collate",
    "collate_uint8",
    "frame_size",
    "bitrate_kbps",
}
# tiny (8 tokens of 3 x 2 x 16 x 16 pixels, width 32, MLP 64, 2 layers, 75 classes), 2 FLOPs per multiply-add:
# patch embedding + 2 x (qkv, scores, weighted sum, projection, MLP) + head
TINY_FORWARD_FLOPS = 2 * 8 * 1536 * 32 + 2 * (49_152 + 4_096 + 4_096 + 16_384 + 65_536) + 2 * 32 * 75


def write_stand_in(folder):
    (folder / "modeling_finetune.py").write_text(STAND_IN_BACKBONE)
    path = folder / "modeling_finetune_alternating.py"
    path.write_text(STAND_IN_ALTERNATING)
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("benchmark")
    original = write_stand_in(folder)
    output = folder / "benchmark.json"
    returned = run.main(
        [*TINY_ARGS, "--work_dir", str(folder), "--original_model_file", str(original), "--output", str(output)]
    )
    return returned, json.loads(output.read_text()), folder


def test_json_file_is_what_main_returns(tiny_run):
    returned, written, _ = tiny_run
    assert written == json.loads(json.dumps(returned))
    assert set(written) == {
        "machine",
        "settings",
        "flops",
        "matmul_peak",
        "train",
        "data",
        "cores",
        "targets",
        "inference",
    }


def test_training_compares_with_three_baselines(tiny_run):
    results = tiny_run[1]
    runs = results["train"]["tiny"]
    assert list(runs) == VARIANTS
    assert [run["attention"] for run in runs.values()] == ["eager", "sdpa", "eager", "sdpa", "sdpa"]
    assert runs["adhvit_sdpa_bf16"]["dtype"] == "bf16"
    for figures in runs.values():
        assert figures["loss_is_finite"] is True
        assert len(figures["step_seconds"]) == 1
        assert figures["model_flops_per_second"] == results["flops"]["tiny"]["train"] * figures["clips_per_second"]
        peak = results["matmul_peak"][f"{figures['dtype']}_flops_per_second"]
        assert figures["fraction_of_peak"] == figures["model_flops_per_second"] / peak
        for baseline in training.BASELINES:
            base = runs[baseline]
            assert figures[f"speedup_vs_{baseline}"] == round(
                figures["clips_per_second"] / base["clips_per_second"], 3
            )
            assert figures[f"cpu_speedup_vs_{baseline}"] == round(
                base["cpu_seconds_per_clip"] / figures["cpu_seconds_per_clip"], 3
            )
    for baseline in training.BASELINES:
        assert runs[baseline][f"speedup_vs_{baseline}"] == runs[baseline][f"cpu_speedup_vs_{baseline}"] == 1.0


def test_counted_flops(tiny_run):
    flops = tiny_run[1]["flops"]
    assert flops["tiny"] == count_flops("tiny")
    assert flops["tiny"]["forward"] == TINY_FORWARD_FLOPS
    # the backward pass costs two forwards, less the input gradient of the patch embedding (pixels need none)
    assert flops["tiny"]["train"] == 3 * TINY_FORWARD_FLOPS - 2 * 8 * 1536 * 32
    # ViT-B 16x224: VideoMAE's published 180 G multiply-adds per clip
    assert round(flops["base"]["forward"] / 2e9) == 180


def test_clip_costs_and_cores_per_gpu(tiny_run):
    results = tiny_run[1]
    videos = results["data"]["videos"]
    assert list(videos) == ["original", "prepared"]
    assert all(set(costs) == COST_KEYS for costs in videos.values())
    # the tiny preset: 128x72 recorded, prepared at a short side of 32 (aspect kept, even sizes)
    assert videos["original"]["frame_size"] == [72, 128]
    assert videos["prepared"]["frame_size"] == [32, 56]
    cores = results["cores"]
    clips_per_second = 0.4 * 989e12 / results["flops"]["base"]["train"]
    assert cores["gpu_clips_per_second"] == {"at_fraction_of_peak": round(clips_per_second, 1)}
    assert len(cores["cores"]) == 2 * 2 * len(data.DECODERS)
    costs = videos["prepared"]
    default = results["data"]["settings"]["default_decoder"]
    assert default == available_backend("auto")
    device_ms = costs[f"decode_{default}"] + costs["collate_uint8"]
    assert cores["cores"][f"prepared/{default}/device_augmentation"] == {
        "at_fraction_of_peak": round(clips_per_second * device_ms / 1000, 1)
    }
    torchcodec = [costs["decode_torchcodec"] <= 1.2 * costs["bare_decode"]] if "torchcodec" in data.DECODERS else []
    assert [target["met"] for target in results["targets"]] == [
        *torchcodec,
        videos["original"]["bare_decode"] >= 4 * costs["bare_decode"],
        costs[f"decode_{default}"] + costs["augment"] + costs["collate"] <= 2 * costs["bare_decode"],
        cores["cores"][f"prepared/{default}/device_augmentation"]["at_fraction_of_peak"] <= 24,
    ]


def test_prepared_copy_keeps_every_frame_and_the_floor_decodes_the_same_frames(tiny_run):
    files = tiny_run[1]["data"]["settings"]["files"]
    assert files == {
        "original": "original_128x72_30fps_gop25_crf23_40.mp4",
        "prepared": "original_128x72_30fps_gop25_crf23_40_prepared_32_gop4_crf20.mp4",
    }
    original, prepared = (str(tiny_run[2] / files[name]) for name in ("original", "prepared"))
    assert (open_video(original).num_frames, open_video(prepared).num_frames) == (40, 40)
    assert (open_video(prepared).height, open_video(prepared).width) == (32, 56)
    indices = [3, 7, 11, 30]
    expected = open_video(original, backend="pyav").get_frames(indices).numpy()
    assert np.array_equal(np.stack(data.bare_decode(original, indices)), expected)


def test_printed_tables(tiny_run):
    text = run.markdown_tables(tiny_run[1])
    assert "| tiny | original_fp32 | eager |" in text
    assert f"| prepared | 32x56 | {tiny_run[1]['data']['videos']['prepared']['bitrate_kbps']} | decord |" in text
    assert "| prepared/decord/device_augmentation |" in text
    assert "cores per GPU at 40% of 989 TFLOP/s" in text
    default = tiny_run[1]["data"]["settings"]["default_decoder"]
    assert f"| whole CPU cost of a training clip on prepared video ({default}) <= 2x its bare-decode floor |" in text


def test_bad_original_model_files(tmp_path):
    with pytest.raises(ValueError, match=f"--original_model_file {tmp_path / 'missing.py'}: file not found"):
        training.load_original_class(str(tmp_path / "missing.py"))
    lonely = tmp_path / "modeling_finetune_alternating.py"
    lonely.write_text(STAND_IN_ALTERNATING)
    with pytest.raises(ValueError, match="cannot import it .*modeling_finetune"):
        training.load_original_class(str(lonely))
    other = tmp_path / "other.py"
    other.write_text("X = 1\n")
    with pytest.raises(ValueError, match="no class AlternatingDualHeadVisionTransformer in it"):
        training.load_original_class(str(other))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--sizes", "huge"], "--sizes: unknown ['huge']; choose from ['base', 'small', 'tiny']"),
        (["--steps", "0"], "argument --steps: must be >= 1, got 0"),
        (["--gpu_fraction", "1.5"], "--gpu_fraction: must be in (0, 1], got 1.5"),
        (["--sections", "train,speed"], "--sections: unknown ['speed']"),
    ],
)
def test_bad_flags_are_named(argv, message, capsys):
    with pytest.raises(SystemExit):
        run.parse_args(argv)
    assert message in capsys.readouterr().err

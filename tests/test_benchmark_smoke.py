"""A seconds-long run of scripts/benchmark.py at tiny sizes: the JSON it writes and the tables it prints."""

import json

import pytest

from benchmarks import benchmark


TINY_ARGS = [
    "--sizes", "tiny",
    "--steps", "1",
    "--warmup", "1",
    "--data_cases", "demo_no_randaugment",
    "--data_repeats", "2",
    "--data_rounds", "1",
    "--windows", "2",
    "--inference_batch_size", "2",
    "--matmul_size", "64",
    "--no_isolation",
]
TRAIN_KEYS = {
    "variant", "size", "attention", "dtype", "compiled", "batch_size", "warmup_seconds", "step_seconds",
    "best_step_seconds", "median_step_seconds", "clips_per_second", "cpu_seconds_per_clip", "model_flops_per_second",
    "memory_before_training_mb", "peak_memory_mb", "loss_is_finite", "fraction_of_peak", "speedup_vs_baseline",
    "peak_memory_vs_baseline", "cpu_time_speedup_vs_baseline",
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("benchmark") / "benchmark.json"
    returned = benchmark.main([*TINY_ARGS, "--output", str(output)])
    return returned, json.loads(output.read_text())


def test_json_file_is_what_main_returns(tiny_run):
    returned, written = tiny_run
    assert written == json.loads(json.dumps(returned))
    assert set(written) == {"machine", "settings", "matmul_peak", "train", "data", "inference", "workers_needed"}


def test_train_section_compares_every_variant_with_the_eager_baseline(tiny_run):
    train = tiny_run[1]["train"]
    assert list(train) == ["tiny"]
    assert list(train["tiny"]) == ["videomae_eager_fp32", "adhvit_sdpa_fp32", "adhvit_sdpa_bf16"]
    for variant, run in train["tiny"].items():
        assert set(run) == TRAIN_KEYS
        assert run["variant"] == variant
        assert len(run["step_seconds"]) == 1
        assert run["loss_is_finite"] is True
        assert run["clips_per_second"] > 0 and run["peak_memory_mb"] > 0
    assert train["tiny"]["videomae_eager_fp32"]["attention"] == "eager"
    assert train["tiny"]["videomae_eager_fp32"]["speedup_vs_baseline"] == 1.0
    assert train["tiny"]["adhvit_sdpa_fp32"]["attention"] == "sdpa"
    bf16 = train["tiny"]["adhvit_sdpa_bf16"]
    assert bf16["dtype"] == "bf16"
    bf16_peak = tiny_run[1]["matmul_peak"]["bf16_flops_per_second"]
    assert bf16["fraction_of_peak"] == bf16["model_flops_per_second"] / bf16_peak


def test_data_inference_and_peak_sections(tiny_run):
    results = tiny_run[1]
    assert set(results["matmul_peak"]) == {"fp32_flops_per_second", "bf16_flops_per_second", "matrix_size"}
    assert set(results["data"]) == {"demo_no_randaugment"}
    for backend in ("decord", "pyav"):
        run = results["data"]["demo_no_randaugment"][backend]
        assert set(run) == {"train_clips_per_second", "eval_videos_per_second", "eval_views_per_video"}
        assert run["eval_views_per_video"] == 2
        assert run["train_clips_per_second"] > 0
    inference = results["inference"]["tiny"]
    assert inference["windows"] == 2
    # 2 windows of 4 frames every 4th frame, one stride (4 frames) apart: 13 + 4 frames
    assert inference["num_video_frames"] == 17
    assert inference["windows_per_second"] > 0
    assert inference["fraction_of_peak"] == inference["model_flops_per_second"] / (
        results["matmul_peak"]["fp32_flops_per_second"]
    )
    assert set(results["workers_needed"]) == {"tiny/adhvit_sdpa_fp32", "tiny/adhvit_sdpa_bf16"}


def test_printed_tables(tiny_run, capsys):
    print(benchmark.markdown_tables(tiny_run[1]))
    text = capsys.readouterr().out
    assert "| tiny | videomae_eager_fp32 |" in text
    assert "| demo_no_randaugment | decord |" in text
    assert "| tiny/adhvit_sdpa_bf16 |" in text


def test_forward_flops():
    # tiny: 8 tokens of 3 x 2 x 16 x 16 pixels, width 32, MLP 64, 2 layers, a 75-class head
    assert benchmark.forward_flops(benchmark.model_config("tiny")) == 786_432 + 2 * 139_264 + 4_800
    # ViT-B 16x224: VideoMAE's published 180 G multiply-adds per clip
    assert round(benchmark.forward_flops(benchmark.model_config("base")) / 2e9) == 180


def test_unknown_choices_are_refused(capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--sizes", "huge"])
    assert "--sizes: unknown ['huge']; choose from ['base', 'small', 'demo', 'tiny']" in capsys.readouterr().err

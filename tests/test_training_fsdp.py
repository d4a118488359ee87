# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""FSDP2 through the AlternatingTrainer on two CPU gloo ranks: sharded parameters, the idle head's grad None and
bit-identical, the same weights as DDP, exact resume from a sharded checkpoint, a plain final folder; FSDP1 refused."""

import json

import pytest
import torch
from helpers.cli import run_two_ranks, tiny_run_args
from safetensors.torch import load_file
from transformers import AutoModel

from adhvit_hf.data.demo import make_demo_dataset
from adhvit_hf.training.fsdp import FSDP1_REFUSAL, OPTIMIZER_FOLDER


pytestmark = pytest.mark.slow

FSDP2 = dict(fsdp="full_shard", fsdp_config=json.dumps({"version": 2}))
# 8 alternating steps, weight decay on, so a moved idle head would show; activation checkpointing (non-reentrant)
# on, for DDP and FSDP2 alike.
RUN = dict(max_steps=8, alternation_steps=2, weight_decay=0.1, use_cpu="True", gradient_checkpointing="True")
# FSDP2 reduce-scatters (sum, then divides) where DDP all-reduces: the same sums in another order, float32.
TOLERANCE = 1e-4


def final_weights(folder, rank=0) -> dict:
    return load_file(folder / f"rank{rank}.safetensors")


@pytest.fixture(scope="module")
def ddp_run(demo_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    ranks = run_two_ranks(folder, tiny_run_args(demo_data, folder / "out", **RUN))
    return folder, ranks


def test_fsdp2_shards_keeps_the_idle_head_and_ends_where_ddp_does(demo_data, ddp_run, tmp_path):
    ddp_folder, ddp = ddp_run
    ranks = run_two_ranks(tmp_path, tiny_run_args(demo_data, tmp_path / "out", save_strategy="steps", **RUN, **FSDP2))

    assert [rank["sharded"] for rank in ranks] == [[True] * 8, [True] * 8]
    assert [rank["sharded"] for rank in ddp] == [[False] * 8, [False] * 8]
    expected = [[("lh", "rh")[(step // 2) % 2]] for step in range(8)]
    assert ranks[0]["moved"] == ranks[1]["moved"] == ddp[0]["moved"] == expected
    idle = [[("rh", "lh")[(step // 2) % 2]] for step in range(8)]
    assert ranks[0]["idle_grads"] == ranks[1]["idle_grads"] == ddp[0]["idle_grads"] == idle
    assert ranks[0]["weights"] == ranks[1]["weights"]
    fsdp, reference = final_weights(tmp_path), final_weights(ddp_folder)
    assert sorted(fsdp) == sorted(reference)
    differences = {name: (fsdp[name] - reference[name]).abs().max().item() for name in fsdp}
    assert max(differences.values()) <= TOLERANCE, differences
    # The final folder is a plain safetensors folder, with ADH-ViT's own remote code (not FSDP's sharded class).
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_adhvit.AdhVitForDualHandClassification"
    assert config["architectures"] == ["AdhVitForDualHandClassification"]
    assert not list((tmp_path / "out").glob("_fsdp*.py"))
    loaded = AutoModel.from_pretrained(tmp_path / "out")
    assert all(torch.equal(loaded.state_dict()[name], fsdp[name]) for name in fsdp)
    assert (tmp_path / "out" / "checkpoint-8" / OPTIMIZER_FOLDER).is_dir()


def test_fsdp2_resumes_exactly_from_a_sharded_checkpoint(demo_data, tmp_path):
    run = dict(RUN, max_steps=6, save_strategy="steps", save_steps=3, model_ema="True", model_ema_decay=0.5, **FSDP2)
    (tmp_path / "full").mkdir()
    (tmp_path / "resumed").mkdir()
    full = run_two_ranks(tmp_path / "full", tiny_run_args(demo_data, tmp_path / "full" / "out", **run))
    checkpoint = tmp_path / "full" / "out" / "checkpoint-3"
    assert sorted(p.name for p in (checkpoint / OPTIMIZER_FOLDER).glob("*.distcp")) == ["__0_0.distcp", "__1_0.distcp"]
    resumed = run_two_ranks(
        tmp_path / "resumed",
        tiny_run_args(demo_data, tmp_path / "resumed" / "out", resume_from_checkpoint=checkpoint, **run),
    )
    assert resumed[0]["weights"] == resumed[1]["weights"] == full[0]["weights"]
    # The weight average (sharded like the weights) resumes exactly too.
    averages = [load_file(tmp_path / run / "out" / "model_ema" / "model.safetensors") for run in ("full", "resumed")]
    assert sorted(averages[0]) == sorted(averages[1])
    assert all(torch.equal(averages[0][name], averages[1][name]) for name in averages[0])


def test_fsdp1_is_refused_in_one_line(demo_data, tmp_path):
    from adhvit_hf.cli import run_havid

    argv = tiny_run_args(demo_data, tmp_path / "out", fsdp="full_shard", fsdp_config=json.dumps({"version": 1}))
    with pytest.raises(ValueError, match="FSDP1"):
        run_havid.main(argv)
    assert FSDP1_REFUSAL.count("\n") == 0


def test_fsdp2_with_fewer_clips_and_test_videos_than_ranks(tmp_path):
    # One training clip and one test video per hand on two ranks, one clip per rank and step: the samplers give
    # every rank a batch (the one clip twice, as DistributedSampler pads), so every rank runs the same collectives,
    # and the test set's padding is dropped before the metrics.
    make_demo_dataset(str(tmp_path / "data"), seed=0, split_sizes={"train": 1, "val": 1, "test": 1})
    argv = tiny_run_args(tmp_path / "data", tmp_path / "out", batch_size=1, do_predict="True", use_cpu="True", **FSDP2)
    ranks = run_two_ranks(tmp_path, argv)

    assert ranks[0]["sharded"] == [True, True] and ranks[0]["weights"] == ranks[1]["weights"]
    predictions = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert sorted(prediction["hand"] for prediction in predictions) == ["lh", "rh"]
    results = json.loads((tmp_path / "out" / "all_results.json").read_text())
    assert {"test_lh_top1", "test_rh_top1", "test_mean_top1"} <= set(results)

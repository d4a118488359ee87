# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The alternation schedule, the batch sampler that follows it, and the clip collator (no model)."""

import pytest
import torch

from adhvit_hf.configuration_adhvit import IGNORE_INDEX
from adhvit_hf.data.collate import ClipCollator
from adhvit_hf.data.mixup import ClipMixup
from adhvit_hf.modeling_adhvit import hand_cross_entropy
from adhvit_hf.training.alternating_data import AlternatingBatchSampler
from adhvit_hf.training.schedule import build_schedule
from adhvit_hf.training.trainer import labels_of_the_step


def test_fixed_schedule_is_the_original_rule():
    schedule = build_schedule("fixed", alternation_steps=3, lh_pass_steps=4, rh_pass_steps=5)
    assert [schedule.hand_at(s) for s in range(8)] == ["lh"] * 3 + ["rh"] * 3 + ["lh"] * 2
    assert all(schedule.hand_at(s) == ("lh", "rh")[(s // 3) % 2] for s in range(100))
    assert schedule.steps_per_epoch == 9
    assert schedule.steps_of_hand_before("lh", 8) == 5
    assert schedule.steps_of_hand_before("rh", 8) == 3


def test_proportional_schedule_covers_each_hand_once_per_epoch():
    schedule = build_schedule("proportional", alternation_steps=5, lh_pass_steps=30, rh_pass_steps=10)
    assert (schedule.lh_steps, schedule.rh_steps) == (8, 3)  # 4 cycles of ceil(30 / 4) and ceil(10 / 4)
    epoch = schedule.steps_per_epoch
    assert schedule.steps_of_hand_before("lh", epoch) >= 30
    assert schedule.steps_of_hand_before("rh", epoch) >= 10
    assert schedule.steps_of_hand_before("lh", epoch) + schedule.steps_of_hand_before("rh", epoch) == epoch


def test_proportional_schedule_keeps_its_promise_with_a_small_hand_and_says_its_real_phases():
    # 20 LH and 240 RH clips in batches of 4, phases of about 2 steps asked: rounding the small hand's phase up to
    # one step in each of 16 cycles used to make LH see its data 3.2 times an epoch.
    schedule = build_schedule("proportional", alternation_steps=2, lh_pass_steps=5, rh_pass_steps=60)
    epoch = schedule.steps_per_epoch
    assert (schedule.lh_steps, schedule.rh_steps, epoch) == (1, 12, 65)
    assert (schedule.steps_of_hand_before("lh", epoch), schedule.steps_of_hand_before("rh", epoch)) == (5, 60)
    assert schedule.describe() == "65 optimizer steps per epoch, phases of 1 LH then 12 RH steps"


def test_joint_schedule_trains_both_hands():
    schedule = build_schedule("joint", alternation_steps=50, lh_pass_steps=3, rh_pass_steps=7)
    assert schedule.hand_at(5) is None
    assert schedule.steps_per_epoch == 7


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(strategy="fixed", alternation_steps=0),
            "alternation_steps must be a positive number of optimizer steps, got 0",
        ),
        (dict(strategy="round-robin", alternation_steps=5), "alternation_strategy must be one of"),
    ],
)
def test_schedule_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_schedule(lh_pass_steps=2, rh_pass_steps=2, **kwargs)


def keys_of(sampler, epoch):
    sampler.set_epoch(epoch)
    return list(sampler)


def test_sampler_follows_the_schedule_and_accumulation_never_mixes_hands():
    sampler = AlternatingBatchSampler(10, 6, batch_size=2, alternation_steps=2, gradient_accumulation_steps=2)
    batches = keys_of(sampler, 0)
    assert len(batches) == len(sampler) == sampler.schedule.steps_per_epoch * 2
    for micro, batch in enumerate(batches):
        hands = {hand for hand, _, _ in batch}
        assert hands == {sampler.schedule.hand_at(micro // 2)}


def test_each_hand_stream_covers_its_data_once_per_pass():
    sampler = AlternatingBatchSampler(10, 6, batch_size=2, alternation_steps=1)
    lh = [index for batch in keys_of(sampler, 0) + keys_of(sampler, 1) for hand, index, _ in batch if hand == "lh"]
    assert sorted(lh[:10]) == list(range(10))  # the first pass over the LH data
    assert lh[:10] != lh[10:20]  # the next pass is reshuffled (DistributedSampler.set_epoch)


def test_sampler_is_a_pure_function_of_epoch_and_seed():
    first = AlternatingBatchSampler(9, 7, batch_size=3, alternation_steps=2, seed=4)
    second = AlternatingBatchSampler(9, 7, batch_size=3, alternation_steps=2, seed=4)
    keys_of(first, 0)
    assert keys_of(first, 3) == keys_of(second, 3)
    seeds = [seed for batch in keys_of(first, 0) for _, _, seed in batch]
    assert len(set(seeds)) == len(seeds)


def test_ranks_share_the_hand_and_split_the_data():
    ranks = [AlternatingBatchSampler(8, 8, batch_size=2, alternation_steps=2, num_replicas=2, rank=r) for r in (0, 1)]
    batches = [keys_of(r, 0) for r in ranks]
    assert len(batches[0]) == len(batches[1])
    for batch0, batch1 in zip(*batches):
        assert {h for h, _, _ in batch0} == {h for h, _, _ in batch1}
        assert not {i for _, i, _ in batch0} & {i for _, i, _ in batch1}


def clip_item(label, hand, stream="lh", seed=7):
    return {
        "pixel_values": torch.full((1, 2, 3, 4, 4), float(label)),
        "labels": label,
        "hand": hand,
        "stream": stream,
        "seed": seed,
        "replaced_videos": [],
    }


def test_collator_routes_each_row_to_its_hands_labels():
    # the second clip was flipped with --flip swap_hands: it now shows a right hand
    batch = ClipCollator({"lh": 5, "rh": 4})([clip_item(3, "lh"), clip_item(1, "rh"), clip_item(0, "lh")])
    assert batch["hand"] == "lh"  # the stream the batch was drawn from, whatever the rows' hands
    assert batch["lh_labels"].tolist() == [3, -100, 0]
    assert batch["rh_labels"].tolist() == [-100, 1, -100]
    assert batch["pixel_values"].shape == (3, 2, 3, 4, 4)


def test_collator_mixes_each_hand_among_itself_and_zeroes_the_others_targets():
    mixup = {
        hand: ClipMixup(mixup_alpha=1.0, cutmix_alpha=0.0, label_smoothing=0.0, num_labels=n)
        for hand, n in (("lh", 5), ("rh", 4))
    }
    items = [clip_item(3, "lh"), clip_item(1, "rh"), clip_item(0, "lh")]
    batch = ClipCollator({"lh": 5, "rh": 4}, mixup=mixup)(items)
    lh, rh = batch["lh_labels"], batch["rh_labels"]
    assert lh.shape == (3, 5) and rh.shape == (3, 4)
    assert lh[1].tolist() == [0.0] * 5 and rh[0].tolist() == rh[2].tolist() == [0.0] * 4
    torch.testing.assert_close(lh[[0, 2]].sum(-1), torch.ones(2))
    assert set(lh[0].nonzero().flatten().tolist()) <= {0, 3}
    assert rh[1].tolist() == [0.0, 1.0, 0.0, 0.0]  # a hand with one row has nothing to mix with
    assert torch.equal(batch["pixel_values"][1], items[1]["pixel_values"][0])


def test_evaluation_items_keep_their_views_together():
    items = [{"pixel_values": torch.zeros(6, 2, 3, 4, 4), "labels": 2, "hand": "rh"}] * 2
    batch = ClipCollator({"lh": 5, "rh": 4})(items)
    assert batch["pixel_values"].shape == (2, 6, 2, 3, 4, 4)
    assert batch["rh_labels"].tolist() == [2, 2] and "lh_labels" not in batch and "replaced_videos" not in batch


def test_label_smoothing_without_mixup_smooths_the_targets_and_keeps_the_clips():
    smoothing_only = {"lh": ClipMixup(mixup_alpha=0.0, cutmix_alpha=0.0, label_smoothing=0.1, num_labels=5)}
    items = [clip_item(3, "lh"), clip_item(0, "lh")]
    batch = ClipCollator({"lh": 5, "rh": 4}, mixup=smoothing_only)(items)
    torch.testing.assert_close(batch["lh_labels"][0], torch.tensor([0.02, 0.02, 0.02, 0.92, 0.02]))
    assert torch.equal(batch["pixel_values"], torch.cat([i["pixel_values"] for i in items]))


def test_a_batch_whose_clips_all_went_to_the_idle_hand_still_trains_with_a_zero_loss():
    """--flip swap_hands can send every clip of an LH step to the right hand: the LH step gets ignored labels."""
    batch = {"pixel_values": torch.rand(2, 4, 3, 8, 8), "rh_labels": torch.tensor([1, 2])}
    inputs = labels_of_the_step(batch, "lh")
    assert set(inputs) == {"pixel_values", "lh_labels"}
    assert inputs["lh_labels"].tolist() == [IGNORE_INDEX, IGNORE_INDEX]
    loss = hand_cross_entropy(torch.randn(2, 3, requires_grad=True), inputs["lh_labels"], "lh")
    assert loss.item() == 0.0 and loss.requires_grad
    mixed = {
        "pixel_values": torch.rand(2, 4, 3, 8, 8),
        "lh_labels": torch.tensor([0, -100]),
        "rh_labels": torch.tensor([-100, 1]),
    }
    assert labels_of_the_step(mixed, "lh")["lh_labels"].tolist() == [
        0,
        -100,
    ] and "rh_labels" not in labels_of_the_step(mixed, "lh")

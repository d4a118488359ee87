"""The alternation schedule and the batch sampler that follows it (pure, no model)."""

import pytest

from adhvit_hf.training.alternating_data import AlternatingBatchSampler
from adhvit_hf.training.schedule import build_schedule


def test_fixed_schedule_is_the_seed_rule():
    schedule = build_schedule("fixed", alternation_steps=3, lh_updates=4, rh_updates=5)
    assert [schedule.hand_at(s) for s in range(8)] == ["lh"] * 3 + ["rh"] * 3 + ["lh"] * 2
    assert all(schedule.hand_at(s) == ("lh", "rh")[(s // 3) % 2] for s in range(100))
    assert schedule.updates_per_epoch == 9
    assert schedule.steps_of_hand_before("lh", 8) == 5
    assert schedule.steps_of_hand_before("rh", 8) == 3


def test_proportional_schedule_covers_each_hand_once_per_epoch():
    schedule = build_schedule("proportional", alternation_steps=5, lh_updates=30, rh_updates=10)
    assert (schedule.lh_steps, schedule.rh_steps) == (8, 3)  # 4 cycles of ceil(30 / 4) and ceil(10 / 4)
    epoch = schedule.updates_per_epoch
    assert schedule.steps_of_hand_before("lh", epoch) >= 30
    assert schedule.steps_of_hand_before("rh", epoch) >= 10
    assert schedule.steps_of_hand_before("lh", epoch) + schedule.steps_of_hand_before("rh", epoch) == epoch


def test_joint_schedule_trains_both_hands():
    schedule = build_schedule("joint", alternation_steps=50, lh_updates=3, rh_updates=7)
    assert schedule.hand_at(5) is None
    assert schedule.updates_per_epoch == 7


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(strategy="fixed", alternation_steps=0), "alternation_steps must be a positive number of optimizer steps, got 0"),
        (dict(strategy="round-robin", alternation_steps=5), "alternation_strategy must be one of"),
    ],
)
def test_schedule_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_schedule(lh_updates=2, rh_updates=2, **kwargs)


def keys_of(sampler, epoch):
    sampler.set_epoch(epoch)
    return list(sampler)


def test_sampler_follows_the_schedule_and_accumulation_never_mixes_hands():
    sampler = AlternatingBatchSampler(10, 6, batch_size=2, alternation_steps=2, gradient_accumulation_steps=2)
    batches = keys_of(sampler, 0)
    assert len(batches) == len(sampler) == sampler.schedule.updates_per_epoch * 2
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

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The original ADH-ViT's epochs, LR and weight-decay schedules and hand phases, against values computed once from
its own code (tests/fixtures/original_schedule.json: `utils.cosine_scheduler`, main.py's arithmetic and
`train_one_epoch_alternating` run on fake clips; balanced and unbalanced hands, accumulation, two ranks)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from adhvit_hf.training.optim import CosineSchedule, CosineScheduler
from adhvit_hf.training.schedule import build_schedule, original_epoch


FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "original_schedule.json").read_text())
CASES = sorted(name for name in FIXTURE if not name.startswith("_"))


def original_flags(case: dict) -> dict:
    """The original's defaults under the case's flags."""
    defaults = dict(update_freq=1, world_size=1, warmup_epochs=5, warmup_steps=-1, min_lr=1e-6, weight_decay_end=None)
    return {**defaults, **case}


def fixture_case(name: str):
    """A fixture case's expected values, its flags with the original's defaults, and the package's epoch for them."""
    expected = FIXTURE[name]
    flags = original_flags(expected["flags"])
    epoch = original_epoch(
        flags["n_lh"], flags["n_rh"], flags["batch_size"], flags["update_freq"], num_replicas=flags["world_size"]
    )
    return expected, flags, epoch


def build_original_scheduler(flags: dict, epoch) -> tuple[torch.optim.Optimizer, CosineScheduler]:
    """The package's scheduler over a decayed group of lr_scale 0.5 and an undecayed one of lr_scale 1, set up
    from the original's flags the way main.py reads them."""
    global_batch = flags["batch_size"] * flags["update_freq"] * flags["world_size"]
    lr, min_lr = flags["lr"] * global_batch / 256, flags["min_lr"] * global_batch / 256
    total = flags["epochs"] * epoch.schedule_steps
    warmup = flags["warmup_steps"] if flags["warmup_steps"] > 0 else flags["warmup_epochs"] * epoch.schedule_steps
    weight_decay_end = flags["weight_decay"] if flags["weight_decay_end"] is None else flags["weight_decay_end"]
    params = [torch.nn.Parameter(torch.zeros(2, 2)), torch.nn.Parameter(torch.zeros(2))]
    optimizer = torch.optim.AdamW(
        [
            {"params": [params[0]], "weight_decay": flags["weight_decay"], "lr_scale": 0.5},
            {"params": [params[1]], "weight_decay": 0.0, "lr_scale": 1.0},
        ],
        lr=lr,
    )
    scheduler = CosineScheduler(
        optimizer,
        lr=CosineSchedule(lr, min_lr, total, warmup),
        weight_decay=CosineSchedule(flags["weight_decay"], weight_decay_end, total),
        schedule_step=epoch.schedule_step,
    )
    return optimizer, scheduler


@pytest.mark.parametrize("name", CASES)
def test_original_epoch_counts_the_lh_loader(name):
    expected, flags, epoch = fixture_case(name)
    assert epoch.steps == expected["original_steps_per_epoch"]
    assert epoch.schedule_steps == expected["schedule_steps_per_epoch"]
    assert flags["epochs"] * epoch.steps == expected["total_steps"]


@pytest.mark.parametrize("name", CASES)
def test_lr_and_weight_decay_at_every_step_are_the_originals(name):
    expected, flags, epoch = fixture_case(name)
    optimizer, scheduler = build_original_scheduler(flags, epoch)
    seen = {"lr": [], "lr_scale_0.5": [], "weight_decay": [], "no_decay_weight_decay": set()}
    for _ in range(expected["total_steps"]):
        decayed, plain = optimizer.param_groups
        seen["lr"].append(plain["lr"])
        seen["lr_scale_0.5"].append(decayed["lr"])
        seen["weight_decay"].append(decayed["weight_decay"])
        seen["no_decay_weight_decay"].add(plain["weight_decay"])
        optimizer.step()
        scheduler.step()
    # Bit for bit: the same float64 operations as numpy's linspace and the original's cosine.
    assert seen["lr"] == expected["lr"]
    assert seen["lr_scale_0.5"] == expected["lr_scale_0.5"]
    assert seen["weight_decay"] == expected["weight_decay"]
    assert sorted(seen["no_decay_weight_decay"]) == expected["no_decay_weight_decay"] == [0.0]


@pytest.mark.parametrize("name", CASES)
def test_hand_phases_restart_with_lh_each_epoch_as_the_original(name):
    expected, flags, epoch = fixture_case(name)
    # The original counts micro-batches; the cases switch on optimizer-step boundaries.
    steps_per_phase = flags["alternation_steps"] // flags["update_freq"]
    schedule = build_schedule("fixed", steps_per_phase, 100, 100, original_epoch=epoch.steps)
    hands = [[schedule.hand_at(step)] * flags["update_freq"] for step in range(expected["total_steps"])]
    assert hands == expected["hand"]
    # each hand's data stream advances only on that hand's steps
    for hand in ("lh", "rh"):
        counts = [schedule.steps_of_hand_before(hand, step) for step in range(expected["total_steps"] + 1)]
        assert counts[-1] == sum(h == [hand] * flags["update_freq"] for h in expected["hand"])
        assert all(counts[s + 1] - counts[s] == (schedule.hand_at(s) == hand) for s in range(expected["total_steps"]))


def test_unbalanced_epochs_skip_the_end_of_each_epochs_schedule():
    flags = original_flags(FIXTURE["unbalanced_lh_smaller"]["flags"])
    epoch = original_epoch(flags["n_lh"], flags["n_rh"], flags["batch_size"])
    assert (epoch.steps, epoch.schedule_steps) == (7, 12)
    assert [epoch.schedule_step(s) for s in (0, 6, 7, 13, 14)] == [0, 6, 12, 18, 24]


@pytest.mark.parametrize("warmup", [0, 1, 2, 7, 30])
def test_cosine_schedule_equals_the_original_array_formula(warmup):
    """np.linspace with its endpoint, then the cosine; the last value before `final` is never `final`."""
    schedule = CosineSchedule(1.5e-5, 5e-8, total_steps=30, warmup_steps=warmup, start_warmup_value=1e-9)
    cosine = [5e-8 + 0.5 * (1.5e-5 - 5e-8) * (1 + np.cos(np.pi * i / (30 - warmup))) for i in range(30 - warmup)]
    expected = np.concatenate((np.linspace(1e-9, 1.5e-5, warmup), cosine)) if warmup else np.array(cosine)
    assert [schedule(step) for step in range(30)] == pytest.approx(expected.tolist(), rel=0, abs=1e-20)
    assert schedule(30) == schedule(1000) == 5e-8


def test_bad_schedules_are_refused_with_the_flag_to_change():
    with pytest.raises(
        ValueError, match="warmup of 40 steps does not fit a run of 30 optimizer steps: lower --warmup"
    ):
        CosineSchedule(1e-3, 1e-6, total_steps=30, warmup_steps=40)
    with pytest.raises(
        ValueError,
        match=r"the LH training list holds 7 clips, fewer than one global batch of 8 "
        r"\(--batch_size 4 x --update_freq 2 x 1 processes\)",
    ):
        original_epoch(7, 100, batch_size=4, gradient_accumulation_steps=2)
    with pytest.raises(ValueError, match="an epoch of the original needs at least one optimizer step, got 0"):
        build_schedule("fixed", 2, 5, 5, original_epoch=0)


def test_scheduler_state_reloads_with_weights_only(tmp_path):
    """HF reloads scheduler.pt with weights_only=True: the state holds plain numbers and resumes the schedule."""
    flags = original_flags(FIXTURE["balanced"]["flags"])
    epoch = original_epoch(flags["n_lh"], flags["n_rh"], flags["batch_size"])
    optimizer, scheduler = build_original_scheduler(flags, epoch)
    for _ in range(13):
        optimizer.step()
        scheduler.step()
    torch.save(scheduler.state_dict(), tmp_path / "scheduler.pt")
    resumed_optimizer, resumed = build_original_scheduler(flags, epoch)
    resumed.load_state_dict(torch.load(tmp_path / "scheduler.pt", weights_only=True))
    resumed_optimizer.step()
    resumed.step()
    assert resumed_optimizer.param_groups[1]["lr"] == FIXTURE["balanced"]["lr"][14]
    assert resumed_optimizer.param_groups[0]["weight_decay"] == FIXTURE["balanced"]["weight_decay"][14]

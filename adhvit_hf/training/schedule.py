# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Which hand trains at which optimizer step: a pure function of the step.

The data side (which loader a batch comes from) and the loss side (which head runs) both derive
from it, so nothing about alternation is saved in checkpoints and every DDP rank agrees.
"""

import math
from dataclasses import dataclass, replace


STRATEGIES = ("fixed", "proportional", "joint")


@dataclass(frozen=True)
class AlternationSchedule:
    """Phases of `lh_steps` then `rh_steps` optimizer steps, repeating; `joint` trains both every step.

    `steps_per_epoch` is the length of one epoch in optimizer steps (see `build_schedule`). With
    `restart_each_epoch` the phases start again with LH at every epoch, as the original's loop does; otherwise
    they run on across epochs.
    """

    lh_steps: int
    rh_steps: int
    steps_per_epoch: int
    joint: bool = False
    restart_each_epoch: bool = False

    def describe(self) -> str:
        """The phases as the log states them: what really runs, not the --alternation_steps asked for."""
        if self.joint:
            return f"{self.steps_per_epoch} optimizer steps per epoch, both hands every step"
        return (
            f"{self.steps_per_epoch} optimizer steps per epoch, phases of {self.lh_steps} LH then {self.rh_steps} RH "
            "steps"
        )

    def hand_at(self, step: int) -> str | None:
        """The hand trained at optimizer step `step`; None when both hands train (joint).

        With equal phases and within an epoch this is the original's rule, `("lh", "rh")[(step // alternation_steps) % 2]`.
        """
        if self.joint:
            return None
        if self.restart_each_epoch:
            step %= self.steps_per_epoch
        return "lh" if step % (self.lh_steps + self.rh_steps) < self.lh_steps else "rh"

    def steps_of_hand_before(self, hand: str, step: int) -> int:
        """How many optimizer steps before `step` trained `hand`: where that hand's data stream stands."""
        if self.joint:
            return step
        if self.restart_each_epoch:
            epochs, rest = divmod(step, self.steps_per_epoch)
            lh_count = epochs * self._lh_steps_within(self.steps_per_epoch) + self._lh_steps_within(rest)
        else:
            lh_count = self._lh_steps_within(step)
        return lh_count if hand == "lh" else step - lh_count

    def _lh_steps_within(self, steps: int) -> int:
        """LH steps among the first `steps` steps of the phases."""
        cycles, rest = divmod(steps, self.lh_steps + self.rh_steps)
        return cycles * self.lh_steps + min(rest, self.lh_steps)


def build_schedule(
    strategy: str, alternation_steps: int, lh_pass_steps: int, rh_pass_steps: int, original_epoch: int | None = None
) -> AlternationSchedule:
    """The schedule for a strategy, given how many optimizer steps one pass over each hand's data takes.

    `original_epoch` (optimizer steps, see `OriginalEpoch.steps`) gives epochs that long instead, with the
    phases restarting with LH at each epoch: the original's loop.

    Epoch length, in optimizer steps:
    - fixed: `lh_pass_steps + rh_pass_steps`, so with balanced hands each hand sees its data about once per epoch.
      (The original counts the LH loader only, so its epochs are about half as long: see `original_epoch`.)
    - proportional: phases scaled to the data sizes, about `alternation_steps` on average, so one epoch
      covers each hand's data once.
    - joint: `max(lh_pass_steps, rh_pass_steps)`; every step carries a batch of each hand.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"alternation_strategy must be one of {STRATEGIES}, got {strategy!r}")
    if alternation_steps <= 0:
        raise ValueError(f"alternation_steps must be a positive number of optimizer steps, got {alternation_steps}")
    if lh_pass_steps <= 0 or rh_pass_steps <= 0:
        raise ValueError(
            f"each hand needs at least one batch of training data (lh: {lh_pass_steps}, rh: {rh_pass_steps})"
        )
    if strategy == "joint":
        schedule = AlternationSchedule(1, 1, max(lh_pass_steps, rh_pass_steps), joint=True)
    elif strategy == "fixed":
        schedule = AlternationSchedule(alternation_steps, alternation_steps, lh_pass_steps + rh_pass_steps)
    else:
        # No more cycles than the smaller hand has batches: a phase rounded up from under one step would make that
        # hand see its data several times an epoch.
        cycles = max(
            1, min(round((lh_pass_steps + rh_pass_steps) / (2 * alternation_steps)), lh_pass_steps, rh_pass_steps)
        )
        lh_steps, rh_steps = math.ceil(lh_pass_steps / cycles), math.ceil(rh_pass_steps / cycles)
        schedule = AlternationSchedule(lh_steps, rh_steps, cycles * (lh_steps + rh_steps))
    if original_epoch is None:
        return schedule
    if original_epoch <= 0:
        raise ValueError(f"an epoch of the original needs at least one optimizer step, got {original_epoch}")
    return replace(schedule, steps_per_epoch=original_epoch, restart_each_epoch=True)


@dataclass(frozen=True)
class OriginalEpoch:
    """The original ADH-ViT's epoch, in optimizer steps, and where its LR and weight-decay schedules stand.

    The original runs its LH loader (`drop_last`) once per epoch, whatever the RH size: `steps` optimizer steps. Its
    schedules were built with `schedule_steps` = max(N_lh, N_rh) // global batch steps per epoch and are read
    at `epoch * schedule_steps + step`, so with fewer LH than RH clips each epoch skips the schedule's last
    `schedule_steps - steps` values. Both are equal when the hands are balanced.
    """

    steps: int
    schedule_steps: int

    def schedule_step(self, step: int) -> int:
        """The index into the original's schedules of optimizer step `step`."""
        epoch, step_in_epoch = divmod(step, self.steps)
        return epoch * self.schedule_steps + step_in_epoch


def original_epoch(
    lh_size: int, rh_size: int, batch_size: int, gradient_accumulation_steps: int = 1, num_replicas: int = 1
) -> OriginalEpoch:
    """The original's epoch for these data sizes (clips per hand; `rh_size = lh_size` for --one_stream).

    Each rank's LH loader holds ceil(N_lh / ranks) clips (its `DistributedSampler` pads) in batches of
    `batch_size`, the last partial one dropped; every `gradient_accumulation_steps` micro-batches make one
    optimizer step, a trailing incomplete group is never applied, and the loop stops at the schedule's
    steps per epoch.
    """
    for name, value in (
        ("batch_size", batch_size),
        ("gradient_accumulation_steps", gradient_accumulation_steps),
        ("num_replicas", num_replicas),
    ):
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    global_batch = batch_size * gradient_accumulation_steps * num_replicas
    schedule_steps = max(lh_size, rh_size) // global_batch
    lh_micro_batches = math.ceil(lh_size / num_replicas) // batch_size
    steps = min(lh_micro_batches // gradient_accumulation_steps, schedule_steps)
    if steps <= 0:
        raise ValueError(
            f"the LH training list holds {lh_size} clips, fewer than one global batch of {global_batch} "
            f"(--batch_size {batch_size} x --update_freq {gradient_accumulation_steps} x {num_replicas} processes): "
            "the original's epoch (its LH loader, last partial batch dropped) would have no step"
        )
    return OriginalEpoch(steps, schedule_steps)

"""Which hand trains at which optimizer step: a pure function of the step.

The data side (which loader a batch comes from) and the loss side (which head runs) both derive
from it, so nothing about alternation is saved in checkpoints and every DDP rank agrees.
"""

import math
from dataclasses import dataclass

STRATEGIES = ("fixed", "proportional", "joint")


@dataclass(frozen=True)
class AlternationSchedule:
    """Phases of `lh_steps` then `rh_steps` optimizer steps, repeating; `joint` trains both every step.

    `updates_per_epoch` is the length of one epoch in optimizer steps (see `build_schedule`).
    """

    lh_steps: int
    rh_steps: int
    updates_per_epoch: int
    joint: bool = False

    def hand_at(self, step: int) -> str | None:
        """The hand trained at optimizer step `step`; None when both hands train (joint).

        With equal phases this is the seed's rule, `("lh", "rh")[(step // alternation_steps) % 2]`.
        """
        if self.joint:
            return None
        return "lh" if step % (self.lh_steps + self.rh_steps) < self.lh_steps else "rh"

    def steps_of_hand_before(self, hand: str, step: int) -> int:
        """How many optimizer steps before `step` trained `hand`: where that hand's data stream stands."""
        if self.joint:
            return step
        cycle = self.lh_steps + self.rh_steps
        cycles, rest = divmod(step, cycle)
        lh_count = cycles * self.lh_steps + min(rest, self.lh_steps)
        return lh_count if hand == "lh" else step - lh_count


def build_schedule(strategy: str, alternation_steps: int, lh_updates: int, rh_updates: int) -> AlternationSchedule:
    """The schedule for a strategy, given how many optimizer steps one pass over each hand's data takes.

    Epoch length, in optimizer steps:
    - fixed: `lh_updates + rh_updates`, so with balanced hands each hand sees its data about once per epoch.
      (The seed counts the LH loader only, so its epochs are about half as long on HA-ViD.)
    - proportional: phases scaled to the data sizes, about `alternation_steps` on average, so one epoch
      covers each hand's data once.
    - joint: `max(lh_updates, rh_updates)`; every step carries a batch of each hand.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"alternation_strategy must be one of {STRATEGIES}, got {strategy!r}")
    if alternation_steps <= 0:
        raise ValueError(f"alternation_steps must be a positive number of optimizer steps, got {alternation_steps}")
    if lh_updates <= 0 or rh_updates <= 0:
        raise ValueError(f"each hand needs at least one batch of training data (lh: {lh_updates}, rh: {rh_updates})")
    if strategy == "joint":
        return AlternationSchedule(1, 1, max(lh_updates, rh_updates), joint=True)
    if strategy == "fixed":
        return AlternationSchedule(alternation_steps, alternation_steps, lh_updates + rh_updates)
    cycles = max(1, round((lh_updates + rh_updates) / (2 * alternation_steps)))
    lh_steps, rh_steps = math.ceil(lh_updates / cycles), math.ceil(rh_updates / cycles)
    return AlternationSchedule(lh_steps, rh_steps, cycles * (lh_steps + rh_steps))

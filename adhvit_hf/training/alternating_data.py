# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The data side of alternation: the per-hand clip dataset and a batch sampler that follows the schedule.

Every training sample is addressed by a key `(hand, index, seed)`. The key is a pure function of
(epoch, micro-batch, rank), so a resumed run skips batches by index without decoding them, and the
seed makes a clip's augmentation identical whatever the number of workers or where the run resumed.
"""

import hashlib
import logging
import math

import torch
from torch.utils.data import Dataset, DistributedSampler

from ..configuration_adhvit import HANDS
from ..data.decoding import BackendCannotOpenError, VideoDecodeError
from .schedule import AlternationSchedule, build_schedule


logger = logging.getLogger(__name__)

MAX_REPLACEMENTS = 10


def sample_seed(seed: int, *position: int | str) -> int:
    """A 63-bit seed for one sample, stable across processes and Python versions."""
    digest = hashlib.blake2b("/".join(map(str, (seed, *position))).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class AlternatingBatchSampler:
    """Yields micro-batches of `(hand, index, seed)` keys in the phases of an `AlternationSchedule`.

    Each hand has its own `DistributedSampler` (one replica without DDP), restarted with a new
    `set_epoch` each time that hand's data is exhausted; with `drop_last` (the original's loaders) a pass ends
    before its last partial batch. One epoch is `schedule.steps_per_epoch` optimizer steps of
    `gradient_accumulation_steps` micro-batches (`original_epoch` steps when given, see `build_schedule`), so
    accumulation never mixes hands.
    """

    def __init__(
        self,
        lh_size: int,
        rh_size: int,
        batch_size: int,
        strategy: str = "fixed",
        alternation_steps: int = 50,
        gradient_accumulation_steps: int = 1,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
        drop_last: bool = True,
        original_epoch: int | None = None,
    ):
        self.batch_size = batch_size
        self.accumulation = gradient_accumulation_steps
        self.rank = rank
        self.seed = seed
        self.epoch = 0
        self.samplers = {
            hand: DistributedSampler(range(size), num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed + i)
            for i, (hand, size) in enumerate(zip(HANDS, (lh_size, rh_size)))
        }
        rounding = math.floor if drop_last else math.ceil
        self.batches_per_pass = {hand: rounding(s.num_samples / batch_size) for hand, s in self.samplers.items()}
        steps = {hand: math.ceil(n / self.accumulation) for hand, n in self.batches_per_pass.items()}
        self.schedule: AlternationSchedule = build_schedule(
            strategy, alternation_steps, steps["lh"], steps["rh"], original_epoch=original_epoch
        )
        self._pass_cache: dict[str, tuple[int, list[int]]] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.schedule.steps_per_epoch * self.accumulation

    def _pass_indices(self, hand: str, data_pass: int) -> list[int]:
        cached = self._pass_cache.get(hand)
        if cached is None or cached[0] != data_pass:
            self.samplers[hand].set_epoch(data_pass)
            cached = (data_pass, list(self.samplers[hand]))
            self._pass_cache[hand] = cached
        return cached[1]

    def hand_batch(self, hand: str, step: int, micro: int) -> list[tuple[str, int, int]]:
        """The keys of `hand`'s micro-batch `micro` of optimizer step `step`."""
        position = self.schedule.steps_of_hand_before(hand, step) * self.accumulation + micro
        data_pass, offset = divmod(position, self.batches_per_pass[hand])
        indices = self._pass_indices(hand, data_pass)[offset * self.batch_size : (offset + 1) * self.batch_size]
        return [
            (hand, index, sample_seed(self.seed, hand, step, micro, self.rank, i)) for i, index in enumerate(indices)
        ]

    def __iter__(self):
        first_step = self.epoch * self.schedule.steps_per_epoch
        for micro_batch in range(len(self)):
            step, micro = first_step + micro_batch // self.accumulation, micro_batch % self.accumulation
            hand = self.schedule.hand_at(step)
            hands = HANDS if hand is None else (hand,)
            yield [key for h in hands for key in self.hand_batch(h, step, micro)]


class AlternatingClipDataset(Dataset):
    """Map-style dataset over both hands' raw clip datasets, addressed by `(hand, index, seed)` keys.

    `transform` is the data package's `VideoTransform` (the same callable evaluation attaches with
    `with_transform`), called here on the raw row with the key's seed, so all randomness of a clip comes
    from that seed.
    An unreadable video is logged, replaced by another clip of the same hand and reported in the
    sample's `replaced_videos`, so training goes on and DDP ranks keep equal batch counts.
    """

    def __init__(self, hand_datasets: dict, transform):
        self.hand_datasets = hand_datasets
        self.transform = transform

    def __len__(self) -> int:
        return sum(len(ds) for ds in self.hand_datasets.values())

    def __getitem__(self, key: tuple[str, int, int]) -> dict:
        hand, index, seed = key
        dataset = self.hand_datasets[hand]
        replaced = []
        for attempt in range(MAX_REPLACEMENTS + 1):
            row = dataset[index]
            try:
                out = self.transform({**{k: [v] for k, v in row.items()}, "seed": [seed]})
            except BackendCannotOpenError:
                raise  # a backend choice to change (see check_training_backend), not a clip to replace
            except VideoDecodeError as err:
                logger.warning("unreadable video replaced by another clip: %s", err)
                replaced.append(row["video"])
                generator = torch.Generator().manual_seed(seed + attempt + 1)
                index = int(torch.randint(len(dataset), (1,), generator=generator))
                continue
            return {
                "pixel_values": out["pixel_values"][0],
                "labels": out["labels"][0],
                "hand": out["hand"][0],
                "stream": hand,
                "seed": seed,
                "replaced_videos": replaced,
                **{key: out[key][0] for key in ("augment_seeds", "augment_flips") if key in out},
            }
        raise VideoDecodeError(
            f"{MAX_REPLACEMENTS + 1} {hand} videos in a row could not be read (last: {replaced[-1]}); "
            "check the video files and decoders before training"
        )

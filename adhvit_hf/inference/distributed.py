# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Extraction and prediction over all ranks of a `torchrun` / `accelerate launch` job.

- Ranks: read from the launcher's `RANK`, `WORLD_SIZE` and `LOCAL_RANK` (both launchers set them); a process group
  (gloo: only small Python objects are exchanged, so it works on every node, with or without GPUs) is opened when
  there is more than one rank. Each rank runs on `cuda:LOCAL_RANK` where CUDA exists, else on the CPU.
- Split: every rank computes the same split of the videos, balanced by frame count (longest first, each to the rank
  with the fewest frames so far: the greedy LPT rule), so a rank with fewer videos than its share simply gets
  fewer, and a rank may get none.
- Locks: a video is written only by the process that created its lock file `OUT/.locks/<name>.lock` with
  `O_CREAT | O_EXCL`, so two jobs on one output folder never write the same video. The lock holds the host name and
  process id of its holder. Stale-lock rule: a lock whose holder is on this host and no longer runs (a killed rank)
  is stale and taken over; a lock held by a process that runs, or by another host, is respected and the video is
  reported as skipped with the holder named (delete the lock file by hand if that host's job is gone).
- Completeness: a video counts as done only once its record `OUT/provenance/<name>.json` exists (written last,
  atomically, after every output file; see `adhvit_hf.inference.features.write_video_record`), so a rerun after a
  crash or a killed rank redoes exactly the videos without one.
- Summary: rank 0 gathers every rank's outcome and writes `OUT/extract_summary.json` (videos done per rank, skipped
  and failed videos with the reason, frames per second).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from ..utils import UserInputError, save_json


logger = logging.getLogger(__name__)

LOCK_FOLDER = ".locks"
SUMMARY_NAME = "extract_summary.json"
# Ranks finish their shares at different times and then wait in the final gather: the default 30 minutes of a
# process group would end a long extraction on the ranks that finished first.
GATHER_TIMEOUT = datetime.timedelta(days=7)
# A lock or breaker file without its holder's record this long after it was created was left by a killed writer.
STALE_WRITE_SECONDS = 60


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job: `rank` of `world_size`, `local_rank` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launcher_ranks() -> Ranks:
    """The ranks `torchrun` or `accelerate launch` gave this process (a plain run is rank 0 of 1)."""
    try:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as error:
        raise UserInputError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers ({error})") from None
    if not 0 <= rank < world_size:
        raise UserInputError(f"RANK={rank} is not within WORLD_SIZE={world_size}")
    return Ranks(rank, world_size, local_rank)


def init_ranks() -> Ranks:
    """`launcher_ranks()`, with the process group opened when there are several ranks."""
    ranks = launcher_ranks()
    if ranks.world_size > 1 and not dist.is_initialized():
        dist.init_process_group("gloo", timeout=GATHER_TIMEOUT)
    return ranks


def close_ranks() -> None:
    """Closes the process group `init_ranks` opened (a no-op for one rank)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def rank_device(requested: str | None, ranks: Ranks) -> str | None:
    """The device name of this rank: `cuda:LOCAL_RANK` (modulo the node's GPUs) for `--device cuda` or no `--device`
    on a machine with CUDA; with one rank, what was asked. An explicit `cuda:N` under several ranks is refused (every
    rank would use it)."""
    if ranks.world_size == 1:
        return requested
    if requested is not None and requested.startswith("cuda:"):
        raise UserInputError(
            f"--device {requested}: with {ranks.world_size} ranks each rank uses its own GPU (cuda:LOCAL_RANK); "
            "give --device cuda or no --device"
        )
    if requested == "cuda" or (requested is None and torch.cuda.is_available()):
        # More ranks than GPUs on a node share them round-robin (decoding is on the CPU: two ranks keep a GPU busy).
        return f"cuda:{ranks.local_rank % max(1, torch.cuda.device_count())}"
    return requested or "cpu"


def balanced_split(weights: list[int], world_size: int) -> list[list[int]]:
    """Indices of `weights` per rank: the heaviest first, each to the rank with the least weight so far (ties: the
    lower rank, then the earlier index), so every rank computes the same split. Each rank's indices keep their
    input order."""
    loads = [0] * world_size
    shares: list[list[int]] = [[] for _ in range(world_size)]
    for index in sorted(range(len(weights)), key=lambda i: (-weights[i], i)):
        rank = min(range(world_size), key=lambda r: (loads[r], r))
        shares[rank].append(index)
        loads[rank] += weights[index]
    return [sorted(share) for share in shares]


def all_gather(value, ranks: Ranks) -> list:
    """Every rank's `value`, in rank order (one rank: `[value]`)."""
    if ranks.world_size == 1:
        return [value]
    gathered = [None] * ranks.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def gather_to_main(value, ranks: Ranks) -> list | None:
    """Every rank's `value` on rank 0 (in rank order), None on the others."""
    if ranks.world_size == 1:
        return [value]
    gathered = [None] * ranks.world_size if ranks.is_main else None
    dist.gather_object(value, gathered, dst=0)
    return gathered


def split_for_rank(items: list, weigh, ranks: Ranks) -> list:
    """This rank's items of a balanced split; `weigh(item)` (e.g. its frame count) runs on a slice of the items on
    each rank, and the weights are shared, so each item is weighed once."""
    weights = {index: weigh(items[index]) for index in range(ranks.rank, len(items), ranks.world_size)}
    merged = {index: weight for part in all_gather(weights, ranks) for index, weight in part.items()}
    share = balanced_split([merged[index] for index in range(len(items))], ranks.world_size)[ranks.rank]
    return [items[index] for index in share]


class VideoLocked(Exception):
    """Another running process holds the lock of a video."""


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextlib.contextmanager
def video_lock(output_dir: str | os.PathLike, name: str):
    """Holds `OUT/.locks/<name>.lock` while the block runs (created with O_EXCL; removed at the end).

    A lock of a process of this host that no longer runs is stale and taken over (the module docstring has the
    rule). Raises `VideoLocked` naming the holder otherwise.
    """
    path = Path(output_dir) / LOCK_FOLDER / f"{name}.lock"
    holder = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    for _ in range(3):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileNotFoundError:  # another process removed the empty lock folder just now
            continue
        except FileExistsError:
            if not _take_over_if_stale(path):
                raise VideoLocked(f"{name}: locked by {_describe_holder(path)} ({path})") from None
            continue
        with os.fdopen(fd, "w") as file:
            file.write(json.dumps(holder) + "\n")
        break
    else:
        raise VideoLocked(f"{name}: locked by {_describe_holder(path)} ({path})")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        # The folder goes when its last lock does, so a finished output folder holds only outputs.
        with contextlib.suppress(OSError):
            path.parent.rmdir()


def _read_holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _describe_holder(path: Path) -> str:
    holder = _read_holder(path)
    if not holder:
        return "another process"
    return f"process {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"


def _take_over_if_stale(path: Path) -> bool:
    """Removes the lock at `path` when its holder is a process of this host that no longer runs; True if removed.

    Only the process that creates the breaker file `<lock>.break` (O_EXCL) may remove a stale lock, and it checks
    again once it has it: two processes finding the same stale lock never remove each other's new one.
    """
    breaker = path.with_name(path.name + ".break")
    try:
        os.close(os.open(breaker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        # A breaker left by a process killed in these few lines is old; a live one is gone within milliseconds.
        with contextlib.suppress(FileNotFoundError):
            if time.time() - breaker.stat().st_mtime > STALE_WRITE_SECONDS:
                breaker.unlink()
        return False
    try:
        if not _is_stale(path):
            return False
        logger.warning("taking over the stale lock %s of %s (no longer running)", path, _describe_holder(path))
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return True
    finally:
        breaker.unlink()


def _is_stale(path: Path) -> bool:
    holder = _read_holder(path)
    if holder is None:
        # Created but not yet filled (this instant), or damaged by a killed writer: its age tells them apart.
        try:
            return time.time() - path.stat().st_mtime > STALE_WRITE_SECONDS
        except FileNotFoundError:
            return True
    return holder.get("host") == socket.gethostname() and not _process_exists(int(holder.get("pid", 0)))


def merge_summaries(summaries: list[dict]) -> dict:
    """One job summary from each rank's `extract_features` summary (with its "frames" and "seconds")."""
    per_rank = [
        {
            "rank": rank,
            "done": len(summary["done"]),
            "frames": summary["frames"],
            "seconds": round(summary["seconds"], 3),
            "frames_per_second": round(summary["frames"] / summary["seconds"], 2) if summary["seconds"] else None,
        }
        for rank, summary in enumerate(summaries)
    ]
    frames = sum(summary["frames"] for summary in summaries)
    seconds = max((summary["seconds"] for summary in summaries), default=0.0)
    return {
        "world_size": len(summaries),
        "done": [video for summary in summaries for video in summary["done"]],
        "skipped": [
            {"video": video, "reason": summary["skip_reasons"].get(video, "already done")}
            for summary in summaries
            for video in summary["skipped"]
        ],
        "failed": [
            {"video": video, "reason": summary["errors"][video]}
            for summary in summaries
            for video in summary["failed"]
        ],
        "per_rank": per_rank,
        "frames": frames,
        "seconds": round(seconds, 3),
        "frames_per_second": round(frames / seconds, 2) if seconds else None,
    }


def write_summary(output_dir: str | os.PathLike, summary: dict) -> Path:
    path = Path(output_dir) / SUMMARY_NAME
    save_json(path, summary)
    return path

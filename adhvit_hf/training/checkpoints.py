# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Complete checkpoints, and which one a run continues from.

`Trainer._save_checkpoint` (transformers 5.x) writes straight into `checkpoint-N/` and then rotates old
checkpoints, so a job killed mid-save leaves a folder that `get_last_checkpoint` would take. Here a
checkpoint counts only once its marker file, written last and atomically, is there; resuming skips the
rest, and a folder of another model is refused instead of half-loaded.
"""

import contextlib
import json
import logging
import os
import pickle
import shutil
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

from ..utils import atomic_write


logger = logging.getLogger(__name__)

COMPLETE_MARKER = "checkpoint_complete.json"
# Config fields that decide whether a checkpoint's weights fit the model of this run.
ARCHITECTURE_FIELDS = (
    "model_type",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "patch_size",
    "tubelet_size",
    "image_size",
    "num_frames",
    "lh_num_labels",
    "rh_num_labels",
)


class CheckpointError(ValueError):
    """A checkpoint or output folder cannot be used; the message names the folder or file."""


def is_complete_checkpoint(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, COMPLETE_MARKER))


def mark_checkpoint_complete(folder: str, global_step: int) -> None:
    """Flush every file of `folder` to disk, then write the marker that makes it count as complete."""
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as file:
                os.fsync(file.fileno())
    with atomic_write(os.path.join(folder, COMPLETE_MARKER)) as file:
        json.dump({"global_step": global_step}, file)


def checkpoint_step(name: str) -> int | None:
    """N for a folder named `checkpoint-N`, else None."""
    prefix = f"{PREFIX_CHECKPOINT_DIR}-"
    suffix = name[len(prefix) :] if name.startswith(prefix) else ""
    return int(suffix) if suffix.isdigit() else None


def list_checkpoints(output_dir: str) -> tuple[list[str], list[str]]:
    """(complete, incomplete) `checkpoint-N` folders of `output_dir`, each sorted by step."""
    if not os.path.isdir(output_dir):
        return [], []
    folders = sorted(
        (step, os.path.join(output_dir, name))
        for name in os.listdir(output_dir)
        if (step := checkpoint_step(name)) is not None and os.path.isdir(os.path.join(output_dir, name))
    )
    complete = [path for _, path in folders if is_complete_checkpoint(path)]
    incomplete = [path for _, path in folders if not is_complete_checkpoint(path)]
    return complete, incomplete


def foreign_entries(output_dir: str) -> list[str]:
    """What `output_dir` holds besides checkpoints and TensorBoard logs (what a killed first run leaves)."""
    if not os.path.isdir(output_dir):
        return []
    return sorted(
        name
        for name in os.listdir(output_dir)
        if checkpoint_step(name) is None and name != "runs" and not name.startswith("events.out.tfevents")
    )


def check_same_architecture(checkpoint: str, config) -> None:
    """Raise `CheckpointError` when `checkpoint/config.json` describes another model than `config`."""
    path = os.path.join(checkpoint, "config.json")
    try:
        with open(path, encoding="utf-8") as file:
            saved = json.load(file)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path}: cannot read the checkpoint's config ({error})") from None
    for name in ARCHITECTURE_FIELDS:
        ours = getattr(config, name, None)
        if name in saved and ours is not None and saved[name] != ours:
            raise CheckpointError(
                f"{path}: the checkpoint has {name}={saved[name]!r} but this run's model has {name}={ours!r}; "
                "it belongs to another run"
            )


def resolve_resume_checkpoint(args, config=None) -> str | None:
    """The checkpoint this run continues from, or None to start afresh.

    The rule for `args.output_dir` (documented in docs/faults.md):
    - `--resume_from_checkpoint DIR`: DIR, which must be complete and (given `config`) of the same architecture;
    - else `--overwrite_output_dir`: every `checkpoint-N` in output_dir is deleted and the run starts afresh;
    - else a finished run (its `trainer_state.json` is written at the end) is refused: never retrained silently;
    - else without complete checkpoints: an output_dir holding anything but incomplete checkpoints and TensorBoard
      logs is refused (as HF's example scripts do), an empty or new one starts afresh;
    - else with auto-resume (the default): the newest complete checkpoint, if it is of the same architecture;
    - else (`--no_auto_resume`) an output_dir holding complete checkpoints is refused, so two runs never mix.
    Incomplete checkpoints (their save was interrupted) are never taken; each skipped one is logged.
    """
    explicit = args.resume_from_checkpoint
    if explicit:
        if not os.path.isdir(explicit):
            raise CheckpointError(f"--resume_from_checkpoint {explicit}: no such checkpoint folder")
        if not is_complete_checkpoint(explicit):
            raise CheckpointError(
                f"--resume_from_checkpoint {explicit}: incomplete checkpoint (no {COMPLETE_MARKER}: its save was "
                "interrupted); pick an earlier checkpoint"
            )
        if config is not None:
            check_same_architecture(explicit, config)
        return explicit

    complete, incomplete = list_checkpoints(args.output_dir)
    if args.overwrite_output_dir:
        if args.should_save:
            for folder in complete + incomplete:
                logger.warning("--overwrite_output_dir: deleting %s", folder)
                shutil.rmtree(folder)
        return None
    finished = os.path.join(args.output_dir, TRAINER_STATE_NAME)
    if os.path.isfile(finished):
        raise CheckpointError(
            f"--output_dir {args.output_dir} holds a finished run ({finished}): evaluate it with --eval --resume "
            f"{args.output_dir}, train it again with --overwrite_output_dir, or choose another --output_dir"
        )
    for folder in incomplete:
        logger.warning("skipping incomplete checkpoint %s (its save was interrupted)", folder)
    if not complete:
        others = foreign_entries(args.output_dir)
        if others:
            listed = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise CheckpointError(
                f"--output_dir {args.output_dir} is not empty ({listed}) and holds no checkpoint to resume: choose "
                "another --output_dir, or --overwrite_output_dir to write into it anyway"
            )
        return None
    if not args.auto_resume:
        raise CheckpointError(
            f"--output_dir {args.output_dir} holds checkpoints of an earlier run "
            f"({', '.join(os.path.basename(c) for c in complete)}): resume it (drop --no_auto_resume), "
            "start afresh with --overwrite_output_dir (deletes them), or choose another --output_dir"
        )
    newest = complete[-1]
    if config is not None:
        try:
            check_same_architecture(newest, config)
        except CheckpointError as error:
            raise CheckpointError(
                f"{error}: choose another --output_dir, or --overwrite_output_dir to delete its checkpoints"
            ) from None
    logger.warning("resuming from %s (--overwrite_output_dir starts afresh instead)", newest)
    return newest


def schedule_changes(checkpoint: str, args) -> str | None:
    """One line naming what this run changes of the schedule the checkpoint was trained on, and what that means;
    None when nothing changed. transformers only warns generically about a changed batch size."""
    try:
        saved = json.loads(Path(checkpoint, TRAINER_STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    changes = []
    if saved.get("train_batch_size") not in (None, args.per_device_train_batch_size):
        changes.append(f"--batch_size {saved['train_batch_size']} then, {args.per_device_train_batch_size} now")
    if args.max_steps > 0 and saved.get("max_steps") not in (None, args.max_steps):
        changes.append(f"--max_steps {saved['max_steps']} then, {args.max_steps} now")
    if not changes:
        return None
    return (
        f"resuming {checkpoint} with another schedule ({'; '.join(changes)}): from step {saved.get('global_step')} "
        "on, the epoch length, learning-rate and weight-decay schedules, hand phases and data order follow the new "
        "values, so the result is neither the interrupted run nor a fresh run with them; resume with the old values "
        "to continue that run exactly"
    )


def best_checkpoint(output_dir: str, state) -> str | None:
    """The best checkpoint's folder in `output_dir`, from its step: stored paths break when the folder moves."""
    if state.best_global_step:
        return os.path.join(output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.best_global_step}")
    return state.best_model_checkpoint


@contextlib.contextmanager
def refuse_code_pickles(checkpoint: str):
    """Turns `torch.load(weights_only=True)`'s refusal of a pickle that would run code into a `CheckpointError`."""
    try:
        yield
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{checkpoint}: refused to load, a file holds Python objects that would run code when unpickled "
            f"(torch.load(weights_only=True) said: {str(error).splitlines()[0]})"
        ) from None


def is_unmarked_checkpoint(folder: str) -> bool:
    """A `checkpoint-N` folder without its completion marker (being saved, or its save was killed)."""
    return os.path.basename(folder).startswith(PREFIX_CHECKPOINT_DIR) and not is_complete_checkpoint(folder)


class CompleteCheckpointMixin:
    """Put before `Trainer` in a subclass's bases: each checkpoint gets its marker before old ones are rotated.

    A killed save leaves a folder without the marker; `resolve_resume_checkpoint` skips it, and the next save
    of the same step replaces it instead of writing over its stale files. `Trainer._save_checkpoint` asks for the Hub
    push before the EMA file and the marker exist: `HubPushMixin` holds it back (`marks_complete_checkpoints`) and it
    goes once the checkpoint is marked.
    """

    marks_complete_checkpoints = True
    deferred_push: str | None = None

    def _save_checkpoint(self, model, trial) -> None:
        run_dir = self._get_output_dir(trial=trial)
        folder = os.path.join(run_dir, f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
        if self.args.should_save and os.path.isdir(folder) and not is_complete_checkpoint(folder):
            shutil.rmtree(folder)
        # The other ranks write their RNG files into the same folder: not before it has been cleared.
        self.accelerator.wait_for_everyone()
        # Rotation is held back until the new checkpoint is marked: a kill in between must not leave
        # the old checkpoints deleted and the new one unmarked.
        limit, self.args.save_total_limit = self.args.save_total_limit, None
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self.args.save_total_limit = limit
        self.accelerator.wait_for_everyone()
        # Callbacks with state of their own (the weight EMA) add it before the checkpoint counts as complete; every
        # rank takes part (under FSDP2 the state is sharded), the writing rank writes.
        for callback in self.callback_handler.callbacks:
            if hasattr(callback, "save_to_checkpoint"):
                callback.save_to_checkpoint(folder, self.model, self.args.should_save)
        if self.args.should_save:
            mark_checkpoint_complete(folder, self.state.global_step)
        if self.deferred_push is not None:
            pending, self.deferred_push = self.deferred_push, None
            self._push_from_checkpoint(pending)
        if self.args.should_save:
            # Stale folders of killed saves must not count towards save_total_limit and push out a complete one.
            for stale in list_checkpoints(run_dir)[1]:
                shutil.rmtree(stale)
            rotate_checkpoints(
                output_dir=run_dir,
                save_total_limit=limit,
                best_model_checkpoint=best_checkpoint(run_dir, self.state),
                use_mtime=True,
            )


class BestCheckpointPath(TrainerCallback):
    """A resumed run's `state.best_model_checkpoint` is the path where the run was saved (HF drops it when that path is
    gone, e.g. the folder was moved or copied); at the start of training it becomes the folder of the best step here.
    """

    def on_train_begin(self, args, state, control, **kwargs):
        best = best_checkpoint(args.output_dir, state)
        if best is not None and os.path.isdir(best):
            state.best_model_checkpoint = best

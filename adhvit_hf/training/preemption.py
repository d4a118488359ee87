# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Preemption: SIGTERM or SIGINT saves a checkpoint at the end of the current step and stops training.

Cluster schedulers send SIGTERM some time before they kill a job; Ctrl-C sends SIGINT. The handler
only sets a flag: the save happens at the next optimizer-step end, where the Trainer's state is
consistent. A second signal restores the default handler's behaviour and stops at once.
"""

import logging
import signal

import torch
import torch.distributed as dist
from transformers import TrainerCallback


logger = logging.getLogger(__name__)

PREEMPTION_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class PreemptionCallback(TrainerCallback):
    """Turns SIGTERM/SIGINT during `Trainer.train()` into "save a checkpoint now, then stop".

    After training, `signal_name` is the name of the signal received (None if none) and `stopped_at_step`
    the step whose checkpoint was saved. Handlers are installed in `on_train_begin` (main thread only) and the
    previous ones restored in `on_train_end`.
    """

    def __init__(self, signals=PREEMPTION_SIGNALS):
        self.signals = tuple(signals)
        self.signal_name: str | None = None
        self.stopped_at_step: int | None = None
        self._previous_handlers = {}
        self._group = None
        self._save_total_limit = None

    def _handle(self, signum, frame) -> None:
        if self.signal_name is not None:
            # The second signal: the user does not want to wait for the checkpoint.
            self.restore_handlers()
            signal.raise_signal(signum)
            return
        self.signal_name = signal.Signals(signum).name
        logger.warning(
            "%s received: saving a checkpoint at the end of this step, then stopping (send it again to stop at once)",
            self.signal_name,
        )

    def restore_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers = {}

    def _stop_requested(self, args) -> bool:
        requested = self.signal_name is not None
        if self._group is not None:
            # A signal may reach the ranks at different steps; all must stop at the same one or DDP hangs.
            # The flag travels on the CPU (a gloo group), so asking costs no GPU sync per step.
            flag = torch.tensor(int(requested))
            dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self._group)
            requested = bool(flag.item())
        return requested

    def on_train_begin(self, args, state, control, **kwargs):
        self.signal_name, self.stopped_at_step = None, None
        distributed = args.world_size > 1 and dist.is_available() and dist.is_initialized()
        self._group = dist.new_group(backend="gloo") if distributed else None
        try:
            self._previous_handlers = {s: signal.signal(s, self._handle) for s in self.signals}
        except ValueError:  # not the main thread: signals cannot be caught here
            logger.warning("training runs outside the main thread: SIGTERM/SIGINT will not save a checkpoint")

    def on_step_end(self, args, state, control, **kwargs):
        if self._stop_requested(args):
            if self.signal_name is None:
                self.signal_name = "a signal on another rank"
            control.should_evaluate = False
            control.should_save = True
            control.should_training_stop = True
            self.stopped_at_step = state.global_step
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        # The Trainer ends the epoch after a stop too, and its flow callback then asks for the epoch's evaluation and
        # save: the signal's checkpoint of this step is already written, and waiting for an evaluation is what the
        # user who pressed Ctrl-C does not want (nor may its save rotate that checkpoint away).
        # With save_total_limit 1, Trainer.train() ends by deleting every checkpoint but the best one: the one just
        # saved to resume from would go whenever the last evaluation did not improve. The limit is lifted from here
        # (no save follows) until on_train_end, which runs after that deletion.
        if self.stopped_at_step is not None:
            control.should_evaluate = False
            control.should_save = False
            self._save_total_limit, args.save_total_limit = args.save_total_limit, None
        return control

    def on_train_end(self, args, state, control, **kwargs):
        self.restore_handlers()
        if self._save_total_limit is not None:
            args.save_total_limit, self._save_total_limit = self._save_total_limit, None


def resume_message(signal_name: str, output_dir: str, step: int, auto_resume: bool, overwrite: bool = False) -> str:
    """What to tell the user after a preempted run: where its checkpoint is and the command that resumes it.

    With `--overwrite_output_dir` (configs/demo.json has it) the same command would delete that checkpoint and
    start afresh, so the advice is the explicit resume, which takes precedence over it."""
    checkpoint = f"{output_dir}/checkpoint-{step}"
    if overwrite:
        rerun = (
            f"rerun the same command with --resume_from_checkpoint {checkpoint} added (without it, "
            "--overwrite_output_dir would delete this checkpoint and start afresh)"
        )
    elif auto_resume:
        rerun = (
            "rerun the same command (auto-resume takes the newest complete checkpoint), or add "
            f"--resume_from_checkpoint {checkpoint}"
        )
    else:
        rerun = f"rerun the same command without --no_auto_resume, or add --resume_from_checkpoint {checkpoint}"
    return f"training stopped by {signal_name} at step {step}; checkpoint saved in {checkpoint}. To resume, {rerun}"

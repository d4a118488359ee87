# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""`AlternatingTrainer`: the HF `Trainer` with ADH-ViT's alternating dual-hand training.

- Training: `training_step` runs only the head of the hand the schedule picks for the current
  optimizer step; the other head never enters the graph, so its gradient stays None and AdamW
  neither moves nor decays it (bit-identical while idle).
- Data: batches come from `AlternatingBatchSampler`, which follows the same schedule.
- Optimisation: AdamW over layer-wise LR decay groups, the original's warmup + cosine schedules of the LR and the
  weight decay, per optimizer step (`--original_schedule`: its epochs and schedule index too).
- Evaluation: each hand's data through its own head, views averaged (mean of softmax), top-1,
  top-5 and mean class accuracy per hand and `mean_top1` over the hands.
"""

import logging
import math
import os
import time
from functools import partial
from pathlib import Path

import evaluate
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from transformers import ProgressCallback, Trainer, TrainerCallback
from transformers.trainer_utils import EvalPrediction, PredictionOutput, seed_worker, speed_metrics

from ..configuration_adhvit import HAND_NAMES, HANDS, IGNORE_INDEX
from ..modeling_adhvit import hand_cross_entropy
from ..pipeline_adhvit import check_model
from .alternating_data import AlternatingBatchSampler
from .camera_evaluation import camera_metrics, camera_predictions
from .checkpoints import (
    BestCheckpointPath,
    CheckpointError,
    CompleteCheckpointMixin,
    refuse_code_pickles,
    schedule_changes,
)
from .ema import ModelEmaCallback
from .fsdp import Fsdp2TrainerMixin
from .hub_push import HubPushMixin
from .optim import CosineSchedule, CosineScheduler, create_adamw
from .preemption import PreemptionCallback
from .schedule import original_epoch


logger = logging.getLogger(__name__)

METRIC_PATH = str(Path(__file__).with_name("metrics") / "action_accuracy.py")


def labels_of_the_step(inputs: dict, hand: str) -> dict:
    """`inputs` with only `hand`'s labels: a flipped clip (--flip swap_hands) may carry the idle hand's label, which
    has no head to train now; when every clip went to the idle hand, `hand` gets all-ignored labels (a loss of 0)."""
    inputs = {key: value for key, value in inputs.items() if key != f"{'rh' if hand == 'lh' else 'lh'}_labels"}
    if f"{hand}_labels" not in inputs:
        inputs[f"{hand}_labels"] = torch.full((len(inputs["pixel_values"]),), IGNORE_INDEX, dtype=torch.long)
    return inputs


class AlternatingTrainer(Fsdp2TrainerMixin, CompleteCheckpointMixin, HubPushMixin, Trainer):
    """A `Trainer` over `{"lh": ..., "rh": ...}` datasets that alternates the trained head.

    `train_dataset` is an `AlternatingClipDataset`; `eval_dataset` a dict of per-hand evaluation
    datasets whose items hold all views of one video. `args` is `AlternatingTrainingArguments`.
    Saved folders and Hub pushes carry the remote code and the ADH-ViT model card (`HubPushMixin`); a checkpoint
    counts as complete only once its marker is written (`CompleteCheckpointMixin`); `--fsdp` (version 2) shards it
    with FSDP2, each hand head its own shard group (`Fsdp2TrainerMixin`). SIGTERM/SIGINT save a checkpoint
    and stop (`self.preemption`); `--model_ema` keeps a weight average (`self.ema`). `adhvit_hf.training.build_trainer`
    builds one from the argument dataclasses.

    Besides `Trainer`'s arguments: `resume_checkpoint`, the checkpoint `train()` continues from when given none
    (`build_trainer` sets it from the output_dir rule); `test_dataset`, each hand's test set; `device_augmentation`
    (--device_augmentation), the `DeviceAugmentation` that turns decoded uint8 batches into training batches;
    `model_card_kwargs`, the model card's fields (`HubPushMixin`).
    """

    def __init__(
        self,
        *args,
        resume_checkpoint: str | None = None,
        test_dataset: dict | None = None,
        device_augmentation=None,
        model_card_kwargs: dict | None = None,
        cameras: list[str] | None = None,
        camera_fusion: str = "mean",
        camera_models: list | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.resume_checkpoint = resume_checkpoint
        self.test_dataset = test_dataset
        self.device_augmentation = device_augmentation
        if model_card_kwargs is not None:
            self.model_card_kwargs = model_card_kwargs
        self.preemption = PreemptionCallback()
        self.add_callback(self.preemption)
        self.ema = ModelEmaCallback(self.args.model_ema_decay) if self.args.model_ema else None
        if self.ema is not None:
            self.add_callback(self.ema)
        if self.args.save_ckpt_freq:
            self.add_callback(EpochSaveFrequency(self.args.save_ckpt_freq))
        self.batch_sampler = self._build_batch_sampler()
        self.schedule = self.batch_sampler.schedule
        self.accuracy_metric = evaluate.load(METRIC_PATH)
        self.replaced_videos: list[str] = []
        self.add_callback(ReplacedVideoReport(self.replaced_videos))
        self.add_callback(SamplerEpochSetter(self.batch_sampler))
        self.add_callback(SaveNewBest())
        self.add_callback(BestCheckpointPath())
        # Per hand since the last log: summed loss, correct clips, counted clips, micro-batches. Kept on the
        # device so the training loop never waits for the host before a logging step.
        self._hand_stats = {h: torch.zeros(4, device=self.args.device) for h in HANDS}
        self._last_hand = None
        # Synchronised cameras (--cameras, --camera_fusion, --camera_models; see camera_evaluation).
        self.cameras, self.camera_fusion, self.camera_models = cameras, camera_fusion, camera_models

    # ---- data ----

    def _build_batch_sampler(self) -> AlternatingBatchSampler:
        args = self.args
        hand_datasets = self.train_dataset.hand_datasets
        sizes = len(hand_datasets["lh"]), len(hand_datasets["rh"])
        replicas = max(1, args.world_size)
        # The original counts its epoch on the LH loader, its schedules on the larger hand, its phases in micro-batches.
        self.original_epoch = (
            original_epoch(*sizes, args.train_batch_size, args.gradient_accumulation_steps, replicas)
            if args.original_schedule
            else None
        )
        return AlternatingBatchSampler(
            *sizes,
            batch_size=args.train_batch_size,
            strategy=args.alternation_strategy,
            alternation_steps=args.alternation_steps
            // (args.gradient_accumulation_steps if args.original_schedule else 1),
            gradient_accumulation_steps=args.gradient_accumulation_steps,
            num_replicas=replicas,
            rank=args.process_index,
            seed=args.data_seed if args.data_seed is not None else args.seed,
            original_epoch=self.original_epoch.steps if self.original_epoch else None,
        )

    @property
    def steps_per_epoch(self) -> int:
        return self.schedule.steps_per_epoch

    def get_train_dataloader(self) -> DataLoader:
        """HF's training DataLoader options (`--dataloader_*`, its worker seeding) over the alternating batch sampler."""
        args = self.args
        workers = args.dataloader_num_workers
        dataloader = DataLoader(
            self.train_dataset,
            batch_sampler=self.batch_sampler,
            collate_fn=self.data_collator,
            num_workers=workers,
            pin_memory=args.dataloader_pin_memory,
            persistent_workers=args.dataloader_persistent_workers and workers > 0,
            prefetch_factor=args.dataloader_prefetch_factor if workers > 0 else None,
            multiprocessing_context=args.dataloader_multiprocessing_context if workers > 0 else None,
            in_order=args.dataloader_in_order,
            worker_init_fn=partial(seed_worker, num_workers=workers, rank=args.process_index),
        )
        dataloader = self.accelerator.prepare(dataloader)
        # The batch sampler is already rank-aware (one DistributedSampler per hand); accelerate's
        # BatchSamplerShard would shard it a second time, so make that wrapper a passthrough.
        shard = getattr(dataloader, "batch_sampler", None)
        if shard is not None and getattr(shard, "batch_sampler", None) is self.batch_sampler:
            shard.num_processes, shard.process_index = 1, 0
        return dataloader

    # ---- training ----

    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs):
        """`Trainer.train`; without `resume_from_checkpoint` it continues from `self.resume_checkpoint`."""
        checkpoint = self.resume_checkpoint if resume_from_checkpoint is None else resume_from_checkpoint
        if self.ema is not None:
            self.ema.resume_from = checkpoint if isinstance(checkpoint, str) else None
        logger.info("alternating training (%s): %s", self.args.alternation_strategy, self.schedule.describe())
        untrained = self._hands_the_run_never_trains()
        if untrained:
            logger.warning(
                "this run's %d optimizer steps never reach a %s phase (--alternation_steps %d, --alternation_strategy "
                "%s): the %s head stays untrained; lower --alternation_steps or train longer",
                self._total_steps(),
                HAND_NAMES[untrained[0]],
                self.args.alternation_steps,
                self.args.alternation_strategy,
                HAND_NAMES[untrained[0]],
            )
        changed = schedule_changes(checkpoint, self.args) if isinstance(checkpoint, str) else None
        if changed:
            logger.warning(changed)
        precision = getattr(self.args, "precision", None)  # plain TrainingArguments do not choose one
        if precision is not None:
            logger.info("precision: %s", precision.describe())
        try:
            # A checkpoint whose optimizer or RNG file is a code-running pickle fails in one line naming it.
            with refuse_code_pickles(checkpoint if isinstance(checkpoint, str) else self.args.output_dir):
                return super().train(resume_from_checkpoint=checkpoint, **kwargs)
        finally:
            # on_train_end is not reached when training raises: the signal handlers must not outlive training.
            self.preemption.restore_handlers()

    def _total_steps(self) -> int:
        if self.args.max_steps > 0:
            return self.args.max_steps
        return math.ceil(self.args.num_train_epochs * self.steps_per_epoch)

    def _hands_the_run_never_trains(self) -> list[str]:
        """The hands no optimizer step of the whole run trains (a phase longer than the run)."""
        if self.schedule.joint:
            return []
        trained = {self.schedule.hand_at(step) for step in range(min(self._total_steps(), 1_000_000))}
        return [hand for hand in HANDS if hand not in trained]

    def training_step(self, model, inputs, num_items_in_batch=None):
        if self.device_augmentation is not None:
            inputs = self.device_augmentation(inputs, self.args.device)
        hand = self.schedule.hand_at(self.state.global_step)
        batch_hand = inputs.pop("hand")
        if batch_hand != hand:
            raise RuntimeError(
                f"step {self.state.global_step}: the batch comes from the {batch_hand} stream but the schedule "
                f"trains {hand}; the data and the schedule must agree"
            )
        self.replaced_videos.extend(inputs.pop("replaced_videos", []))
        if hand != self._last_hand:
            # Hundreds of switches per run: the console gets one summary line at the start (on_train_begin).
            logger.debug("step %d: training the %s head", self.state.global_step, hand or "lh and rh")
            self._last_hand = hand
        if hand is not None:
            inputs = labels_of_the_step(inputs, hand)
        return super().training_step(model, {**inputs, "hand": hand}, num_items_in_batch)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        if model.training:
            self._track_hand_stats(inputs, outputs)
        return (loss, outputs) if return_outputs else loss

    @torch.no_grad()
    def _track_hand_stats(self, inputs, outputs) -> None:
        """Training loss and top-1 per hand; with mixup the target is the soft label's largest class."""
        labelled = [
            h for h in HANDS if inputs.get(f"{h}_labels") is not None and outputs.get(f"{h}_logits") is not None
        ]
        for hand in labelled:
            labels, logits = inputs[f"{hand}_labels"], outputs[f"{hand}_logits"]
            valid, target = (
                (labels.sum(-1) > 0, labels.argmax(-1)) if labels.is_floating_point() else (labels != -100, labels)
            )
            correct = ((logits.argmax(-1) == target) & valid).sum()
            # With one hand (every alternating step) the model's loss is that hand's: no second cross entropy.
            loss = outputs.loss.detach() if len(labelled) == 1 else hand_cross_entropy(logits, labels, hand)
            self._hand_stats[hand] += torch.stack([loss, correct.float(), valid.sum().float(), torch.ones_like(loss)])

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and "eval_loss" not in logs:
            for hand in HANDS:
                loss_sum, correct, count, batches = self._hand_stats[hand].tolist()
                if batches:
                    logs[f"{hand}_loss"] = round(loss_sum / batches, 4)
                    logs[f"{hand}_train_top1"] = round(100.0 * correct / max(count, 1.0), 2)
                self._hand_stats[hand].zero_()
            current = self.schedule.hand_at(max(0, self.state.global_step - 1))
            logs["active_hand"] = -1 if current is None else HANDS.index(current)
        if "learning_rate" in logs and self.optimizer is not None:
            # As the original logs them: the largest group LR (the heads', layer scale 1) and the decayed groups'
            # weight decay, both of the next optimizer step.
            groups = self.optimizer.param_groups
            logs["learning_rate"] = max(group["lr"] for group in groups)
            logs["weight_decay"] = max(group["weight_decay"] for group in groups)
        super().log(logs, start_time)

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            args = self.args
            self.optimizer = create_adamw(
                model or self.model,
                lr=args.learning_rate,
                weight_decay=args.weight_decay,
                layer_decay=args.layer_decay,
                betas=(args.adam_beta1, args.adam_beta2),
                eps=args.adam_epsilon,
                fused=getattr(args.optim, "value", args.optim) == "adamw_torch_fused",
            )
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        """Warmup + cosine of the LR and the weight decay (`--weight_decay_end`), set at every optimizer step.

        With `--original_schedule` both are the original's: built over its schedule's steps per epoch (the larger
        hand's), read at epoch x that + step, warmup from 0. Otherwise over this run's own steps, warmup from
        `--warmup_lr`.
        """
        if self.lr_scheduler is None:
            args = self.args
            epoch = self.original_epoch
            steps_per_epoch = epoch.schedule_steps if epoch else self.steps_per_epoch
            total = math.ceil(args.num_train_epochs * epoch.schedule_steps) if epoch else num_training_steps
            warmup = args.warmup_steps or round(args.warmup_epochs * steps_per_epoch)
            if isinstance(warmup, float) and warmup < 1:  # HF's warmup_steps may be a ratio
                warmup = round(warmup * total)
            if warmup > total:
                logger.warning(
                    "a warmup of %d steps is longer than the run's %d: the LR warms up over the whole run "
                    "(lower --warmup_epochs or --warmup_steps)",
                    warmup,
                    total,
                )
                warmup = total
            lr = CosineSchedule(args.learning_rate, args.min_lr, total, int(warmup), 0.0 if epoch else args.warmup_lr)
            weight_decay_end = args.weight_decay if args.weight_decay_end is None else args.weight_decay_end
            weight_decay = CosineSchedule(args.weight_decay, weight_decay_end, total)
            self.lr_scheduler = CosineScheduler(
                optimizer or self.optimizer, lr, weight_decay, schedule_step=epoch.schedule_step if epoch else int
            )
        return self.lr_scheduler

    def load_checkpoint_weights(self, checkpoint: str) -> None:
        """Model weights of a checkpoint or saved-model folder (the original's `--eval --resume CKPT`)."""
        if not os.path.isdir(checkpoint):
            raise CheckpointError(
                f"--resume {checkpoint}: not a checkpoint folder; an original .pth checkpoint converts with "
                "adhvit-convert, a VideoMAE V2 backbone loads with --finetune"
            )
        # Trainer loads non-strictly; an evaluation must not score heads or layers the checkpoint never held.
        check_model(self.model, checkpoint)
        self._load_from_checkpoint(checkpoint)

    # ---- evaluation ----

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """All views of each video through the hand's head; returns the mean of their softmax."""
        inputs = self._prepare_inputs(inputs)
        hand = inputs["hand"]
        labels = inputs[f"{hand}_labels"]
        pixel_values = inputs["pixel_values"]
        if pixel_values.dtype == torch.uint8:
            # Views stay uint8 (a quarter of float32) through decoding, collation and the copy to the device.
            pixel_values = self.processing_class.normalize(pixel_values, next(model.parameters()).dtype)
        batch, views = pixel_values.shape[:2]
        with torch.no_grad(), self.autocast_smart_context_manager():
            if pixel_values.ndim == 7:  # (B, cameras, views, ...): fused first, then each camera (camera_evaluation)
                probs = camera_predictions(model, pixel_values, hand, self.camera_fusion, self.camera_models)
            else:
                logits = model(pixel_values=pixel_values.flatten(0, 1), hand=hand)[f"{hand}_logits"]
                probs = logits.float().softmax(-1).view(batch, views, -1).mean(1)
        fused = probs[:, 0] if probs.ndim == 3 else probs
        loss = F.nll_loss(fused.clamp_min(1e-12).log(), labels)
        return loss.detach(), probs, labels

    def _hand_metrics(self, prediction: EvalPrediction) -> dict[str, float]:
        if self.cameras:
            return camera_metrics(
                self.accuracy_metric.compute, prediction.predictions, prediction.label_ids, self.cameras
            )
        return self.accuracy_metric.compute(predictions=prediction.predictions, references=prediction.label_ids)

    def evaluate_hands(
        self, datasets: dict, metric_key_prefix: str = "eval"
    ) -> tuple[dict, dict[str, PredictionOutput]]:
        """Per-hand evaluation loops; metrics `{prefix}_{hand}_top1` ... and `{prefix}_mean_top1`."""
        metrics, outputs = {}, {}
        compute_metrics, self.compute_metrics = self.compute_metrics, self._hand_metrics
        try:
            for hand, dataset in datasets.items():
                dataloader = self.get_eval_dataloader(hand) if dataset is None else self.get_test_dataloader(dataset)
                output = self.evaluation_loop(
                    dataloader,
                    description=f"Evaluation of the {hand} head",
                    prediction_loss_only=False,
                    metric_key_prefix=f"{metric_key_prefix}_{hand}",
                )
                self._close_prediction_bar()
                metrics.update(output.metrics)
                outputs[hand] = output
        finally:
            self.compute_metrics = compute_metrics
        hands = list(datasets)
        metrics[f"{metric_key_prefix}_mean_top1"] = sum(metrics[f"{metric_key_prefix}_{h}_top1"] for h in hands) / len(
            hands
        )
        metrics[f"{metric_key_prefix}_loss"] = sum(metrics[f"{metric_key_prefix}_{h}_loss"] for h in hands) / len(
            hands
        )
        return metrics, outputs

    def _close_prediction_bar(self) -> None:
        """One progress bar per hand: HF's opens with the first hand's batch count and closes only in on_evaluate."""
        for callback in self.callback_handler.callbacks:
            if isinstance(callback, ProgressCallback) and callback.prediction_bar is not None:
                callback.prediction_bar.close()
                callback.prediction_bar = None

    def metrics_at_current_step(self, metric_key_prefix: str = "eval") -> dict[str, float] | None:
        """The logged evaluation of the current weights, if one ran at this step (the last epoch's)."""
        for logs in reversed(self.state.log_history):
            if logs.get("step") == self.state.global_step and f"{metric_key_prefix}_mean_top1" in logs:
                return {k: v for k, v in logs.items() if k.startswith(f"{metric_key_prefix}_")}
        return None

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        try:
            return self._evaluate_hands_and_log(eval_dataset, metric_key_prefix)
        except Exception:
            # HF evaluates before it saves: an evaluation error during training must not lose the epoch just trained.
            if self.is_in_train and self.args.save_strategy != "no":
                logger.error("evaluation at step %d failed; saving the trained weights first", self.state.global_step)
                self._save_checkpoint(self.model, trial=None)
            raise

    def _evaluate_hands_and_log(self, eval_dataset, metric_key_prefix: str) -> dict[str, float]:
        """`Trainer.evaluate` over both hands: metrics logged, `on_evaluate` called, memory metrics added."""
        self._memory_tracker.start()
        start_time = time.time()
        datasets = eval_dataset if eval_dataset is not None else dict.fromkeys(self.eval_dataset)
        metrics, outputs = self.evaluate_hands(datasets, metric_key_prefix)
        num_samples = sum(o.num_samples for o in outputs.values())
        metrics.update(
            speed_metrics(
                metric_key_prefix,
                start_time,
                num_samples=num_samples,
                num_steps=math.ceil(num_samples / (self.args.eval_batch_size * self.args.world_size)),
            )
        )
        self.log(metrics)
        if self.is_world_process_zero():
            logger.info(format_hand_summary(metrics, metric_key_prefix, self.state.global_step))
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        self._memory_tracker.stop_and_update_metrics(metrics)
        return metrics


class SaveNewBest(TrainerCallback):
    """The best weights are always on disk, whatever --save_ckpt_freq skips (the original writes checkpoint-best
    whenever it improves).

    `on_evaluate` comes before HF compares the metric with `state.best_metric` and decides on saving, so the same
    comparison here asks for the save.
    """

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if args.save_strategy == "no" or args.metric_for_best_model is None or not metrics:
            return control
        name = args.metric_for_best_model
        value = metrics.get(name if name.startswith("eval_") else f"eval_{name}")
        if value is not None and (
            state.best_metric is None
            or (value > state.best_metric if args.greater_is_better else value < state.best_metric)
        ):
            control.should_save = True
        return control


class EpochSaveFrequency(TrainerCallback):
    """`--save_ckpt_freq N`: of the epoch-end saves keep every N-th epoch's and the last one's (the original's rule).

    Runs after HF's flow callback, which asks for a save at every epoch end.
    """

    def __init__(self, every: int):
        self.every = every

    def on_epoch_end(self, args, state, control, **kwargs):
        epoch = round(state.epoch)
        if control.should_save and epoch % self.every and state.global_step < state.max_steps:
            control.should_save = False
        return control


class SamplerEpochSetter(TrainerCallback):
    """Tells the alternating batch sampler which epoch starts.

    The Trainer's own `set_epoch` does not reach it through accelerate's wrappers once a resumed DDP run
    skips batches (`SkipBatchSampler` around `BatchSamplerShard`); without this a resumed epoch would replay
    epoch 0's keys.
    """

    def __init__(self, batch_sampler: AlternatingBatchSampler):
        self.batch_sampler = batch_sampler

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.batch_sampler.set_epoch(state.global_step // self.batch_sampler.schedule.steps_per_epoch)


class ReplacedVideoReport(TrainerCallback):
    """At the end of each epoch, how many unreadable videos training replaced, and the first few paths."""

    def __init__(self, replaced_videos: list[str]):
        self.replaced_videos = replaced_videos
        self.reported = 0

    def on_epoch_end(self, args, state, control, **kwargs):
        new = self.replaced_videos[self.reported :]
        self.reported = len(self.replaced_videos)
        if new:
            unique = sorted(set(new))
            logger.warning(
                "epoch %d: %d clips came from unreadable videos and were replaced by other clips (%d videos: %s%s)",
                round(state.epoch),
                len(new),
                len(unique),
                ", ".join(unique[:5]),
                ", ..." if len(unique) > 5 else "",
            )


def best_epochs(log_history: list[dict], prefix: str = "eval") -> dict[str, float]:
    """The best top-1 of each hand and of their mean over a run's evaluations, and the epoch it came at."""
    best = {}
    for name in (*HANDS, "mean"):
        scored = [logs for logs in log_history if f"{prefix}_{name}_top1" in logs]
        if scored:
            top = max(scored, key=lambda logs: logs[f"{prefix}_{name}_top1"])  # the first on ties
            best[f"best_{name}_top1"], best[f"best_{name}_epoch"] = top[f"{prefix}_{name}_top1"], top.get("epoch")
    return best


def format_hand_summary(metrics: dict[str, float], prefix: str, step: int) -> str:
    """A readable per-hand table of one evaluation."""
    lines = [f"{prefix} at step {step}:", f"  {'hand':<6}{'top1':>8}{'top5':>8}{'mean cls':>10}"]
    for hand in HANDS:
        if f"{prefix}_{hand}_top1" in metrics:
            lines.append(
                f"  {hand:<6}{metrics[f'{prefix}_{hand}_top1']:>8.2f}{metrics[f'{prefix}_{hand}_top5']:>8.2f}"
                f"{metrics[f'{prefix}_{hand}_mean_class_acc']:>10.2f}"
            )
    lines.append(f"  mean top1 {metrics[f'{prefix}_mean_top1']:.2f}")
    return "\n".join(lines)

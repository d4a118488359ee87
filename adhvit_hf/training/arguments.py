# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The argument dataclasses of training (`ModelArguments`, `DataArguments`, `AlternatingTrainingArguments`), which
`run_havid.py` parses with `HfArgumentParser`; the original's flag names are translated by `original_flags`."""

import logging
import os
from dataclasses import dataclass, field

import torch
from transformers import TrainingArguments

from ..configuration_adhvit import CAMERA_FEATURE_FUSIONS, CAMERA_FUSIONS
from ..data.cameras import CAMERA_TRAINING, check_camera_names
from ..data.decoding import BACKEND_HELP, BACKENDS, check_backend
from ..data.transforms import FLIP_POLICIES
from ..precision import Precision, autocast_precision
from .fsdp import check_fsdp_arguments
from .schedule import STRATEGIES


logger = logging.getLogger(__name__)

# `--optim` values: torch's AdamW, fused (the default) or not.
OPTIMIZERS = ("adamw_torch_fused", "adamw_torch")


@dataclass
class ModelArguments:
    """Which model to build or load, and its regularisation."""

    _argument_group_name = "model"  # its title in --help (HfArgumentParser)

    architecture: str = field(
        default="vit_base_patch16_224_alternating",
        metadata={
            "help": "The original's architecture name (vit_{small,base,large,huge,giant}_patch16_224[_alternating]; "
            "original: --model)."
        },
    )
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A saved AdhVit folder or Hub repo to start from (overrides --architecture)."}
    )
    finetune: str | None = field(
        default=None, metadata={"help": "VideoMAE V2 .pth checkpoint or HF VideoMAE folder for the backbone."}
    )
    model_key: str = field(default="model|module", metadata={"help": "Keys that may wrap the --finetune state dict."})
    model_prefix: str = field(default="", metadata={"help": "Prefix to strip from --finetune tensor names."})
    lh_num_labels: int = field(default=75, metadata={"help": "Left-hand classes (original: --lh_num_classes)."})
    rh_num_labels: int = field(default=75, metadata={"help": "Right-hand classes (original: --rh_num_classes)."})
    drop_path_rate: float = field(
        default=0.3, metadata={"help": "Stochastic depth of the last block (original: --drop_path)."}
    )
    head_dropout: float = field(
        default=0.0, metadata={"help": "Dropout before each head (original: --head_drop_rate)."}
    )
    init_scale: float = field(
        default=0.001,
        metadata={"help": "The original's --init_scale, kept in the config; as there, new hand heads do not use it."},
    )
    hidden_dropout_prob: float = field(default=0.0, metadata={"help": "Dropout in the blocks (original: --drop)."})
    attention_probs_dropout_prob: float = field(default=0.0, metadata={"help": "Original: --attn_drop_rate."})
    tubelet_size: int = field(default=2, metadata={"help": "Frames per patch along time (VideoMAE V2: 2)."})
    image_size: int = field(default=224, metadata={"help": "Crop size fed to the model (original: --input_size)."})
    attn_implementation: str = field(default="sdpa", metadata={"help": "sdpa, eager or flex_attention."})
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Config changes for a model trained from scratch, e.g. 'hidden_size=192,num_hidden_layers=4'."
        },
    )
    camera_models: list[str] | None = field(
        default=None,
        metadata={
            "help": "Evaluation only (--eval): one separately trained model per camera, in --cameras order, each "
            "scoring its own camera, fused by --camera_fusion (HA-ViD's protocol: one model per view)."
        },
    )


@dataclass
class DataArguments:
    """Where the clip lists are, and how clips are sampled and augmented (VideoMAE V2's options)."""

    _argument_group_name = "data and augmentation"  # its title in --help (HfArgumentParser)

    lh_data_path: str = field(default=None, metadata={"help": "Folder with the LH train/val[/test]_list_video.txt."})
    rh_data_path: str | None = field(
        default=None, metadata={"help": "Folder with the RH lists (not with --one_stream)."}
    )
    lh_data_root: str | None = field(default=None, metadata={"help": "Root for relative LH video paths."})
    rh_data_root: str | None = field(default=None, metadata={"help": "Root for relative RH video paths."})
    one_stream: bool = field(
        default=False, metadata={"help": "Train both heads on the LH data alone (the original's mode)."}
    )
    skip_missing: bool = field(default=False, metadata={"help": "Drop list lines whose video is missing (counted)."})
    num_frames: int = field(default=16, metadata={"help": "Frames per clip fed to the model."})
    sampling_rate: int = field(default=4, metadata={"help": "Take every N-th frame of the video for a clip."})
    sparse_sample: bool = field(default=False, metadata={"help": "TSN-style segment sampling for training clips."})
    short_side_size: int = field(default=224, metadata={"help": "Evaluation frames are resized to this short side."})
    test_num_segment: int = field(default=10, metadata={"help": "Temporal views per video at evaluation."})
    test_num_crop: int = field(default=3, metadata={"help": "Spatial crops per temporal view at evaluation."})
    multi_view_validation: bool = field(
        default=False,
        metadata={
            "help": "Validate during training on all test_num_segment x test_num_crop views per video instead of one "
            "centred view (the original); the test always uses all views."
        },
    )
    num_sample: int = field(default=2, metadata={"help": "Augmented copies of each decoded clip (repeated aug)."})
    aa: str = field(default="rand-m7-n4-mstd0.5-inc1", metadata={"help": "RandAugment spec; 'none' disables."})
    train_interpolation: str = field(default="bicubic", metadata={"help": "Resize interpolation of training crops."})
    train_crop_scale: list[float] = field(
        default_factory=lambda: [0.08, 1.0],
        metadata={"help": "Area range of the random resized crop (VideoMAE V2's)."},
    )
    reprob: float = field(default=0.25, metadata={"help": "Random erasing probability."})
    remode: str = field(default="pixel", metadata={"help": "Random erasing fill: pixel (noise) or const (zeros)."})
    recount: int = field(default=1, metadata={"help": "Random erasing: regions per clip."})
    mixup: float = field(default=0.8, metadata={"help": "Mixup alpha within each hand; 0 = off."})
    cutmix: float = field(default=1.0, metadata={"help": "CutMix alpha within each hand; 0 = off."})
    cutmix_minmax: list[float] | None = field(
        default=None, metadata={"help": "CutMix box area range (min max); overrides --cutmix."}
    )
    mixup_prob: float = field(default=1.0, metadata={"help": "Probability of mixing a batch."})
    mixup_switch_prob: float = field(default=0.5, metadata={"help": "Probability of CutMix instead of mixup."})
    mixup_mode: str = field(default="batch", metadata={"help": "Only batch: the whole batch shares one mix."})
    smoothing: float = field(default=0.1, metadata={"help": "Label smoothing of the targets."})
    flip: str = field(default="none", metadata={"help": "none | plain | swap_hands (a flip mirrors the hands)."})
    backend: str = field(default="auto", metadata={"help": BACKEND_HELP + ".", "choices": BACKENDS})
    decoder: str | None = field(default=None, metadata={"help": "Deprecated spelling of --backend."})
    device_augmentation: bool = field(
        default=False, metadata={"help": "Augment and mix training clips on the training device; workers only decode."}
    )
    gpu_decoding: bool = field(
        default=False,
        metadata={
            "help": "Decode training clips on the training GPU (torchcodec, NVDEC) and augment them there without a "
            "copy to the host; needs torchcodec, --device_augmentation and --dataloader_num_workers 0."
        },
    )
    data_set: str = field(default="HA-ViD", metadata={"help": "The dataset's name, for the model card."})
    cameras: list[str] | None = field(
        default=None,
        metadata={
            "help": "Synchronised camera names substituted for {camera} in the lists' video paths (e.g. 0 1 2); "
            "every clip is then scored in every camera (README: multi-camera data)."
        },
    )
    camera_training: str = field(
        default="pooled",
        metadata={
            "help": "pooled: each training clip read from one camera drawn from its seed; feature_fusion: all "
            "cameras through the backbone, pooled features fused (--camera_feature_fusion) before the heads."
        },
    )
    camera_feature_fusion: str = field(
        default="mean", metadata={"help": "mean or max: how feature_fusion fuses the cameras' pooled features."}
    )
    camera_fusion: str = field(
        default="mean",
        metadata={
            "help": "Evaluation: mean (of the cameras' probabilities) or logit_sum (HA-ViD's combined view: the "
            "cameras' view-averaged logits summed)."
        },
    )

    def __post_init__(self):
        if self.decoder is not None:
            logger.warning("--decoder is deprecated; use --backend %s (the flag of every command)", self.decoder)
            self.backend, self.decoder = self.decoder, None
        check_backend(self.backend)
        self.cameras = check_camera_names(self.cameras)
        for name, value, choices in (
            ("camera_training", self.camera_training, CAMERA_TRAINING),
            ("camera_feature_fusion", self.camera_feature_fusion, CAMERA_FEATURE_FUSIONS),
            ("camera_fusion", self.camera_fusion, CAMERA_FUSIONS),
        ):
            if value not in choices:
                raise ValueError(f"--{name} must be one of {', '.join(choices)}, got {value!r}")
        if self.camera_training == "feature_fusion" and not self.cameras:
            raise ValueError("--camera_training feature_fusion needs --cameras (the camera names of the lists)")
        if self.lh_data_path is None:
            raise ValueError("--lh_data_path is required: the folder holding train_list_video.txt for the left hand")
        if self.rh_data_path is None and not self.one_stream:
            raise ValueError("--rh_data_path is required unless --one_stream trains both heads on the LH data")
        if self.flip not in FLIP_POLICIES:
            raise ValueError(f"--flip must be none, plain or swap_hands, got {self.flip!r}")
        if self.flip == "plain" and not self.one_stream:
            logger.warning(
                "--flip plain mirrors a left hand into a right one and keeps its label (the original's "
                "flip); --flip swap_hands gives a flipped clip the other hand's head"
            )


@dataclass
class AlternatingTrainingArguments(TrainingArguments):
    """`TrainingArguments` plus alternation and the original's optimisation options."""

    alternation_steps: int = field(default=50, metadata={"help": "Optimizer steps per hand before switching."})
    alternation_strategy: str = field(default="fixed", metadata={"help": f"One of {STRATEGIES}."})
    base_lr: float | None = field(
        default=None, metadata={"help": "The original's --lr: learning rate per 256 clips of global batch."}
    )
    layer_decay: float = field(default=0.9, metadata={"help": "Layer-wise LR decay: block i gets decay^(depth - i)."})
    warmup_lr: float = field(
        default=1e-8, metadata={"help": "Learning rate at the start of warmup (0 with --original_schedule)."}
    )
    min_lr: float = field(default=1e-6, metadata={"help": "Learning rate at the end of the cosine decay."})
    warmup_epochs: float = field(default=5, metadata={"help": "Warmup length in epochs when --warmup_steps is 0."})
    weight_decay: float = field(default=0.1, metadata={"help": "AdamW weight decay (not on norms and biases)."})
    weight_decay_end: float | None = field(
        default=None, metadata={"help": "Weight decay at the end of a cosine from --weight_decay (default: constant)."}
    )
    lr_scheduler_type: str = field(
        default="cosine",
        metadata={
            "help": "Only cosine: the original's warmup + cosine of the LR and the weight decay, per optimizer step."
        },
    )
    optim: str = field(
        default="adamw_torch_fused",
        metadata={"help": f"AdamW over layer-decay groups: {' or '.join(OPTIMIZERS)} (one kernel per group)."},
    )
    original_schedule: bool = field(
        default=False,
        metadata={
            "help": "The original's epoch (its LH loader: floor(N_lh / global batch) optimizer steps), its LR and "
            "weight-decay schedules (indexed by max(N_lh, N_rh) // global batch steps per epoch, warmup from 0) and "
            "its hand phases (restarting with LH each epoch, --alternation_steps in micro-batches). --epochs turns "
            "it on; see docs/original_recipe.md."
        },
    )
    max_grad_norm: float = field(
        default=0.0, metadata={"help": "Gradient clipping norm; 0 = off (original: --clip_grad)."}
    )
    model_ema: bool = field(default=False, metadata={"help": "Keep an exponential moving average of the weights."})
    model_ema_decay: float = field(default=0.9999, metadata={"help": "Decay of the weight average per step."})
    save_ckpt_freq: int | None = field(default=None, metadata={"help": "Save a checkpoint every N epochs."})
    log_dir: str | None = field(default=None, metadata={"help": "TensorBoard folder (default: output_dir/runs)."})
    auto_resume: bool = field(default=True, metadata={"help": "Resume from the newest complete checkpoint."})
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Delete output_dir's checkpoints and start afresh (see docs/faults.md)."}
    )
    remove_unused_columns: bool = field(default=False, metadata={"help": "Kept off: the collator needs every column."})
    label_names: list[str] = field(
        default_factory=lambda: ["lh_labels", "rh_labels"], metadata={"help": "The per-hand label keys of a batch."}
    )
    ddp_find_unused_parameters: bool = field(
        default=True, metadata={"help": "The idle head gets no gradient, so DDP must allow unused parameters."}
    )
    do_train: bool = field(default=True, metadata={"help": "Train (the original's --eval turns it off)."})
    do_eval: bool = field(default=True, metadata={"help": "Evaluate on the validation lists after training."})
    eval_strategy: str = field(
        default="epoch", metadata={"help": "When to evaluate during training: no, steps or epoch."}
    )
    save_strategy: str = field(default="epoch", metadata={"help": "When to save checkpoints: no, steps or epoch."})
    logging_steps: float = field(default=10, metadata={"help": "Log losses every N optimizer steps."})
    metric_for_best_model: str = field(
        default="mean_top1", metadata={"help": "Picks the best checkpoint: the mean of both hands' validation top-1."}
    )
    report_to: None | str | list[str] = field(default="tensorboard", metadata={"help": "Logging integrations."})
    logging_nan_inf_filter: bool = field(
        default=False, metadata={"help": "HF's NaN filter reads the loss on the host every micro-batch (a GPU sync)."}
    )
    auto_bf16: bool = field(
        default=True,
        metadata={"help": "bf16 autocast on GPUs with bf16 and on CPUs with AMX or AVX512-BF16 (docs/benchmark.md)."},
    )
    # Decoding overlaps the model step only in worker processes (benchmarks/data.py: one worker decodes 4 training
    # clips/s of 720p video, where ViT-S 16x112 trains 6.4 clips/s on 2 CPU cores); persistent workers are not
    # forked again each epoch and evaluation (half the data time of a 16-clip demo epoch). Pin memory: HF's default.
    dataloader_num_workers: int = field(
        default=min(4, os.cpu_count() or 1), metadata={"help": "Decoding worker processes (original: --num_workers)."}
    )
    dataloader_persistent_workers: bool = field(
        default=True, metadata={"help": "Keep the decoding workers between epochs (off when there are none)."}
    )

    def __post_init__(self):
        refuse_ignored_training_options(self)
        if self.dataloader_num_workers == 0:
            self.dataloader_persistent_workers = False  # the DataLoader refuses persistent workers without workers
        if not torch.cuda.is_available():
            # Say so explicitly: transformers then forms a gloo group under torchrun (it runs the ranks as
            # separate jobs otherwise) and allows bf16 autocast on the CPU.
            self.use_cpu = True
            self.dataloader_pin_memory = False  # pinning needs an accelerator; torch warns on every loader otherwise
        self.precision = self._choose_precision()
        self.bf16 = self.precision.bf16
        if self.alternation_steps <= 0:
            raise ValueError(
                f"--alternation_steps must be a positive number of optimizer steps, got {self.alternation_steps}"
            )
        if self.alternation_strategy not in STRATEGIES:
            raise ValueError(f"--alternation_strategy must be one of {STRATEGIES}, got {self.alternation_strategy!r}")
        if self.original_schedule and self.alternation_steps % self.gradient_accumulation_steps:
            raise ValueError(
                f"--alternation_steps {self.alternation_steps} is not a multiple of --update_freq "
                f"{self.gradient_accumulation_steps}: the original counts micro-batches, so its switch would split an "
                "optimizer step between the hands, which this package never does"
            )
        if self.enable_jit_checkpoint:
            raise ValueError(
                "--enable_jit_checkpoint is not needed: SIGTERM/SIGINT already save a complete checkpoint at the end "
                "of the step on every rank (adhvit_hf.training.preemption), and a second handler would replace it"
            )
        if self.save_ckpt_freq is not None and self.save_ckpt_freq <= 0:
            raise ValueError(f"--save_ckpt_freq must be a positive number of epochs, got {self.save_ckpt_freq}")
        if self.save_ckpt_freq and self.save_strategy not in ("epoch", "no"):
            raise ValueError(
                f"--save_ckpt_freq counts epochs: it needs --save_strategy epoch, got {self.save_strategy}"
            )
        super().__post_init__()
        check_fsdp_arguments(self)
        self._scale_original_lr()

    def _choose_precision(self) -> Precision:
        """bf16 autocast by `adhvit_hf.precision`'s rule unless `--bf16` or `--fp16` says otherwise; the trainer
        logs the choice and its reason."""
        if self.fp16:
            return Precision(False, "--fp16")
        if self.bf16:
            return Precision(True, "--bf16")
        return autocast_precision("cuda" if torch.cuda.is_available() and not self.use_cpu else "cpu", self.auto_bf16)

    def _scale_original_lr(self) -> None:
        """The original's `--lr` (here `base_lr`), `--min_lr` and `--warmup_lr` are per 256 clips of global batch.

        They become absolute rates once, here; `base_lr` is then cleared so that building the arguments again from
        their fields (`dataclasses.replace`, a saved `training_args`) does not scale them twice.
        """
        if self.base_lr is None:
            return
        global_batch = self.per_device_train_batch_size * self.gradient_accumulation_steps * max(1, self.world_size)
        scale = global_batch / 256
        logger.info(
            "--lr %g per 256 clips at a global batch of %d: learning rate %g",
            self.base_lr,
            global_batch,
            self.base_lr * scale,
        )
        self.learning_rate, self.warmup_lr, self.min_lr = (
            self.base_lr * scale,
            self.warmup_lr * scale,
            self.min_lr * scale,
        )
        self.base_lr = None


def refuse_ignored_training_options(args: TrainingArguments) -> None:
    """HF options `AlternatingTrainer` would otherwise ignore: each refused with what to use instead."""
    # Strings on the command line, HF's enums once `TrainingArguments.__post_init__` ran (`dataclasses.replace`).
    optim, scheduler = (getattr(value, "value", value) for value in (args.optim, args.lr_scheduler_type))
    if optim not in OPTIMIZERS:
        raise ValueError(
            f"--optim {optim}: AlternatingTrainer builds AdamW over layer-wise LR decay groups (--layer_decay); "
            f"use {' or '.join(OPTIMIZERS)}"
        )
    if args.optim_args:
        raise ValueError("--optim_args is not used by AdamW here: set --adam_beta1, --adam_beta2, --adam_epsilon")
    if scheduler != "cosine":
        raise ValueError(
            f"--lr_scheduler_type {scheduler}: the schedule is the original's warmup + cosine of the LR "
            "and the weight decay (--warmup_epochs, --warmup_lr, --min_lr, --weight_decay_end); only cosine is supported"
        )
    if args.lr_scheduler_kwargs:
        raise ValueError(
            "--lr_scheduler_kwargs is not used by the warmup + cosine schedule: set --warmup_epochs, --warmup_lr, "
            "--min_lr, --weight_decay_end"
        )
    if args.label_smoothing_factor:
        raise ValueError(
            f"--label_smoothing_factor {args.label_smoothing_factor}: each hand's loss is the model's; use --smoothing "
            "(the original's label smoothing of each hand's targets)"
        )
    if args.auto_find_batch_size:
        raise ValueError(
            "--auto_find_batch_size: the alternating batch sampler and its schedule are built for one batch size; "
            "give --per_device_train_batch_size (original: --batch_size)"
        )

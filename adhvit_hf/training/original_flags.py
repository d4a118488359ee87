# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The original ADH-ViT's command line (`main.py`/`train.sh`) onto this package's flags.

`translate_original_args` maps the original's flags onto the dataclass fields before `HfArgumentParser` sees them,
keeping the original's meaning (`--lr` is per 256 clips of global batch, `--epochs` counts the original's epochs and
turns on its schedule, `--clip_grad` off by default). docs/original_recipe.md answers every flag.
"""

import logging


logger = logging.getLogger(__name__)

# The original's flags onto ours. A flag taking values keeps them. The ORIGINAL_IGNORED_* flags are accepted for
# the original's command line but have nothing to do here (torchrun and accelerate set up DDP, every
# evaluation is distributed, lists hold videos, not frame folders).
ORIGINAL_FLAGS = {
    "--model": "--architecture",
    "--lr": "--base_lr",
    "--batch_size": "--per_device_train_batch_size",
    "--update_freq": "--gradient_accumulation_steps",
    "--clip_grad": "--max_grad_norm",
    "--opt_eps": "--adam_epsilon",
    "--num_workers": "--dataloader_num_workers",
    "--resume": "--resume_from_checkpoint",
    "--with_checkpoint": "--activation_checkpointing",
    "--input_size": "--image_size",
    "--drop_path": "--drop_path_rate",
    "--head_drop_rate": "--head_dropout",
    "--drop": "--hidden_dropout_prob",
    "--attn_drop_rate": "--attention_probs_dropout_prob",
    "--lh_num_classes": "--lh_num_labels",
    "--rh_num_classes": "--rh_num_labels",
}
ORIGINAL_SWITCHES = {
    "--eval": ["--do_eval", "--do_predict", "True", "--do_train", "False"],
    "--validation": ["--do_eval", "True", "--do_train", "False"],
    "--pin_mem": ["--dataloader_pin_memory", "True"],
    "--no_pin_mem": ["--dataloader_pin_memory", "False"],
    "--disable_eval_during_finetuning": ["--eval_strategy", "no"],
    "--no_save_ckpt": ["--save_strategy", "no"],
    "--no_auto_resume": ["--auto_resume", "False"],
}
ORIGINAL_IGNORED_WITH_VALUE = {
    "--nb_classes",
    "--world_size",
    "--local_rank",
    "--dist_url",
    "--start_epoch",
    "--momentum",
    "--fname_tmpl",
    "--start_idx",
    "--num_segments",
    "--opt",
    "--crop_pct",
    "--color_jitter",
}
ORIGINAL_IGNORED_SWITCHES = {
    "--dist_eval",
    "--dist_on_itp",
    "--save_ckpt",
    "--imagenet_default_mean_and_std",
    "--use_mean_pooling",
    "--resplit",
    "--model_ema_force_cpu",
}


def translate_original_args(argv: list[str]) -> list[str]:
    """Rewrite the original's flags into this package's; HF's own flag names pass through untouched."""
    out, i = [], 0
    while i < len(argv):
        flag, value = (argv[i].split("=", 1) + [None])[:2] if argv[i].startswith("--") else (argv[i], None)
        inline = [value] if value is not None else []
        if value is None and flag in ("--device", "--opt") and i + 1 == len(argv):
            raise ValueError(f"{flag} expects a value")
        if flag in ("--epochs", "--warmup_steps") and value is None and i + 1 < len(argv):
            value, i = argv[i + 1], i + 1
        if flag == "--epochs":
            # The original's epoch is its LH loader: its epochs come with its schedule (docs/original_recipe.md).
            out += ["--num_train_epochs", *([value] if value is not None else []), "--original_schedule", "True"]
        elif flag == "--warmup_steps" and value is not None and value.lstrip("-").isdigit() and int(value) < 0:
            pass  # the original's default -1: no step count, --warmup_epochs decides
        elif flag == "--warmup_steps":
            out += [flag, *([value] if value is not None else [])]
        elif flag in ORIGINAL_FLAGS:
            out += [ORIGINAL_FLAGS[flag], *inline]
        elif flag in ORIGINAL_SWITCHES:
            out += ORIGINAL_SWITCHES[flag]
        elif flag == "--device":
            device = value if value is not None else argv[i + 1]
            i += 0 if value is not None else 1
            if device == "cpu":
                out += ["--use_cpu", "True"]
        elif flag == "--opt_betas":
            betas = inline
            while len(betas) < 2 and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                i += 1
                betas.append(argv[i])
            out += [arg for name, beta in zip(("--adam_beta1", "--adam_beta2"), betas) for arg in (name, beta)]
        elif flag == "--opt" and (optimizer := argv[i + 1] if value is None else value) != "adamw":
            raise ValueError(f"--opt {optimizer}: only adamw is supported (the original's recipe)")
        elif flag in ORIGINAL_IGNORED_WITH_VALUE:
            logger.info("original flag %s has no effect here", flag)
            i += 0 if value is not None else 1
        elif flag in ORIGINAL_IGNORED_SWITCHES:
            logger.info("original flag %s has no effect here", flag)
        elif flag == "--use_cls":
            raise ValueError(
                "--use_cls: VideoMAE V2 fine-tuning and ADH-ViT use mean pooling; a CLS token is not supported"
            )
        else:
            out.append(argv[i])
        i += 1
    return out

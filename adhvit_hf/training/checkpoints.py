"""Which checkpoint a run continues from."""

import logging
import os

from transformers.trainer_utils import get_last_checkpoint

logger = logging.getLogger(__name__)


def resolve_resume_checkpoint(args) -> str | None:
    """`--resume_from_checkpoint` if given, else (with `--auto_resume`) the newest checkpoint in output_dir."""
    if args.resume_from_checkpoint:
        if not os.path.isdir(args.resume_from_checkpoint):
            raise ValueError(f"--resume_from_checkpoint {args.resume_from_checkpoint}: no such checkpoint folder")
        return args.resume_from_checkpoint
    if not (args.auto_resume and os.path.isdir(args.output_dir)):
        return None
    checkpoint = get_last_checkpoint(args.output_dir)
    if checkpoint:
        logger.info("resuming from %s (--no_auto_resume starts afresh)", checkpoint)
    return checkpoint

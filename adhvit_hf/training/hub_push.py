# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The Trainer mixin whose saves and Hub pushes carry the remote code and the ADH-ViT model card."""

import json
from pathlib import Path
from typing import Any

from ..publishing import add_remote_code, render_model_card, training_summary_from_args
from .checkpoints import is_unmarked_checkpoint


def trainer_metrics(trainer) -> dict[str, float]:
    """The newest value of every metric a Trainer logged, updated with `output_dir/all_results.json` if saved."""
    metrics = {}
    for entry in trainer.state.log_history:
        metrics.update(entry)
    results_path = Path(trainer.args.output_dir) / "all_results.json"
    if results_path.is_file():
        metrics.update(json.loads(results_path.read_text(encoding="utf-8")))
    return metrics


class HubPushMixin:
    """Put before `Trainer` in a subclass's bases: its pushes then carry remote code and the ADH-ViT model card.

    Every saved folder (checkpoints and `output_dir`) gets the remote-code files; every push (intermediate and final)
    first refreshes `output_dir`'s remote code and README.md. Set `model_card_kwargs` (e.g. `dataset_name`,
    `base_model`, `license`) to fill the card.
    """

    model_card_kwargs: dict[str, Any] = {}

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        super().save_model(output_dir, _internal_call=_internal_call)
        if self.args.should_save:
            add_remote_code(output_dir or self.args.output_dir)

    def _push_from_checkpoint(self, checkpoint_folder: str) -> None:
        # With `CompleteCheckpointMixin` a checkpoint goes to the Hub only once it is marked complete (it pushes it then):
        # a pushed checkpoint must not look complete on the Hub while it is not.
        if getattr(self, "marks_complete_checkpoints", False) and is_unmarked_checkpoint(checkpoint_folder):
            self.deferred_push = checkpoint_folder
            return
        if self.is_world_process_zero():
            add_remote_code(self.args.output_dir)
            self.create_model_card()
        super()._push_from_checkpoint(checkpoint_folder)

    def create_model_card(self, finetuned_from: str | None = None, **kwargs) -> None:
        """Renders `output_dir/README.md` from `model_card.md`; Trainer's other card arguments are not used."""
        if not self.is_world_process_zero():
            return
        model = self.accelerator.unwrap_model(self.model)
        render_model_card(
            self.args.output_dir,
            model.config,
            trainer_metrics(self),
            training_summary_from_args(self.args, self.processing_class, model.config),
            hub_model_id=self.hub_model_id or self.args.hub_model_id,
            **{"finetuned_from": finetuned_from, **self.model_card_kwargs},
        )

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Publishing ADH-ViT folders: the remote code they carry (`remote_code`) and their model card (`model_card`); the app
as a Hugging Face Space (`space`).

The Auto-class and pipeline registration is `adhvit_hf.registration`; the Trainer mixin that pushes both is
`adhvit_hf.training.hub_push.HubPushMixin`.
"""

from .model_card import hand_eval_results, render_model_card, training_summary_from_args
from .remote_code import add_remote_code
from .space import push_space


__all__ = ["add_remote_code", "hand_eval_results", "push_space", "render_model_card", "training_summary_from_args"]

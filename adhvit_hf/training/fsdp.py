# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""FSDP2 (`torch.distributed.fsdp.fully_shard`) for the `AlternatingTrainer`, on GPUs and on CPU gloo ranks.

`--fsdp full_shard --fsdp_config '{"version": 2}'` (or `accelerate launch` with an FSDP2 config) shards ADH-ViT
here, not through accelerate's FSDP plugin: that plugin needs an accelerator (on the CPU it silently trains
unsharded), and its auto-wrap policy would put the two hand heads into one shard group with the root. Here each
hand head is its own shard group, then each backbone block, then the root, so:

- the idle head is never all-gathered and its gradient stays `None` on every rank (FSDP2 reduce-scatters only
  parameters that got a gradient): AdamW leaves it bit-identical, as under DDP. Every rank trains the same hand at
  the same step (the schedule is a function of the step), so the collectives match;
- checkpoints hold the full weights as a plain safetensors folder (`AutoModel` loads it) and the optimizer state
  sharded with `torch.distributed.checkpoint` (`optimizer_dcp/`, one file per rank), so resuming is exact;
- the final folder is a plain safetensors folder.

FSDP1 (`"version": 1`) is refused: its flat parameters give an unused head a zero gradient instead of `None`, so
AdamW's momentum and weight decay would move the idle head.
"""

import contextlib
import os

import torch
import torch.distributed as dist
from safetensors.torch import load_file
from torch.distributed.fsdp import FSDPModule
from transformers.trainer import SCHEDULER_NAME
from transformers.utils import SAFE_WEIGHTS_NAME

from ..configuration_adhvit import HANDS
from ..modeling_adhvit import rename_saved_attention_biases
from .checkpoints import CheckpointError


OPTIMIZER_FOLDER = "optimizer_dcp"
FSDP1_REFUSAL = (
    "--fsdp with FSDP1 (fsdp_config version 1) cannot train ADH-ViT: its flat parameters give the idle hand's head "
    "a zero gradient instead of None, so AdamW's momentum and weight decay would move it; use --fsdp_config "
    "'{\"version\": 2}' (accelerate launch: --fsdp_version 2)"
)


def requested_fsdp_version(args) -> int | None:
    """The FSDP version `--fsdp` (or `accelerate launch`'s FSDP config, through its environment) asks for."""
    if args.fsdp:
        return int((args.fsdp_config or {}).get("version", 2))
    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("1", "true"):
        return int(os.environ.get("FSDP_VERSION", "1"))
    return None


def check_fsdp_arguments(args) -> bool:
    """Whether this run shards with FSDP2; raises `ValueError` with one line for what cannot work."""
    version = requested_fsdp_version(args)
    if version is None:
        return False
    if version != 2:
        raise ValueError(FSDP1_REFUSAL)
    config = args.fsdp_config or {}
    if config.get("activation_checkpointing"):
        raise ValueError(
            "fsdp_config activation_checkpointing is accelerate's wrapper, which this trainer does not use: "
            "give --gradient_checkpointing instead (each backbone block recomputes its activations)"
        )
    return True


def is_sharded(model) -> bool:
    from torch.distributed.tensor import DTensor

    return any(isinstance(parameter, DTensor) for parameter in model.parameters())


def shard_model(model, device: torch.device, reshard_after_forward: bool = True, cpu_offload: bool = False) -> None:
    """Applies `fully_shard` in place over all ranks: each hand head, each backbone block, then the root."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import CPUOffloadPolicy, OffloadPolicy, fully_shard

    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    options = dict(
        mesh=mesh,
        reshard_after_forward=reshard_after_forward,
        offload_policy=CPUOffloadPolicy() if cpu_offload else OffloadPolicy(),
    )
    for hand in HANDS:
        fully_shard(model.hand_classifier(hand), **options)
    for block in model.videomae.encoder.layer:
        fully_shard(block, **options)
    fully_shard(model, **options)


@contextlib.contextmanager
def unsharded_class(model):
    """The model's own class within the block: `fully_shard` gives it a class `FSDP<Name>` defined in torch's FSDP
    module, which `save_pretrained` would record in `auto_map` and copy as the folder's remote code."""
    if not isinstance(model, FSDPModule):
        yield model
        return
    sharded_class = type(model)
    model.__class__ = next(base for base in sharded_class.__bases__ if not issubclass(base, FSDPModule))
    try:
        yield model
    finally:
        model.__class__ = sharded_class


class Fsdp2TrainerMixin:
    """Put before `Trainer` in a subclass's bases. With `--fsdp` (version 2) the model is sharded when the trainer is
    built (after the Trainer placed it on this rank's device, before the optimizer exists), and the Trainer treats it
    as a model that owns its placement and gradient reduction (`is_distributed_loading_by_transformers`: no DDP wrap,
    no second sharding by accelerate). Saving gathers full weights; the optimizer state is saved sharded."""

    gathered_state_dict: dict | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fsdp2 = check_fsdp_arguments(self.args)
        if self.fsdp2:
            config = self.args.fsdp_config or {}
            shard_model(
                self.model,
                self.args.device,
                reshard_after_forward=bool(config.get("reshard_after_forward", True)),
                cpu_offload=bool(config.get("cpu_offload", False)),
            )
            self.is_distributed_loading_by_transformers = True

    def create_accelerator_and_postprocess(self) -> None:
        if not check_fsdp_arguments(self.args):
            return super().create_accelerator_and_postprocess()
        # The sharding is done here (Fsdp2TrainerMixin.__init__); accelerate's plugin must not shard a second time.
        plugin_args, self.args.fsdp_plugin_args = self.args.fsdp_plugin_args, None
        environment = {key: os.environ.pop(key) for key in ("ACCELERATE_USE_FSDP",) if key in os.environ}
        try:
            super().create_accelerator_and_postprocess()
        finally:
            self.args.fsdp_plugin_args = plugin_args
            os.environ.update(environment)

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """The model's full weights on the CPU of rank 0 ({} on the others); every rank must call it."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(self.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        if not self.fsdp2:
            return super().save_model(output_dir, _internal_call)
        # Every rank takes part in the gather; `_save` then writes the full weights on the writing rank.
        self.gathered_state_dict = self.full_state_dict()
        try:
            super().save_model(output_dir, _internal_call)
        finally:
            self.gathered_state_dict = None
        self.accelerator.wait_for_everyone()

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        if not self.fsdp2:
            return super()._save(output_dir, state_dict)
        if self.args.should_save:
            with unsharded_class(self.model):
                super()._save(output_dir, self.gathered_state_dict if state_dict is None else state_dict)

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        if not self.fsdp2:
            return super()._save_optimizer_and_scheduler(output_dir)
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        state = get_optimizer_state_dict(self.model, self.optimizer)
        dcp.save({"optimizer": state}, checkpoint_id=os.path.join(output_dir, OPTIMIZER_FOLDER))
        if self.args.should_save:
            torch.save(self.lr_scheduler.state_dict(), os.path.join(output_dir, SCHEDULER_NAME))

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        if checkpoint is None:
            return
        sharded = os.path.isdir(os.path.join(checkpoint, OPTIMIZER_FOLDER))
        if sharded != self.fsdp2:
            raise CheckpointError(
                f"{checkpoint}: its optimizer state was saved {'with' if sharded else 'without'} --fsdp; resume it "
                f"{'with' if sharded else 'without'} --fsdp, or start afresh from its weights (--model_name_or_path)"
            )
        if not self.fsdp2:
            return super()._load_optimizer_and_scheduler(checkpoint)
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict, set_optimizer_state_dict

        state = {"optimizer": get_optimizer_state_dict(self.model, self.optimizer)}
        dcp.load(state, checkpoint_id=os.path.join(checkpoint, OPTIMIZER_FOLDER))
        set_optimizer_state_dict(self.model, self.optimizer, state["optimizer"])
        self.lr_scheduler.load_state_dict(torch.load(os.path.join(checkpoint, SCHEDULER_NAME), weights_only=True))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        if not self.fsdp2:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        # Every rank reads the full weights (under the model's names, as from_pretrained renames them) and keeps
        # its shards of them.
        weights = load_file(os.path.join(resume_from_checkpoint, SAFE_WEIGHTS_NAME))
        rename_saved_attention_biases(self.model, weights, "")
        set_model_state_dict(self.model, weights, options=StateDictOptions(full_state_dict=True, strict=True))

    def _load_best_model(self) -> None:
        if not self.fsdp2:
            return super()._load_best_model()
        self._load_from_checkpoint(self.state.best_model_checkpoint)

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""PyTorch AdhVit: one VideoMAE (V2) ViT backbone with a left-hand and a right-hand classification head."""

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.processing_utils import Unpack
from transformers.utils import ModelOutput, TransformersKwargs
from transformers.utils import logging as transformers_logging
from transformers.utils.generic import can_return_tuple, merge_with_config_defaults
from transformers.utils.output_capturing import capture_outputs

from .configuration_adhvit import CAMERA_FUSIONS, HANDS, IGNORE_INDEX, AdhVitConfig, as_pair


# ---- transformers loading adapter -----------------------------------------------------------------------------------
# Where this file relies on transformers' weight-loading machinery rather than its public model API: the checkpoint
# conversion mapping here, and the loading info `AdhVitPreTrainedModel.from_pretrained` reads. Saved folders
# store the query/value biases as `...attention.attention.{q,v}_bias` (VideoMAE's on-disk names); the renaming below
# is applied by `from_pretrained` (and reversed by `save_pretrained`) for model_type "adhvit". It is registered by this
# file itself so that it also happens when the file runs as remote code, without `adhvit_hf` installed.
# tests/test_model_save_load.py checks it: a transformers upgrade that changes it fails a test, not users' folders.
SAVED_ATTENTION_BIAS_NAMES = {"q_bias": "query", "v_bias": "value"}


def register_saved_attention_bias_names(model_type: str) -> None:
    """Have `from_pretrained`/`save_pretrained` map `{q,v}_bias` on disk to `{query,value}.bias` in the model."""
    from transformers.conversion_mapping import (
        get_checkpoint_conversion_mapping,
        register_checkpoint_conversion_mapping,
    )
    from transformers.core_model_loading import WeightRenaming

    if get_checkpoint_conversion_mapping(model_type) is None:
        renamings = [
            WeightRenaming(rf"attention\.attention\.{saved}", f"attention.attention.{name}.bias")
            for saved, name in SAVED_ATTENTION_BIAS_NAMES.items()
        ]
        register_checkpoint_conversion_mapping(model_type, renamings)


def rename_saved_attention_biases(module, state_dict, prefix, *args) -> None:
    """`load_state_dict` pre-hook: `...attention.attention.{q,v}_bias` (the saved names) -> `...{query,value}.bias`."""
    suffixes = tuple(f"attention.attention.{saved}" for saved in SAVED_ATTENTION_BIAS_NAMES)
    for key in [k for k in state_dict if k.startswith(prefix) and k.endswith(suffixes)]:
        stem, saved = key.rsplit(".", 1)
        state_dict[f"{stem}.{SAVED_ATTENTION_BIAS_NAMES[saved]}.bias"] = state_dict.pop(key)


register_saved_attention_bias_names(AdhVitConfig.model_type)
logger = logging.getLogger(__name__)


@contextlib.contextmanager
def without_progress_bars():
    """transformers' own tqdm bars off inside the block ("Loading weights", "Writing model shards": seconds-long
    steps of a one-file model that would otherwise print a bar on every predict, extract and save), then as before."""
    enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            transformers_logging.enable_progress_bar()


# ---------------------------------------------------------------------------------------------------------------------

AUTO_CLASSES = ("AutoModel", "AutoModelForVideoClassification")


@dataclass
class AdhVitDualHandClassifierOutput(ModelOutput):
    r"""
    Output of [`AdhVitForDualHandClassification`].

    loss (`torch.FloatTensor` of shape `()`, *optional*):
        Sum of the cross entropies of the hands that received labels.
    lh_logits / rh_logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`, *optional*):
        Logits of the left / right hand head; `None` when that head was not run (`hand="rh"` / `hand="lh"`).
    pooled_output (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
        `fc_norm` of the mean of the last hidden state: the clip feature downstream segmentation stages consume.
    hidden_states (`tuple(torch.FloatTensor)`, *optional*):
        Input of the first layer and output of every layer, each `(batch_size, sequence_length, hidden_size)`.
    attentions (`tuple(torch.FloatTensor)`, *optional*):
        Attention probabilities of every layer, each `(batch_size, num_heads, sequence_length, sequence_length)`.
    """

    loss: torch.FloatTensor | None = None
    lh_logits: torch.FloatTensor | None = None
    rh_logits: torch.FloatTensor | None = None
    pooled_output: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


# The name before transformers' naming (`<Model><Task>ClassifierOutput`), kept for existing imports.
AdhVitOutput = AdhVitDualHandClassifierOutput


def sinusoid_position_table(num_positions: int, dim: int) -> torch.Tensor:
    """Fixed sin-cos table of VideoMAE, `(num_positions, dim)`: sin on even channels, cos on odd ones."""
    # float64 like the numpy original, so the float32 result is bit-identical to VideoMAE V2's table
    positions = torch.arange(num_positions, dtype=torch.float64).unsqueeze(1)
    exponents = 2 * (torch.arange(dim, dtype=torch.float64) // 2) / dim
    angles = positions / torch.pow(10000.0, exponents)
    table = torch.empty_like(angles)
    table[:, 0::2] = torch.sin(angles[:, 0::2])
    table[:, 1::2] = torch.cos(angles[:, 1::2])
    return table.float()


def drop_path(hidden_states: torch.Tensor, drop_prob: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero the residual branch of whole samples with probability `drop_prob`, rescale the rest."""
    if drop_prob == 0.0 or not training:
        return hidden_states
    keep_prob = 1.0 - drop_prob
    mask_shape = (hidden_states.shape[0],) + (1,) * (hidden_states.ndim - 1)
    mask = hidden_states.new_empty(mask_shape).bernoulli_(keep_prob)
    return hidden_states * mask / keep_prob


def drop_path_rates(drop_path_rate: float, num_layers: int) -> list[float]:
    """Per-layer stochastic depth rates rising linearly from 0 to `drop_path_rate` (VideoMAE V2's rule)."""
    if num_layers == 1:
        return [0.0]
    return [drop_path_rate * index / (num_layers - 1) for index in range(num_layers)]


class AdhVitDropPath(nn.Module):
    """Stochastic depth on a residual branch."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return drop_path(hidden_states, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f"p={self.drop_prob}"


class AdhVitPatchEmbeddings(nn.Module):
    """Tubelet embedding: a Conv3d over `(B, C, T, H, W)` with kernel = stride = (tubelet, patch, patch)."""

    def __init__(self, config: AdhVitConfig):
        super().__init__()
        (height, width), patch_size = as_pair(config.image_size), as_pair(config.patch_size)
        spatial_patches = (height // patch_size[0]) * (width // patch_size[1])
        self.num_patches = (config.num_frames // config.tubelet_size) * spatial_patches
        self.projection = nn.Conv3d(
            config.num_channels,
            config.hidden_size,
            kernel_size=(config.tubelet_size, *patch_size),
            stride=(config.tubelet_size, *patch_size),
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        # (B, T, C, H, W) -> (B, C, T, H, W) -> (B, N, hidden_size)
        return self.projection(pixel_values.permute(0, 2, 1, 3, 4)).flatten(2).transpose(1, 2)


class AdhVitEmbeddings(nn.Module):
    """Tubelet patch embedding plus the fixed sin-cos position table: `(B, T, C, H, W)` -> `(B, N, hidden_size)`."""

    def __init__(self, config: AdhVitConfig):
        super().__init__()
        self.config = config
        self.patch_embeddings = AdhVitPatchEmbeddings(config)
        self.num_patches = self.patch_embeddings.num_patches
        # recomputed from the config, never saved: checkpoints stay independent of the table
        self.register_buffer(
            "position_embeddings",
            sinusoid_position_table(self.num_patches, config.hidden_size).unsqueeze(0),
            persistent=False,
        )
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        embeddings = self.patch_embeddings(pixel_values)
        embeddings = embeddings + self.position_embeddings.to(embeddings.dtype)
        return self.dropout(embeddings)


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Unpack[TransformersKwargs],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax attention written out so the probabilities can be returned; `(B, heads, N, d)` -> `(B, N, heads, d)`."""
    attn_weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = F.softmax(attn_weights, dim=-1)
    attn_weights = F.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value).transpose(1, 2).contiguous()
    return attn_output, attn_weights


class AdhVitSelfAttention(nn.Module):
    """Multi-head self-attention of VideoMAE V2: biases on query and value only (`qv_bias`), none on key."""

    def __init__(self, config: AdhVitConfig):
        super().__init__()
        self.config = config
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.scaling = self.attention_head_size**-0.5
        self.dropout_prob = config.attention_probs_dropout_prob
        self.is_causal = False
        self.query = nn.Linear(config.hidden_size, config.hidden_size, bias=config.qv_bias)
        self.key = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.value = nn.Linear(config.hidden_size, config.hidden_size, bias=config.qv_bias)

    def forward(
        self, hidden_states: torch.Tensor, **kwargs: Unpack[TransformersKwargs]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        hidden_shape = (*hidden_states.shape[:-1], -1, self.attention_head_size)
        query = self.query(hidden_states).view(hidden_shape).transpose(1, 2)
        key = self.key(hidden_states).view(hidden_shape).transpose(1, 2)
        value = self.value(hidden_states).view(hidden_shape).transpose(1, 2)

        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        # Fused kernels (sdpa, flash, ...) never form the probabilities; when they are asked for, this call runs eager
        # so `output_attentions` gives them whatever the attention implementation.
        if kwargs.get("output_attentions"):
            attention_interface = eager_attention_forward
        context, attention_probs = attention_interface(
            self,
            query,
            key,
            value,
            None,
            is_causal=self.is_causal,
            scaling=self.scaling,
            dropout=self.dropout_prob if self.training else 0.0,
            **kwargs,
        )
        return context.reshape(*context.shape[:-2], -1), attention_probs


class AdhVitProjection(nn.Module):
    """Linear projection to `hidden_size`, then dropout: the end of a residual branch of [`AdhVitLayer`]."""

    def __init__(self, config: AdhVitConfig, in_features: int):
        super().__init__()
        self.dense = nn.Linear(in_features, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden_states))


class AdhVitAttention(nn.Module):
    def __init__(self, config: AdhVitConfig):
        super().__init__()
        self.attention = AdhVitSelfAttention(config)
        self.output = AdhVitProjection(config, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor, **kwargs: Unpack[TransformersKwargs]) -> torch.Tensor:
        context, _ = self.attention(hidden_states, **kwargs)
        return self.output(context)


class AdhVitIntermediate(nn.Module):
    def __init__(self, config: AdhVitConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        act = config.hidden_act
        self.intermediate_act_fn = ACT2FN[act] if isinstance(act, str) else act

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(hidden_states))


class AdhVitLayer(GradientCheckpointingLayer):
    """
    VideoMAE V2's pre-norm block (timm's `Block`) with stochastic depth on both residual branches, whose residuals it
    adds itself. Its submodules carry `VideoMAELayer`'s attribute names, so saved folders keep VideoMAE's tensor names.
    """

    def __init__(self, config: AdhVitConfig, drop_path_rate: float = 0.0):
        super().__init__()
        self.attention = AdhVitAttention(config)
        self.intermediate = AdhVitIntermediate(config)
        self.output = AdhVitProjection(config, config.intermediate_size)
        self.layernorm_before = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layernorm_after = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.drop_path = AdhVitDropPath(drop_path_rate)

    def forward(self, hidden_states: torch.Tensor, **kwargs: Unpack[TransformersKwargs]) -> torch.Tensor:
        hidden_states = hidden_states + self.drop_path(self.attention(self.layernorm_before(hidden_states), **kwargs))
        mlp_output = self.output(self.intermediate(self.layernorm_after(hidden_states)))
        return hidden_states + self.drop_path(mlp_output)


class AdhVitEncoder(nn.Module):
    """Stack of [`AdhVitLayer`] with linearly rising drop path rates."""

    def __init__(self, config: AdhVitConfig):
        super().__init__()
        self.config = config
        rates = drop_path_rates(config.drop_path_rate, config.num_hidden_layers)
        self.layer = nn.ModuleList([AdhVitLayer(config, rate) for rate in rates])
        self.gradient_checkpointing = False

    def forward(self, hidden_states: torch.Tensor, **kwargs: Unpack[TransformersKwargs]) -> BaseModelOutput:
        for layer_module in self.layer:
            hidden_states = layer_module(hidden_states, **kwargs)
        return BaseModelOutput(last_hidden_state=hidden_states)


class AdhVitPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading glue shared by the AdhVit models (VideoMAE V2 fine-tuning init)."""

    config: AdhVitConfig
    config_class = AdhVitConfig
    base_model_prefix = "videomae"
    main_input_name = "pixel_values"
    input_modalities = "video"
    supports_gradient_checkpointing = True
    _no_split_modules = ["AdhVitEmbeddings", "AdhVitLayer"]
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _can_record_outputs = {
        "hidden_states": AdhVitLayer,
        "attentions": AdhVitSelfAttention,
    }

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """
        `PreTrainedModel.from_pretrained`; a head whose class count differs from the configured one raises
        [`WeightShapeMismatchError`] naming the head, both counts and the way to start a new head.
        """
        if kwargs.get("ignore_mismatched_sizes", False):
            return super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        # Loaded leniently so the mismatched tensors can be named; any mismatch is refused below, as transformers does.
        output_loading_info = kwargs.pop("output_loading_info", False)
        kwargs.update(ignore_mismatched_sizes=True, output_loading_info=True)
        model, loading_info = super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        _refuse_mismatched_sizes(loading_info["mismatched_keys"], pretrained_model_name_or_path)
        new_heads = [head for head in _head_names(model) if f"{head}.weight" in loading_info["missing_keys"]]
        if new_heads and not output_loading_info:
            # a converted backbone: expected when training starts from it. A caller asking for loading_info judges
            # the missing heads itself (predict and extract refuse them), so "they start new" would mislead there.
            logger.warning(
                f"{pretrained_model_name_or_path} has no trained weights for {' and '.join(new_heads)}: "
                f"{'they start' if len(new_heads) > 1 else 'it starts'} new (trunc-normal std "
                f"{model.config.initializer_range}, zero bias)."
            )
        return (model, loading_info) if output_loading_info else model

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            # every linear, the hand heads included, starts trunc-normal with zero bias, as in the original ADH-ViT
            # (it builds its hand heads after VideoMAE V2's --init_scale scaling, which therefore leaves them alone)
            init.trunc_normal_(module.weight, std=self.config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Conv3d):
            # VideoMAE V2 leaves the patch projection at PyTorch's default initialisation
            module.reset_parameters()
        elif isinstance(module, AdhVitEmbeddings):
            table = sinusoid_position_table(module.num_patches, self.config.hidden_size).unsqueeze(0)
            init.copy_(module.position_embeddings, table)


def _head_names(model: nn.Module) -> list[str]:
    """The hand heads `model` has: `lh_classifier` and `rh_classifier`, or none for the backbone alone."""
    return [f"{hand}_classifier" for hand in HANDS if hasattr(model, f"{hand}_classifier")]


class WeightShapeMismatchError(RuntimeError, ValueError):
    """A saved tensor's shape differs from the model's (a RuntimeError like transformers', a ValueError for CLIs)."""


def _refuse_mismatched_sizes(mismatched_keys, source) -> None:
    """Raise [`WeightShapeMismatchError`] for `(name, saved_shape, model_shape)` entries: a head by name, or all."""
    if not mismatched_keys:
        return
    heads = {name.split(".")[0]: (saved, wanted) for name, saved, wanted in mismatched_keys}
    for head in (f"{hand}_classifier" for hand in HANDS):
        if head in heads:
            saved, wanted = heads[head]
            raise WeightShapeMismatchError(
                f"{head}: the checkpoint {source} has {saved[0]} classes but the model was configured with "
                f"{wanted[0]} ({head[:2]}_num_labels). Pass ignore_mismatched_sizes=True to from_pretrained to start "
                f"a new {wanted[0]}-class {head}."
            )
    listed = ", ".join(f"{name} {tuple(saved)} vs {tuple(wanted)}" for name, saved, wanted in sorted(mismatched_keys))
    raise WeightShapeMismatchError(
        f"{source}: saved tensors whose shape differs from the model's (saved vs model): {listed}. The checkpoint was "
        "written for another architecture; pass ignore_mismatched_sizes=True to from_pretrained to re-initialise them."
    )


class AdhVitModel(AdhVitPreTrainedModel):
    """The AdhVit backbone, laid out like `VideoMAEModel`: `(B, T, C, H, W)` pixels -> `(B, N, hidden_size)` tokens."""

    def __init__(self, config: AdhVitConfig):
        super().__init__(config)
        self.embeddings = AdhVitEmbeddings(config)
        self.encoder = AdhVitEncoder(config)
        # Trainer's resume and best-model loading call load_state_dict on the saved tensors, bypassing the renaming
        # of from_pretrained: without this hook the q/v biases would be dropped with nothing but a warning.
        self.register_load_state_dict_pre_hook(rename_saved_attention_biases)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embeddings

    @merge_with_config_defaults
    @capture_outputs(tie_last_hidden_states=False)
    def forward(self, pixel_values: torch.Tensor, **kwargs: Unpack[TransformersKwargs]) -> BaseModelOutput:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, num_channels, height, width)`):
            Normalised clip frames.
        """
        _check_pixel_values(pixel_values, self.config)
        # the attention layers learn from here whether the probabilities are wanted (see AdhVitSelfAttention)
        kwargs["output_attentions"] = kwargs.get("output_attentions", self.config.output_attentions)
        return self.encoder(self.embeddings(pixel_values), **kwargs)


class AdhVitForDualHandClassification(AdhVitPreTrainedModel):
    """
    ADH-ViT: a shared VideoMAE backbone, mean pooling + `fc_norm`, and two linear heads (`lh_classifier`,
    `rh_classifier`). Takes `pixel_values` `(B, T, C, H, W)` and returns an [`AdhVitDualHandClassifierOutput`]; `hand="lh"`/`"rh"` runs
    only that hand's head so the other one stays out of the graph.
    """

    # the loss is a mean per hand over the batch; Trainer keeps scaling it for gradient accumulation itself
    accepts_loss_kwargs = False

    def __init__(self, config: AdhVitConfig):
        super().__init__(config)
        self.videomae = AdhVitModel(config)
        self.fc_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.head_dropout = nn.Dropout(config.head_dropout)
        self.lh_classifier = nn.Linear(config.hidden_size, config.lh_num_labels)
        self.rh_classifier = nn.Linear(config.hidden_size, config.rh_num_labels)
        self.post_init()

    def save_pretrained(self, save_directory, *args, **kwargs):
        """`PreTrainedModel.save_pretrained`, listing this class for both auto classes it serves in `auto_map`."""
        if self._auto_class is not None:
            # save_pretrained records only the one auto class registered; this class also answers the other
            class_path = f"{type(self).__module__.rsplit('.', 1)[-1]}.{type(self).__name__}"
            auto_map = dict(getattr(self.config, "auto_map", None) or {})
            auto_map.update(dict.fromkeys(AUTO_CLASSES, class_path))
            self.config.auto_map = auto_map
        with without_progress_bars():  # one "Writing model shards" bar per checkpoint says nothing
            return super().save_pretrained(save_directory, *args, **kwargs)

    def hand_classifier(self, hand: str) -> nn.Linear:
        """The head of `hand` ("lh" or "rh"): `lh_classifier` or `rh_classifier`."""
        return self.lh_classifier if hand == "lh" else self.rh_classifier

    @can_return_tuple
    def forward(
        self,
        pixel_values: torch.Tensor,
        lh_labels: torch.Tensor | None = None,
        rh_labels: torch.Tensor | None = None,
        hand: str | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> AdhVitDualHandClassifierOutput:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, num_channels, height, width)`):
            Normalised clip frames; `(batch_size, num_cameras, num_frames, ...)` for a model with
            `config.camera_feature_fusion`: the synchronised cameras of each clip, whose pooled features are fused
            before the heads (`pooled_output` is then the fused feature).
        lh_labels / rh_labels (`torch.Tensor`, *optional*):
            Class ids `(batch_size,)` (int64, `-100` = ignore) or soft targets `(batch_size, num_labels)` (float, e.g.
            from mixup/cutmix/label smoothing). The loss is the sum of the cross entropies of the hands given labels.
        hand (`str`, *optional*):
            `"lh"` or `"rh"` to run only that head (the other logits are `None`); `None` runs both.
        """
        if hand not in (None, *HANDS):
            raise ValueError(f"hand must be None, 'lh' or 'rh', got {hand!r}.")
        labels = {"lh": lh_labels, "rh": rh_labels}
        active_hands = HANDS if hand is None else (hand,)
        for labelled_hand, hand_labels in labels.items():
            if hand_labels is not None and labelled_hand not in active_hands:
                raise ValueError(
                    f"{labelled_hand}_labels were given but hand={hand!r} runs only the {hand} head; "
                    f"pass hand=None or hand={labelled_hand!r}."
                )

        num_cameras = None
        if pixel_values.ndim == 6:
            if self.config.camera_feature_fusion is None:
                raise ValueError(
                    f"pixel_values of shape {tuple(pixel_values.shape)} hold several cameras per clip, which only a "
                    "model with config.camera_feature_fusion (--camera_training feature_fusion) fuses; score each "
                    "camera alone (camera_scores) instead."
                )
            num_cameras = pixel_values.shape[1]
            pixel_values = pixel_values.flatten(0, 1)
        # return_dict=True: the backbone would follow config.return_dict and hand back a tuple
        outputs: BaseModelOutput = self.videomae(pixel_values, return_dict=True, **kwargs)
        pooled_output = self.fc_norm(outputs.last_hidden_state.mean(dim=1))
        if num_cameras is not None:
            pooled_output = self.fuse_camera_features(pooled_output.unflatten(0, (-1, num_cameras)))
        head_input = self.head_dropout(pooled_output)

        logits = {active: self.hand_classifier(active)(head_input) for active in active_hands}
        hand_losses = [
            hand_cross_entropy(logits[labelled_hand], hand_labels, labelled_hand)
            for labelled_hand, hand_labels in labels.items()
            if hand_labels is not None
        ]
        return AdhVitDualHandClassifierOutput(
            loss=torch.stack(hand_losses).sum() if hand_losses else None,
            lh_logits=logits.get("lh"),
            rh_logits=logits.get("rh"),
            pooled_output=pooled_output,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )

    def fuse_camera_features(self, camera_features: torch.Tensor) -> torch.Tensor:
        """`(..., num_cameras, hidden_size)` pooled features -> `(..., hidden_size)`, by `config.camera_feature_fusion`."""
        if self.config.camera_feature_fusion == "max":
            return camera_features.amax(dim=-2)
        return camera_features.mean(dim=-2)

    def camera_scores(
        self, pixel_values: torch.Tensor, hand: str | None = None, fusion: str = "mean", score=None
    ) -> dict[str, torch.Tensor]:
        """
        Scores of synchronised cameras, each with its test-time views: `pixel_values` `(batch_size, num_cameras,
        num_views, num_frames, ...)` -> `{hand: (batch_size, 1 + num_cameras, num_labels)}`, the fused prediction
        first, then each camera's (the mean over its views of `score`, default softmax, of the logits). The backbone
        runs once per camera; a model with `config.camera_feature_fusion` fuses the cameras' pooled features of each
        view before the heads, any other fuses the cameras' scores (`fusion`, see `fuse_camera_scores`).
        """
        batch, num_cameras, num_views = pixel_values.shape[:3]
        hands = HANDS if hand is None else (hand,)
        pooled, logits = [], {h: [] for h in hands}
        for camera in range(num_cameras):
            outputs = self(pixel_values=pixel_values[:, camera].flatten(0, 1), hand=hand)
            pooled.append(outputs.pooled_output)
            for h in hands:
                logits[h].append(getattr(outputs, f"{h}_logits").unflatten(0, (batch, num_views)))
        fused_features = None
        if self.config.camera_feature_fusion is not None:
            fused_features = self.head_dropout(self.fuse_camera_features(torch.stack(pooled, dim=-2)))
        return {
            h: fuse_camera_scores(
                torch.stack(logits[h], dim=1),
                fusion,
                None
                if fused_features is None
                else self.hand_classifier(h)(fused_features).unflatten(0, (batch, num_views)),
                score,
            )
            for h in hands
        }


def fuse_camera_scores(
    camera_view_logits: torch.Tensor, fusion: str = "mean", fused_view_logits: torch.Tensor | None = None, score=None
) -> torch.Tensor:
    """
    `(batch, num_cameras, num_views, num_labels)` logits -> `(batch, 1 + num_cameras, num_labels)` scores: each
    camera's is the mean over its views of `score` (default softmax) of the logits; the fused one (first) is the mean
    over views of `fused_view_logits` `(batch, num_views, num_labels)` where given (feature fusion), else the mean of
    the cameras' scores (`fusion="mean"`) or the score of the sum of the cameras' view-averaged logits ("logit_sum").
    """
    if fusion not in CAMERA_FUSIONS:
        raise ValueError(f"camera fusion must be one of {CAMERA_FUSIONS}, got {fusion!r}.")
    score = score or (lambda logits: logits.softmax(-1))
    per_camera = score(camera_view_logits.float()).mean(2)
    if fused_view_logits is not None:
        fused = score(fused_view_logits.float()).mean(1)
    elif fusion == "mean":
        fused = per_camera.mean(1)
    else:
        fused = score(camera_view_logits.float().mean(2).sum(1))
    return torch.cat([fused.unsqueeze(1), per_camera], dim=1)


def hand_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, hand: str = "lh") -> torch.Tensor:
    """
    Mean cross entropy of `logits` `(B, C)` against class ids `(B,)` (`-100` ignored) or soft targets `(B, C)`.

    Ignored samples (id `-100`, or an all-zero soft target row) are left out of the mean; a batch with nothing
    but ignored samples gives 0 (still attached to the graph) rather than NaN.
    """
    labels = labels.to(logits.device)
    if labels.is_floating_point():
        if labels.shape != logits.shape:
            raise ValueError(
                f"{hand}_labels as soft targets must have shape (batch, {hand}_num_labels) = {tuple(logits.shape)}, "
                f"got {tuple(labels.shape)}."
            )
        # A row of zeros carries no target (the collator's way to leave another hand's clip out of a mixed batch).
        per_row = -(labels * F.log_softmax(logits.float(), dim=-1)).sum(dim=-1)
        return per_row.sum() / (labels.sum(dim=-1) > 0).sum().clamp(min=1)
    if labels.shape != logits.shape[:1]:
        raise ValueError(
            f"{hand}_labels as class ids must have shape (batch,) = ({logits.shape[0]},), got {tuple(labels.shape)}."
        )
    total = F.cross_entropy(logits.float(), labels.long(), ignore_index=IGNORE_INDEX, reduction="sum")
    return total / (labels != IGNORE_INDEX).sum().clamp(min=1)


def _check_pixel_values(pixel_values: torch.Tensor, config: AdhVitConfig) -> None:
    height, width = as_pair(config.image_size)
    expected = (config.num_frames, config.num_channels, height, width)
    if pixel_values.ndim == 5 and tuple(pixel_values.shape[1:]) == expected:
        return
    message = (
        f"pixel_values must have the layout (B, T, C, H, W) = (batch, {', '.join(map(str, expected))}), "
        f"got shape {tuple(pixel_values.shape)}."
    )
    if pixel_values.ndim == 5 and pixel_values.shape[1] == config.num_channels:
        message += " It looks like (B, C, T, H, W): use pixel_values.permute(0, 2, 1, 3, 4)."
    raise ValueError(message)


__all__ = [
    "AdhVitForDualHandClassification",
    "WeightShapeMismatchError",
    "AdhVitModel",
    "AdhVitDualHandClassifierOutput",
    "AdhVitPreTrainedModel",
]

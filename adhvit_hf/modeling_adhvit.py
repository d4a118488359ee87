# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""PyTorch AdhVit: one VideoMAE (V2) ViT backbone with a left-hand and a right-hand classification head."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.conversion_mapping import get_checkpoint_conversion_mapping, register_checkpoint_conversion_mapping
from transformers.modeling_outputs import BaseModelOutput
from transformers.models.videomae.modeling_videomae import (
    VideoMAELayer,
    VideoMAEPatchEmbeddings,
    VideoMAESelfAttention,
)
from transformers.utils import ModelOutput
from transformers.utils.output_capturing import capture_outputs

from .configuration_adhvit import HANDS, AdhVitConfig


# transformers stores VideoMAE's query/value biases as `q_bias`/`v_bias` on disk and renames them on load for
# model_type "videomae" only; without the same mapping the biases of an "adhvit" checkpoint would load as zeros. This
# file registers it itself so that it also happens when it runs as remote code, without `adhvit_hf` installed.
if get_checkpoint_conversion_mapping(AdhVitConfig.model_type) is None:
    register_checkpoint_conversion_mapping(AdhVitConfig.model_type, get_checkpoint_conversion_mapping("videomae"))

IGNORE_INDEX = -100
AUTO_CLASSES = ("AutoModel", "AutoModelForVideoClassification")


@dataclass
class AdhVitOutput(ModelOutput):
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


class AdhVitEmbeddings(nn.Module):
    """Tubelet patch embedding plus the fixed sin-cos position table: `(B, T, C, H, W)` -> `(B, N, hidden_size)`."""

    def __init__(self, config: AdhVitConfig):
        super().__init__()
        self.config = config
        self.patch_embeddings = VideoMAEPatchEmbeddings(config)
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


class AdhVitLayer(VideoMAELayer):
    """VideoMAE pre-norm transformer block with stochastic depth on both residual branches (as in VideoMAE V2)."""

    def __init__(self, config: AdhVitConfig, drop_path_rate: float = 0.0):
        super().__init__(config)
        self.drop_path = AdhVitDropPath(drop_path_rate)

    def forward(self, hidden_states: torch.Tensor, **kwargs) -> torch.Tensor:
        attention_output = self.attention(self.layernorm_before(hidden_states), **kwargs)
        hidden_states = hidden_states + self.drop_path(attention_output)
        # VideoMAEOutput adds its residual itself; its parts are called here so the branch passes through drop path
        mlp_output = self.intermediate(self.layernorm_after(hidden_states))
        mlp_output = self.output.dropout(self.output.dense(mlp_output))
        return hidden_states + self.drop_path(mlp_output)


class AdhVitEncoder(nn.Module):
    """Stack of [`AdhVitLayer`] with linearly rising drop path rates."""

    def __init__(self, config: AdhVitConfig):
        super().__init__()
        self.config = config
        rates = drop_path_rates(config.drop_path_rate, config.num_hidden_layers)
        self.layer = nn.ModuleList([AdhVitLayer(config, rate) for rate in rates])

    def forward(self, hidden_states: torch.Tensor, **kwargs) -> BaseModelOutput:
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
        "attentions": VideoMAESelfAttention,
    }

    @staticmethod
    def _finalize_model_loading(model, load_config, loading_info):
        # transformers reports a size mismatch only in a logged table; name the head and its class counts instead
        if not load_config.ignore_mismatched_sizes:
            for name, checkpoint_shape, model_shape in sorted(loading_info.mismatched_keys):
                head = name.split(".")[0]
                if head in (f"{hand}_classifier" for hand in HANDS):
                    raise ValueError(
                        f"{head}: the checkpoint {load_config.pretrained_model_name_or_path} has "
                        f"{checkpoint_shape[0]} classes but the model was configured with {model_shape[0]} "
                        f"({head[:2]}_num_labels). Pass ignore_mismatched_sizes=True to from_pretrained to start "
                        f"a new {model_shape[0]}-class {head}."
                    )
        return PreTrainedModel._finalize_model_loading(model, load_config, loading_info)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            if any(module is getattr(self, f"{hand}_classifier", None) for hand in HANDS):
                # new heads start close to zero, as VideoMAE V2 scales its head by --init_scale
                std = std * self.config.init_scale
            init.trunc_normal_(module.weight, std=std)
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


class AdhVitModel(AdhVitPreTrainedModel):
    """The AdhVit backbone, laid out like `VideoMAEModel`: `(B, T, C, H, W)` pixels -> `(B, N, hidden_size)` tokens."""

    def __init__(self, config: AdhVitConfig):
        super().__init__(config)
        self.embeddings = AdhVitEmbeddings(config)
        self.encoder = AdhVitEncoder(config)
        # Trainer's resume and best-model loading call load_state_dict on the saved tensors, bypassing the renaming
        # of from_pretrained: without this hook the q/v biases would be dropped with nothing but a warning.
        self.register_load_state_dict_pre_hook(_rename_saved_attention_biases)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embeddings

    @capture_outputs(tie_last_hidden_states=False)
    def forward(self, pixel_values: torch.Tensor, **kwargs) -> BaseModelOutput:
        _check_pixel_values(pixel_values, self.config)
        return self.encoder(self.embeddings(pixel_values))


def _rename_saved_attention_biases(module, state_dict, prefix, *args) -> None:
    """`...attention.attention.{q,v}_bias` (the on-disk names) -> `...{query,value}.bias`, in place."""
    for key in [k for k in state_dict if k.startswith(prefix) and k.endswith(("attention.q_bias", "attention.v_bias"))]:
        stem, name = key.rsplit(".", 1)
        state_dict[f"{stem}.{'query' if name == 'q_bias' else 'value'}.bias"] = state_dict.pop(key)


class AdhVitForDualHandClassification(AdhVitPreTrainedModel):
    """
    ADH-ViT: a shared VideoMAE backbone, mean pooling + `fc_norm`, and two linear heads (`lh_classifier`,
    `rh_classifier`). Takes `pixel_values` `(B, T, C, H, W)` and returns an [`AdhVitOutput`]; `hand="lh"`/`"rh"` runs
    only that hand's head so the other one stays out of the graph.
    """

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
            auto_map.update({auto_class: class_path for auto_class in AUTO_CLASSES})
            self.config.auto_map = auto_map
        return super().save_pretrained(save_directory, *args, **kwargs)

    def classifier(self, hand: str) -> nn.Linear:
        """The head of `hand` ("lh" or "rh")."""
        return self.lh_classifier if hand == "lh" else self.rh_classifier

    def forward(
        self,
        pixel_values: torch.Tensor,
        lh_labels: torch.Tensor | None = None,
        rh_labels: torch.Tensor | None = None,
        hand: str | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        return_dict: bool | None = None,
    ) -> AdhVitOutput | tuple:
        r"""
        pixel_values (`torch.FloatTensor` of shape `(batch_size, num_frames, num_channels, height, width)`):
            Normalised clip frames.
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
        return_dict = return_dict if return_dict is not None else self.config.return_dict

        outputs = self.videomae(
            pixel_values, output_hidden_states=output_hidden_states, output_attentions=output_attentions
        )
        pooled_output = self.fc_norm(outputs.last_hidden_state.mean(dim=1))
        head_input = self.head_dropout(pooled_output)

        logits = {active: self.classifier(active)(head_input) for active in active_hands}
        hand_losses = [
            hand_cross_entropy(logits[labelled_hand], hand_labels, labelled_hand)
            for labelled_hand, hand_labels in labels.items()
            if hand_labels is not None
        ]
        loss = torch.stack(hand_losses).sum() if hand_losses else None

        output = AdhVitOutput(
            loss=loss,
            lh_logits=logits.get("lh"),
            rh_logits=logits.get("rh"),
            pooled_output=pooled_output,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return output if return_dict else output.to_tuple()


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
    height, width = (config.image_size,) * 2 if isinstance(config.image_size, int) else tuple(config.image_size)
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
    "AdhVitModel",
    "AdhVitOutput",
    "AdhVitPreTrainedModel",
]

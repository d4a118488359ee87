# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""AdhVit (Alternating Dual-Hand Vision Transformer) configuration."""

import sys

from transformers import VideoMAEConfig


DEFAULT_NUM_LABELS_PER_HAND = 75  # HA-ViD primitive tasks: 73 tasks + "null" + "w" (wrong action)
HANDS = ("lh", "rh")
HAND_NAMES = {"lh": "left hand", "rh": "right hand"}
# The label of a batch row that belongs to the other hand (PyTorch's cross-entropy default ignore_index).
IGNORE_INDEX = -100
# How a model trained with --camera_training feature_fusion fuses its cameras' pooled features before the heads.
CAMERA_FEATURE_FUSIONS = ("mean", "max")
# How the cameras' scores of a clip become one prediction (models without camera_feature_fusion): the mean of their
# probabilities, or HA-ViD's combined view (mmaction2's report_accuracy.py: the cameras' clip-averaged logits summed
# with coefficient 1.0).
CAMERA_FUSIONS = ("mean", "logit_sum")


# Read from old config.json files but never written: VideoMAE's fields of its pretraining decoder and loss, which AdhVit
# has not, and the single-head label map of every transformers config (the hands have lh_/rh_id2label).
NOT_SERIALIZED = (
    "decoder_num_attention_heads",
    "decoder_hidden_size",
    "decoder_num_hidden_layers",
    "decoder_intermediate_size",
    "norm_pix_loss",
    "id2label",
    "label2id",
)


def _default_id2label(num_labels: int) -> dict[int, str]:
    return {i: f"LABEL_{i}" for i in range(num_labels)}


class AdhVitConfig(VideoMAEConfig):
    r"""
    Configuration of [`AdhVitForDualHandClassification`]: a VideoMAE (V2) ViT backbone with one classification head per
    hand. It inherits every backbone field from [`VideoMAEConfig`] and adds:

    lh_num_labels / rh_num_labels (`int`, *optional*, defaults to 75):
        Number of classes of the left-hand / right-hand head. Derived from `lh_id2label` / `rh_id2label` when those are
        given; setting it later regenerates `LABEL_i` names when the count changes.
    lh_id2label / rh_id2label (`dict[int, str]`, *optional*):
        Class names per hand. Defaults to `{i: "LABEL_i"}`.
    lh_label2id / rh_label2id (`dict[str, int]`, *optional*):
        Inverse maps, derived from the id2label maps when not given.
    drop_path_rate (`float`, *optional*, defaults to 0.0):
        Stochastic depth rate of the last layer; layer `i` uses `drop_path_rate * i / (num_hidden_layers - 1)` as in
        VideoMAE V2.
    head_dropout (`float`, *optional*, defaults to 0.0):
        Dropout on the pooled feature before both heads.
    init_scale (`float`, *optional*, defaults to 0.001):
        The original ADH-ViT's `--init_scale`, kept so its flags and saved configs carry over. As in the original, it
        does not touch the hand heads: the original scales VideoMAE V2's single `head` by it and then builds
        `lh_head`/`rh_head` anew, so new heads start trunc-normal with std `initializer_range` (0.02) and zero bias.
    layer_norm_eps (`float`, *optional*, defaults to 1e-6):
        VideoMAE V2's value (HF VideoMAE defaults to 1e-12, which changes the logits of V2 weights).
    camera_feature_fusion (`str`, *optional*):
        `"mean"` or `"max"` for a model trained on synchronised cameras with `--camera_training feature_fusion`: the
        cameras of a clip go through the backbone together and their pooled features are fused so before the heads.
        `None` (a single camera, or `--camera_training pooled`): each camera is scored alone.

    Example:

    ```python
    >>> from adhvit_hf import AdhVitConfig, AdhVitForDualHandClassification

    >>> config = AdhVitConfig(lh_num_labels=20, rh_num_labels=20, drop_path_rate=0.1)
    >>> model = AdhVitForDualHandClassification(config)
    ```"""

    model_type = "adhvit"

    layer_norm_eps: float = 1e-6
    lh_id2label: dict[int, str] | dict[str, str] | None = None
    rh_id2label: dict[int, str] | dict[str, str] | None = None
    lh_label2id: dict[str, int] | dict[str, str] | None = None
    rh_label2id: dict[str, int] | dict[str, str] | None = None
    drop_path_rate: float | int = 0.0
    head_dropout: float | int = 0.0
    init_scale: float | int = 0.001
    camera_feature_fusion: str | None = None

    def __post_init__(self, **kwargs):
        num_labels_per_hand = {hand: kwargs.pop(f"{hand}_num_labels", None) for hand in HANDS}
        super().__post_init__(**kwargs)
        for hand, num_labels in num_labels_per_hand.items():
            self._init_hand_labels(hand, num_labels)
        self._check_sizes()

    def _init_hand_labels(self, hand: str, num_labels: int | None) -> None:
        id2label = getattr(self, f"{hand}_id2label")
        if id2label is None:
            num_labels = DEFAULT_NUM_LABELS_PER_HAND if num_labels is None else num_labels
            _check_num_labels(hand, num_labels)
            id2label = _default_id2label(num_labels)
        elif num_labels is not None and num_labels != len(id2label):
            raise ValueError(
                f"{hand}_num_labels={num_labels} does not match the {len(id2label)} entries of {hand}_id2label."
            )
        # JSON turns integer keys into strings; restore them so logits indices look labels up directly.
        id2label = {int(key): value for key, value in id2label.items()}
        _check_num_labels(hand, len(id2label))
        label2id = getattr(self, f"{hand}_label2id")
        if label2id is None or len(label2id) != len(id2label):
            label2id = {name: index for index, name in id2label.items()}
        else:
            label2id = {name: int(index) for name, index in label2id.items()}
        setattr(self, f"{hand}_id2label", id2label)
        setattr(self, f"{hand}_label2id", label2id)

    def _check_sizes(self) -> None:
        image_size = as_pair(self.image_size)
        patch_size = as_pair(self.patch_size)
        if self.tubelet_size < 1 or self.num_frames % self.tubelet_size != 0:
            raise ValueError(
                f"num_frames ({self.num_frames}) must be a multiple of tubelet_size ({self.tubelet_size})."
            )
        if any(size % patch for size, patch in zip(image_size, patch_size)):
            raise ValueError(f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}.")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be a multiple of num_attention_heads "
                f"({self.num_attention_heads})."
            )
        if self.camera_feature_fusion not in (None, *CAMERA_FEATURE_FUSIONS):
            raise ValueError(
                f"camera_feature_fusion must be None or one of {CAMERA_FEATURE_FUSIONS}, got "
                f"{self.camera_feature_fusion!r}."
            )
        if not self.use_mean_pooling:
            raise ValueError(
                "use_mean_pooling must be True: AdhVit pools the mean of all patch tokens through fc_norm, "
                "as VideoMAE V2 fine-tuning does."
            )
        for name in ("drop_path_rate", "head_dropout", "hidden_dropout_prob", "attention_probs_dropout_prob"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}.")

    def to_dict(self) -> dict:
        output = super().to_dict()
        for key in NOT_SERIALIZED:
            output.pop(key, None)
        return output

    @property
    def custom_pipelines(self) -> dict:
        """The pipelines the folder ships as remote code (`config.json`'s `custom_pipelines`), less the tasks that the
        installed adhvit_hf serves in this process.

        transformers' `pipeline()` builds a task named here from the folder's code, and only with
        `trust_remote_code=True`, before it consults its registry. Where adhvit_hf is imported (its config class is
        the one `AutoConfig` maps "adhvit" to, and its pipeline is registered for the task), the task is the
        installed one instead: `pipeline(task, model=folder)` needs no `trust_remote_code` and nothing from the
        folder runs. The saved value (`to_dict`, `save_pretrained`) stays whole, so a process without adhvit_hf
        still finds the task in the folder, and a config built from the folder's own code (`trust_remote_code=True`)
        keeps its remote pipeline.
        """
        declared = self.__dict__.get("custom_pipelines") or {}
        return {task: spec for task, spec in declared.items() if not _installed_pipeline_serves(type(self), task)}

    @custom_pipelines.setter
    def custom_pipelines(self, value: dict) -> None:
        self.__dict__["custom_pipelines"] = value

    @property
    def lh_num_labels(self) -> int:
        """Number of left-hand classes (the length of `lh_id2label`)."""
        return len(self.lh_id2label)

    @lh_num_labels.setter
    def lh_num_labels(self, num_labels: int) -> None:
        self._set_num_labels("lh", num_labels)

    @property
    def rh_num_labels(self) -> int:
        """Number of right-hand classes (the length of `rh_id2label`)."""
        return len(self.rh_id2label)

    @rh_num_labels.setter
    def rh_num_labels(self, num_labels: int) -> None:
        self._set_num_labels("rh", num_labels)

    def _set_num_labels(self, hand: str, num_labels: int) -> None:
        _check_num_labels(hand, num_labels)
        if len(getattr(self, f"{hand}_id2label")) != num_labels:
            setattr(self, f"{hand}_id2label", _default_id2label(num_labels))
            setattr(self, f"{hand}_label2id", {f"LABEL_{i}": i for i in range(num_labels)})


def _installed_pipeline_serves(config_class: type, task: str) -> bool:
    """Whether `task` resolves, in this process, to a registered pipeline for configs of `config_class` (what
    `adhvit_hf.register()` sets up); transformers' registry lives in `transformers.pipelines`, which is never imported
    here for this question: where nothing imported it, no pipeline is being built."""
    pipelines = sys.modules.get("transformers.pipelines")
    if pipelines is None or task not in pipelines.PIPELINE_REGISTRY.supported_tasks:
        return False
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    return config_class.model_type in CONFIG_MAPPING and CONFIG_MAPPING[config_class.model_type] is config_class


# The config keeps a name per class, so a mistyped count (1e11) would exhaust memory instead of failing.
MAX_NUM_LABELS_PER_HAND = 1_000_000


def _check_num_labels(hand: str, num_labels) -> None:
    if not isinstance(num_labels, int) or not 1 <= num_labels <= MAX_NUM_LABELS_PER_HAND:
        raise ValueError(
            f"{hand}_num_labels must be an integer from 1 to {MAX_NUM_LABELS_PER_HAND}, got {num_labels!r}."
        )


def as_pair(size) -> tuple[int, int]:
    """`size` as (height, width): an int is square, a list or tuple is taken as is."""
    return tuple(size) if isinstance(size, (list, tuple)) else (size, size)


__all__ = ["AdhVitConfig"]

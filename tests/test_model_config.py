# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import json

import pytest
from helpers.models import tiny_config
from transformers import AutoConfig

from adhvit_hf import AdhVitConfig, config_from_model_name
from adhvit_hf.configuration_adhvit import NOT_SERIALIZED


def test_defaults_follow_videomae_v2():
    config = AdhVitConfig()
    assert config.model_type == "adhvit"
    assert (config.lh_num_labels, config.rh_num_labels) == (75, 75)
    assert config.lh_id2label[74] == "LABEL_74"
    assert config.rh_label2id["LABEL_3"] == 3
    assert config.layer_norm_eps == 1e-6
    assert (config.drop_path_rate, config.head_dropout, config.init_scale) == (0.0, 0.0, 0.001)
    assert config.use_mean_pooling is True


def test_label_maps_keep_integer_keys_through_json(tmp_path):
    config = tiny_config(lh_id2label={0: "grasp", 1: "screw", 2: "null"})
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["lh_id2label"] == {"0": "grasp", "1": "screw", "2": "null"}

    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, AdhVitConfig)
    assert loaded.lh_id2label == {0: "grasp", 1: "screw", 2: "null"}
    assert loaded.lh_label2id == {"grasp": 0, "screw": 1, "null": 2}
    assert loaded.rh_id2label == {i: f"LABEL_{i}" for i in range(4)}
    assert loaded.to_dict() == config.to_dict() | {"_name_or_path": str(tmp_path)}


def test_num_labels_override_regenerates_names(tmp_path):
    tiny_config(lh_num_labels=3).save_pretrained(tmp_path)
    config = AdhVitConfig.from_pretrained(tmp_path, lh_num_labels=5)
    assert config.lh_id2label == {i: f"LABEL_{i}" for i in range(5)}
    assert config.lh_label2id == {f"LABEL_{i}": i for i in range(5)}
    config.lh_num_labels = 5  # same count: names kept
    assert len(config.lh_id2label) == 5


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(num_frames=5), "num_frames (5) must be a multiple of tubelet_size (2)."),
        (dict(image_size=40), "image_size 40 must be a multiple of patch_size 16."),
        (dict(lh_num_labels=0), "lh_num_labels must be an integer from 1 to 1000000, got 0."),
        (dict(lh_num_labels=99999999999), "lh_num_labels must be an integer from 1 to 1000000, got 99999999999."),
        (dict(rh_num_labels=-2), "rh_num_labels must be an integer from 1 to 1000000, got -2."),
        (dict(lh_id2label={0: "a"}, lh_num_labels=3), "lh_num_labels=3 does not match the 1 entries of lh_id2label."),
        (dict(num_attention_heads=3), "hidden_size (32) must be a multiple of num_attention_heads (3)."),
        (dict(drop_path_rate=1.0), "drop_path_rate must be in [0, 1), got 1.0."),
        (dict(use_mean_pooling=False), "use_mean_pooling must be True"),
    ],
)
def test_invalid_values_name_the_field(overrides, message):
    with pytest.raises(ValueError) as error:
        tiny_config(**overrides)
    assert message in str(error.value)


def test_setting_zero_labels_later_is_refused():
    config = tiny_config()
    with pytest.raises(ValueError, match=r"^rh_num_labels must be an integer from 1 to 1000000, got 0\.$"):
        config.rh_num_labels = 0


@pytest.mark.parametrize(
    "name, hidden, layers, heads, mlp, patch",
    [
        ("vit_small_patch16_224", 384, 12, 6, 1536, 16),
        ("vit_base_patch16_224_alternating", 768, 12, 12, 3072, 16),
        ("vit_large_patch16_224_alternating", 1024, 24, 16, 4096, 16),
        ("vit_huge_patch16_224", 1280, 32, 16, 5120, 16),
        ("vit_giant_patch14_224_alternating", 1408, 40, 16, 6144, 14),
    ],
)
def test_config_from_original_model_name(name, hidden, layers, heads, mlp, patch):
    config = config_from_model_name(name, lh_num_labels=20, num_frames=8)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (hidden, layers, heads)
    assert (config.intermediate_size, config.patch_size, config.image_size) == (mlp, patch, 224)
    assert (config.lh_num_labels, config.rh_num_labels, config.num_frames) == (20, 75, 8)


def test_unknown_model_name_lists_known_names():
    with pytest.raises(ValueError) as error:
        config_from_model_name("vit_tiny_patch16_224")
    message = str(error.value)
    assert message.startswith("Unknown model name 'vit_tiny_patch16_224'; known names: vit_small_patch14_224,")
    assert "vit_giant_patch14_224_alternating" in message


def test_videomae_decoder_fields_and_the_single_head_label_map_are_not_saved(tmp_path):
    tiny_config().save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert not set(NOT_SERIALIZED) & set(saved)
    assert saved["lh_id2label"] == {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    # A config.json written before still loads, its extra fields read and dropped at the next save.
    old = {**saved, "decoder_hidden_size": 384, "norm_pix_loss": True, "id2label": {"0": "a", "1": "b"}}
    (tmp_path / "config.json").write_text(json.dumps(old))
    loaded = AdhVitConfig.from_pretrained(tmp_path)
    assert loaded.decoder_hidden_size == 384 and loaded.lh_num_labels == 3 and loaded.rh_num_labels == 4
    assert not set(NOT_SERIALIZED) & set(loaded.to_diff_dict())

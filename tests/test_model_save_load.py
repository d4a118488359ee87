# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import ast
import json
import logging
from pathlib import Path

import pytest
import torch
from helpers.models import tiny_pixels
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification

from adhvit_hf import AdhVitConfig, AdhVitForDualHandClassification, modeling_adhvit


def test_round_trip_reproduces_every_tensor(saved, caplog):
    model, folder = saved.model, saved.folder
    with caplog.at_level(logging.WARNING, logger="adhvit_hf"):
        loaded, info = AdhVitForDualHandClassification.from_pretrained(folder, output_loading_info=True)
    assert not [record for record in caplog.records if record.name.startswith("adhvit_hf")]  # no head is new
    assert info["missing_keys"] == set() and info["unexpected_keys"] == set() and info["mismatched_keys"] == set()
    expected, actual = model.state_dict(), loaded.state_dict()
    assert expected.keys() == actual.keys()
    for name, tensor in expected.items():
        assert torch.equal(actual[name], tensor), name
    bias = loaded.videomae.encoder.layer[1].attention.attention.value.bias
    assert torch.count_nonzero(bias) == bias.numel()  # the q/v biases really came back, not zeros
    # the non-persistent position table is rebuilt, so the outputs match as well
    pixels = tiny_pixels()
    with torch.no_grad():
        assert torch.equal(loaded.eval()(pixels).rh_logits, model(pixels).rh_logits)


def test_saved_layout_matches_videomae(saved):
    folder = saved.folder
    names = load_file(folder / "model.safetensors").keys()
    # same on-disk names as transformers' VideoMAE; the position table is not saved
    assert "videomae.encoder.layer.0.attention.attention.q_bias" in names
    assert "videomae.encoder.layer.0.attention.attention.v_bias" in names
    assert "videomae.encoder.layer.0.attention.attention.query.bias" not in names
    assert not any("position_embeddings" in name for name in names)
    assert {"fc_norm.weight", "lh_classifier.weight", "rh_classifier.bias"} <= set(names)


def test_load_state_dict_of_saved_tensors_restores_the_attention_biases(saved):
    # Trainer's resume and load_best_model_at_end load the safetensors with load_state_dict(strict=False)
    model, folder = saved.model, saved.folder
    fresh = AdhVitForDualHandClassification(model.config)
    result = fresh.load_state_dict(load_file(folder / "model.safetensors"), strict=False)
    assert result.unexpected_keys == [] and result.missing_keys == []
    for name, tensor in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], tensor), name


def test_auto_classes_and_auto_map(saved):
    model, folder = saved.model, saved.folder
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "adhvit"
    assert config["auto_map"] == {
        "AutoConfig": "configuration_adhvit.AdhVitConfig",
        "AutoModel": "modeling_adhvit.AdhVitForDualHandClassification",
        "AutoModelForVideoClassification": "modeling_adhvit.AdhVitForDualHandClassification",
    }
    assert (folder / "configuration_adhvit.py").is_file() and (folder / "modeling_adhvit.py").is_file()
    assert isinstance(AutoConfig.from_pretrained(folder), AdhVitConfig)
    for auto_class in (AutoModel, AutoModelForVideoClassification):
        loaded = auto_class.from_pretrained(folder)
        assert type(loaded) is AdhVitForDualHandClassification
        assert torch.equal(loaded.lh_classifier.weight, model.lh_classifier.weight)


def test_head_size_mismatch_raises_runtime_error_naming_the_head(saved):
    folder = saved.folder
    for output_loading_info in (False, True):
        with pytest.raises(RuntimeError) as error:
            AdhVitForDualHandClassification.from_pretrained(
                folder, rh_num_labels=20, output_loading_info=output_loading_info
            )
        assert isinstance(error.value, ValueError)  # and still one `error:` line through run_cli
        assert str(error.value) == (
            f"rh_classifier: the checkpoint {folder} has 4 classes but the model was configured with 20 "
            "(rh_num_labels). Pass ignore_mismatched_sizes=True to from_pretrained to start a new 20-class "
            "rh_classifier."
        )


def test_backbone_shape_mismatch_lists_the_tensors(saved):
    folder = saved.folder
    with pytest.raises(RuntimeError) as error:
        AdhVitForDualHandClassification.from_pretrained(folder, intermediate_size=48)
    message = str(error.value)
    assert message.startswith(f"{folder}: saved tensors whose shape differs from the model's (saved vs model): ")
    assert "videomae.encoder.layer.0.intermediate.dense.weight (64, 32) vs (48, 32)" in message
    assert message.endswith("pass ignore_mismatched_sizes=True to from_pretrained to re-initialise them.")


def test_ignore_mismatched_sizes_starts_a_new_head(saved):
    model, folder = saved.model, saved.folder
    loaded, info = AdhVitForDualHandClassification.from_pretrained(
        folder, rh_num_labels=20, ignore_mismatched_sizes=True, output_loading_info=True
    )
    assert info["mismatched_keys"] == {
        ("rh_classifier.weight", (4, 32), (20, 32)),
        ("rh_classifier.bias", (4,), (20,)),
    }
    assert info["missing_keys"] == set() and info["unexpected_keys"] == set()
    assert loaded.rh_classifier.weight.shape == (20, 32)
    assert 0.01 < loaded.rh_classifier.weight.std() < 0.03  # a new head starts as the original's: std 0.02
    assert torch.count_nonzero(loaded.rh_classifier.bias) == 0
    assert torch.equal(loaded.lh_classifier.weight, model.lh_classifier.weight)
    assert torch.equal(loaded.fc_norm.weight, model.fc_norm.weight)


def test_loading_info_names_missing_and_unexpected_tensors_by_model_name(saved, tmp_path):
    model, folder = saved.model, saved.folder
    tensors = load_file(folder / "model.safetensors")
    kept = {
        name: tensor
        for name, tensor in tensors.items()
        if not name.startswith("rh_classifier.") and name != "videomae.encoder.layer.0.attention.attention.q_bias"
    }
    kept["extra.weight"] = torch.ones(2)
    model.config.save_pretrained(tmp_path)
    save_file(kept, tmp_path / "model.safetensors", metadata={"format": "pt"})
    loaded, info = AdhVitForDualHandClassification.from_pretrained(tmp_path, output_loading_info=True)
    # the saved q_bias/v_bias names are renamed before the comparison: only the really absent bias is reported
    assert info["missing_keys"] == {
        "rh_classifier.weight",
        "rh_classifier.bias",
        "videomae.encoder.layer.0.attention.attention.query.bias",
    }
    assert info["unexpected_keys"] == {"extra.weight"}
    assert info["mismatched_keys"] == set()
    assert torch.equal(
        loaded.videomae.encoder.layer[0].attention.attention.value.bias,
        model.videomae.encoder.layer[0].attention.attention.value.bias,
    )


FOLDER_V0 = Path(__file__).parent / "fixtures" / "adhvit_folder_v0"


def test_folder_saved_by_the_first_release_loads_bit_identically():
    # written by the package before it owned its transformer block (VideoMAELayer subclasses); see fixtures/README.md
    saved = load_file(FOLDER_V0 / "model.safetensors")
    model, info = AdhVitForDualHandClassification.from_pretrained(FOLDER_V0, output_loading_info=True)
    assert info == {"missing_keys": set(), "unexpected_keys": set(), "mismatched_keys": set(), "error_msgs": []}
    state = model.state_dict()
    renamed = {
        name.replace("attention.q_bias", "attention.query.bias").replace("attention.v_bias", "attention.value.bias"): t
        for name, t in saved.items()
    }
    assert renamed.keys() == state.keys()
    for name, tensor in renamed.items():
        assert torch.equal(state[name], tensor), name
    expected = json.loads((FOLDER_V0 / "expected_logits.json").read_text())
    pixels = torch.randn((1, 4, 3, 16, 16), generator=torch.Generator().manual_seed(expected["pixel_seed"]))
    with torch.no_grad():
        output = model(pixels)
    torch.testing.assert_close(output.lh_logits[0], torch.tensor(expected["lh_logits"]), rtol=0, atol=1e-6)
    torch.testing.assert_close(output.rh_logits[0], torch.tensor(expected["rh_logits"]), rtol=0, atol=1e-6)


def test_modeling_file_uses_no_videomae_internals():
    # the file ships as remote code in every Hub repo: it may use transformers' public model API only, plus the one
    # loading adapter (register_saved_attention_bias_names), whose behaviour the tests above pin down
    tree = ast.parse(Path(modeling_adhvit.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert not any(module.startswith("transformers.models") for module in imported), imported
    outside_adapter = [
        node for node in tree.body if getattr(node, "name", None) != "register_saved_attention_bias_names"
    ]
    loading_modules = {"transformers.conversion_mapping", "transformers.core_model_loading"}
    for node in outside_adapter:
        for inner in ast.walk(node):
            assert not (isinstance(inner, ast.ImportFrom) and inner.module in loading_modules), ast.unparse(inner)
            assert not (isinstance(inner, ast.Attribute) and inner.attr == "_finalize_model_loading")


def test_saved_bias_renaming_is_registered_once_and_renames_in_place():
    modeling_adhvit.register_saved_attention_bias_names(AdhVitConfig.model_type)  # a second import is harmless
    state = {
        "x.attention.attention.q_bias": 1,
        "x.attention.attention.v_bias": 2,
        "x.attention.attention.key.weight": 3,
    }
    modeling_adhvit.rename_saved_attention_biases(None, state, "x.")
    assert state == {
        "x.attention.attention.query.bias": 1,
        "x.attention.attention.value.bias": 2,
        "x.attention.attention.key.weight": 3,
    }

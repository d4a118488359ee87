# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
import json
import logging
import os

import pytest
import torch
from helpers.models import (
    reference_pooled_features,
    reference_sinusoid_table,
    tiny_config,
    tiny_model,
    tiny_pixels,
    tiny_videomae_config,
    videomae_v2_state_dict,
)
from safetensors.torch import load_file
from transformers import AutoVideoProcessor, VideoMAEForVideoClassification, VideoMAEModel

from adhvit_hf import (
    AdhVitForDualHandClassification,
    AdhVitVideoProcessor,
    convert_videomae_v2_checkpoint,
    load_pretrained_backbone,
)
from adhvit_hf.cli.convert import main as convert_main
from adhvit_hf.modeling_adhvit import sinusoid_position_table
from adhvit_hf.videomae_v2 import evaluation_processor


# tiny VideoMAE V2 geometry: 32x32 pixels, patch 16, tubelet 2, 4 frames -> 8 tokens of width 32, 2 heads
GEOMETRY = dict(image_size=32, num_frames=4, num_attention_heads=2)


def write_checkpoint(path, **kwargs):
    torch.save(videomae_v2_state_dict(**kwargs), path)
    return path


def test_position_table_matches_videomae_formula():
    assert torch.equal(sinusoid_position_table(16, 12), reference_sinusoid_table(16, 12))


def test_converted_model_reproduces_videomae_v2_pooled_features(tmp_path):
    checkpoint = write_checkpoint(tmp_path / "v2.pth")
    model = convert_videomae_v2_checkpoint(checkpoint, lh_num_labels=5, rh_num_labels=6, **GEOMETRY).eval()
    config = model.config
    assert (config.hidden_size, config.num_hidden_layers, config.intermediate_size) == (32, 2, 64)
    assert (config.patch_size, config.tubelet_size, config.lh_num_labels, config.rh_num_labels) == (16, 2, 5, 6)

    pixels = tiny_pixels(batch=3)
    state = videomae_v2_state_dict()["model"]
    # upstream takes (B, C, T, H, W); AdhVit takes (B, T, C, H, W)
    expected = reference_pooled_features(state, pixels.permute(0, 2, 1, 3, 4), num_heads=2)
    with torch.no_grad():
        output = model(pixels)
    torch.testing.assert_close(output.pooled_output, expected, rtol=0, atol=1e-4)
    assert output.lh_logits.shape == (3, 5)
    # without the q/v biases the features would differ: the check above really covers them
    no_bias = {name: (torch.zeros_like(t) if name.endswith(("q_bias", "v_bias")) else t) for name, t in state.items()}
    assert (reference_pooled_features(no_bias, pixels.permute(0, 2, 1, 3, 4), 2) - expected).abs().max() > 1e-2


HEAD_TENSORS = {"lh_classifier.weight", "lh_classifier.bias", "rh_classifier.weight", "rh_classifier.bias"}


def test_converter_writes_a_loadable_folder_whose_heads_load_as_missing(tmp_path, caplog):
    checkpoint = write_checkpoint(tmp_path / "v2.pth", wrap="module", prefix="_orig_mod.")
    model = convert_videomae_v2_checkpoint(checkpoint, tmp_path / "out", **GEOMETRY)
    saved = load_file(tmp_path / "out" / "model.safetensors").keys()
    assert not saved & HEAD_TENSORS  # untrained heads are not written as if they were trained
    assert "videomae.encoder.layer.0.attention.attention.q_bias" in saved and "fc_norm.weight" in saved
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="adhvit_hf"):
        loaded, info = AdhVitForDualHandClassification.from_pretrained(tmp_path / "out", output_loading_info=True)
    assert [record.getMessage() for record in caplog.records if record.name.startswith("adhvit_hf")] == [
        f"{tmp_path / 'out'} has no trained weights for lh_classifier and rh_classifier: they start new "
        "(trunc-normal std 0.02, zero bias)."
    ]
    assert info["missing_keys"] == HEAD_TENSORS
    assert info["unexpected_keys"] == set() and info["mismatched_keys"] == set()
    for name, tensor in model.state_dict().items():
        if name not in HEAD_TENSORS:
            assert torch.equal(loaded.state_dict()[name], tensor), name


def test_converted_folder_from_a_pretraining_checkpoint_lacks_fc_norm(tmp_path):
    state = videomae_v2_state_dict(wrap=None)
    for name in ("fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"):
        del state[name]
    torch.save(state, tmp_path / "pretrain.pth")
    convert_videomae_v2_checkpoint(tmp_path / "pretrain.pth", tmp_path / "out", **GEOMETRY)
    _, info = AdhVitForDualHandClassification.from_pretrained(tmp_path / "out", output_loading_info=True)
    assert info["missing_keys"] == HEAD_TENSORS | {"fc_norm.weight", "fc_norm.bias"}


def test_converted_folder_has_videomae_v2_evaluation_preprocessing(tmp_path):
    convert_videomae_v2_checkpoint(write_checkpoint(tmp_path / "v2.pth"), tmp_path / "out", **GEOMETRY)
    processor = AutoVideoProcessor.from_pretrained(tmp_path / "out")
    assert type(processor) is AdhVitVideoProcessor
    settings = {
        name: getattr(processor, name)
        for name in (
            "num_frames",
            "sampling_rate",
            "sparse_sample",
            "test_num_segment",
            "test_num_crop",
            "short_side_size",
            "crop_size",
            "image_mean",
            "image_std",
        )
    }
    assert settings == {
        "num_frames": 4,
        "sampling_rate": 4,
        "sparse_sample": False,
        "test_num_segment": 10,
        "test_num_crop": 3,
        "short_side_size": 224,
        "crop_size": 32,
        "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225],
    }
    assert evaluation_processor(tiny_config(image_size=256, patch_size=16)).short_side_size == 256


def test_backbone_from_a_converted_or_trained_folder_keeps_heads_new(tmp_path, caplog, capfd):
    converted = convert_videomae_v2_checkpoint(write_checkpoint(tmp_path / "v2.pth"), tmp_path / "out", **GEOMETRY)
    trained = tiny_model(seed=5)
    trained.save_pretrained(tmp_path / "trained")
    for folder, source in ((tmp_path / "out", converted), (tmp_path / "trained", trained)):
        torch.manual_seed(0)
        model = AdhVitForDualHandClassification(tiny_config())
        heads_before = {name: t.clone() for name, t in model.state_dict().items() if name in HEAD_TENSORS}
        caplog.clear()
        capfd.readouterr()
        with caplog.at_level(logging.INFO):
            load_pretrained_backbone(model, folder)
        assert "LOAD REPORT" not in capfd.readouterr().err  # transformers' table of the missing heads stays quiet
        for name, tensor in model.state_dict().items():
            expected = heads_before[name] if name in HEAD_TENSORS else source.state_dict()[name]
            assert torch.equal(tensor, expected), (folder.name, name)
        warnings = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
        assert warnings == [
            f"Loaded 34 backbone tensors from {folder}; newly initialised: lh_classifier, rh_classifier"
        ]


def test_help_shows_the_console_script_and_its_example(capsys):
    with pytest.raises(SystemExit):
        convert_main(["--help"])
    help_text = capsys.readouterr().out
    assert help_text.startswith("usage: adhvit-convert [-h] --checkpoint CHECKPOINT [--output_dir OUTPUT_DIR]")
    assert (
        "    adhvit-convert --checkpoint vit_b_k710_dl_from_giant.pth --output_dir adhvit-base \\\n"
        "        --lh_num_labels 75 --rh_num_labels 75\n"
    ) in help_text


def test_script_converts_with_label_counts(tmp_path):
    checkpoint = write_checkpoint(tmp_path / "v2.pth", prefix="backbone.")
    convert_main(
        [
            "--checkpoint",
            str(checkpoint),
            "--output-dir",
            str(tmp_path / "out"),
            "--lh_num_labels",
            "20",
            "--rh_num_labels",
            "30",
            "--image_size",
            "32",
            "--num_frames",
            "4",
            "--num_attention_heads",
            "2",
        ]
    )
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert (len(config["lh_id2label"]), len(config["rh_id2label"])) == (20, 30)
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_frames"]) == (32, 2, 4)
    assert config["num_attention_heads"] == 2


def test_frame_count_is_read_from_a_saved_position_table(tmp_path):
    state = videomae_v2_state_dict(wrap=None)
    state["pos_embed"] = sinusoid_position_table(3 * 4, 32).unsqueeze(0)  # 3 tubelets of 2x2 patches
    torch.save(state, tmp_path / "v2.pth")
    model = convert_videomae_v2_checkpoint(tmp_path / "v2.pth", image_size=32, num_attention_heads=2)
    assert model.config.num_frames == 6


def test_learnt_position_table_is_refused(tmp_path):
    state = videomae_v2_state_dict(wrap=None)
    state["pos_embed"] = torch.randn(1, 8, 32)
    torch.save(state, tmp_path / "v2.pth")
    with pytest.raises(ValueError, match="pos_embed is not the fixed sin-cos table; learnable position"):
        convert_videomae_v2_checkpoint(tmp_path / "v2.pth", **GEOMETRY)


def test_layer_scale_checkpoints_are_refused_by_name(tmp_path):
    state = videomae_v2_state_dict(wrap=None)
    state["blocks.0.gamma_1"] = torch.ones(32)
    torch.save(state, tmp_path / "v2.pth")
    with pytest.raises(ValueError, match=r"tensors with no AdhVit counterpart: blocks\.0\.gamma_1 \(layer scale"):
        convert_videomae_v2_checkpoint(tmp_path / "v2.pth", **GEOMETRY)


def test_unknown_width_needs_the_head_count(tmp_path):
    checkpoint = write_checkpoint(tmp_path / "v2.pth")
    with pytest.raises(ValueError, match=r"Cannot infer num_attention_heads for hidden size 32 \(known: small=384,"):
        convert_videomae_v2_checkpoint(checkpoint, image_size=32, num_frames=4)


class RunsCode:
    """A pickle payload that would create a marker file when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    checkpoint = tmp_path / "evil.pth"
    torch.save({"model": {"blocks.0.norm1.weight": RunsCode(str(marker))}}, checkpoint)
    with pytest.raises(ValueError) as error:
        convert_videomae_v2_checkpoint(checkpoint, **GEOMETRY)
    assert str(error.value).startswith(f"{checkpoint}: refused to load, the file holds Python objects that would run")
    assert not marker.exists()
    model = AdhVitForDualHandClassification(tiny_config())
    with pytest.raises(ValueError, match="refused to load"):
        load_pretrained_backbone(model, checkpoint)
    assert not marker.exists()


def test_corrupt_file_names_the_file(tmp_path):
    checkpoint = tmp_path / "broken.pth"
    checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=f"^{checkpoint}: "):
        convert_videomae_v2_checkpoint(checkpoint, **GEOMETRY)


def test_backbone_from_pth_keeps_heads_new(tmp_path, caplog):
    checkpoint = write_checkpoint(tmp_path / "v2.pth", wrap="module", prefix="encoder.")
    torch.manual_seed(0)
    model = AdhVitForDualHandClassification(tiny_config()).eval()
    heads_before = model.lh_classifier.weight.clone()
    with caplog.at_level(logging.WARNING):
        load_pretrained_backbone(model, checkpoint, model_key="model|module")
    state = videomae_v2_state_dict()["model"]
    layer = model.videomae.encoder.layer[1].attention.attention
    assert torch.equal(layer.value.bias, state["blocks.1.attn.v_bias"])
    assert torch.equal(layer.key.weight, state["blocks.1.attn.qkv.weight"][32:64])
    assert torch.equal(model.fc_norm.bias, state["fc_norm.bias"])
    assert torch.equal(model.lh_classifier.weight, heads_before)
    assert "newly initialised: lh_classifier, rh_classifier" in caplog.text


def test_model_prefix_selects_the_tensors(tmp_path):
    checkpoint = write_checkpoint(tmp_path / "v2.pth", prefix="student.")
    model = AdhVitForDualHandClassification(tiny_config())
    load_pretrained_backbone(model, checkpoint, model_prefix="student.")
    expected = videomae_v2_state_dict()["model"]["patch_embed.proj.weight"]
    assert torch.equal(model.videomae.embeddings.patch_embeddings.projection.weight, expected)


def test_architecture_mismatch_names_tensor_and_shapes(tmp_path):
    checkpoint = write_checkpoint(tmp_path / "v2.pth", mlp=48)
    model = AdhVitForDualHandClassification(tiny_config())
    with pytest.raises(ValueError) as error:
        load_pretrained_backbone(model, checkpoint)
    assert str(error.value) == (
        f"{checkpoint}: videomae.encoder.layer.0.intermediate.dense.weight has shape (48, 32) in the checkpoint "
        "but (64, 32) in the model; the architectures differ."
    )


def test_depth_mismatch_is_refused(tmp_path):
    checkpoint = write_checkpoint(tmp_path / "v2.pth", depth=1)
    model = AdhVitForDualHandClassification(tiny_config())
    with pytest.raises(ValueError, match=r": no weights for videomae\.encoder\.layer\.1\."):
        load_pretrained_backbone(model, checkpoint)


@pytest.mark.parametrize("source_class", [VideoMAEModel, VideoMAEForVideoClassification])
def test_backbone_from_hf_videomae_folder(tmp_path, source_class):
    torch.manual_seed(0)
    source = source_class(tiny_videomae_config())
    with torch.no_grad():
        for parameter in source.parameters():
            parameter.normal_()
    source.save_pretrained(tmp_path / "videomae")
    torch.manual_seed(1)
    model = AdhVitForDualHandClassification(tiny_config())
    heads_before, fc_norm_before = model.rh_classifier.weight.clone(), model.fc_norm.weight.clone()
    load_pretrained_backbone(model, tmp_path / "videomae")

    backbone = source if source_class is VideoMAEModel else source.videomae
    expected = backbone.state_dict()
    for name, tensor in model.videomae.state_dict().items():
        assert torch.equal(tensor, expected[name]), name
    assert torch.count_nonzero(model.videomae.encoder.layer[0].attention.attention.query.bias) == 32
    assert torch.equal(model.rh_classifier.weight, heads_before)
    if source_class is VideoMAEForVideoClassification:
        assert torch.equal(model.fc_norm.weight, source.fc_norm.weight)
    else:
        assert torch.equal(model.fc_norm.weight, fc_norm_before)

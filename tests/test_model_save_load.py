import json

import pytest
import torch
from model_helpers import run_without_adhvit_hf, tiny_model, tiny_pixels
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification

from adhvit_hf import AdhVitConfig, AdhVitForDualHandClassification


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = tiny_model()
    folder = tmp_path_factory.mktemp("adhvit")
    model.save_pretrained(folder)
    return model, folder


def test_round_trip_reproduces_every_tensor(saved):
    model, folder = saved
    loaded, info = AdhVitForDualHandClassification.from_pretrained(folder, output_loading_info=True)
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
    _, folder = saved
    names = load_file(folder / "model.safetensors").keys()
    # same on-disk names as transformers' VideoMAE; the position table is not saved
    assert "videomae.encoder.layer.0.attention.attention.q_bias" in names
    assert "videomae.encoder.layer.0.attention.attention.v_bias" in names
    assert "videomae.encoder.layer.0.attention.attention.query.bias" not in names
    assert not any("position_embeddings" in name for name in names)
    assert {"fc_norm.weight", "lh_classifier.weight", "rh_classifier.bias"} <= set(names)


def test_load_state_dict_of_saved_tensors_restores_the_attention_biases(saved):
    # Trainer's resume and load_best_model_at_end load the safetensors with load_state_dict(strict=False)
    model, folder = saved
    fresh = AdhVitForDualHandClassification(model.config)
    result = fresh.load_state_dict(load_file(folder / "model.safetensors"), strict=False)
    assert result.unexpected_keys == [] and result.missing_keys == []
    for name, tensor in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], tensor), name


def test_auto_classes_and_auto_map(saved):
    model, folder = saved
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


def test_remote_code_loads_without_adhvit_hf(saved, tmp_path):
    model, folder = saved
    pixels = tiny_pixels()
    torch.save(pixels, tmp_path / "pixels.pt")
    script = """
        import torch
        from transformers import AutoModel, AutoModelForVideoClassification
        folder, work = sys.argv[1], sys.argv[2]
        pixels = torch.load(work + "/pixels.pt", weights_only=True)
        outputs = {}
        for name, auto_class in (("model", AutoModel), ("video", AutoModelForVideoClassification)):
            model = auto_class.from_pretrained(folder, trust_remote_code=True).eval()
            assert type(model).__module__.startswith("transformers_modules."), type(model).__module__
            with torch.no_grad():
                output = model(pixels)
            outputs[name] = (output.lh_logits, output.rh_logits)
        torch.save(outputs, work + "/logits.pt")
        """
    result = run_without_adhvit_hf(script, [folder, tmp_path], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    remote = torch.load(tmp_path / "logits.pt", weights_only=True)
    with torch.no_grad():
        local = model(pixels)
    for lh_logits, rh_logits in remote.values():
        assert torch.equal(lh_logits, local.lh_logits)
        assert torch.equal(rh_logits, local.rh_logits)


def test_head_size_mismatch_names_the_head(saved):
    _, folder = saved
    with pytest.raises(ValueError) as error:
        AdhVitForDualHandClassification.from_pretrained(folder, rh_num_labels=20)
    assert str(error.value) == (
        f"rh_classifier: the checkpoint {folder} has 4 classes but the model was configured with 20 "
        "(rh_num_labels). Pass ignore_mismatched_sizes=True to from_pretrained to start a new 20-class rh_classifier."
    )


def test_ignore_mismatched_sizes_starts_a_new_head(saved):
    model, folder = saved
    loaded = AdhVitForDualHandClassification.from_pretrained(folder, rh_num_labels=20, ignore_mismatched_sizes=True)
    assert loaded.rh_classifier.weight.shape == (20, 32)
    assert loaded.rh_classifier.weight.abs().max() < 0.001 * 0.02 * 5  # VideoMAE V2 head init
    assert torch.equal(loaded.lh_classifier.weight, model.lh_classifier.weight)
    assert torch.equal(loaded.fc_norm.weight, model.fc_norm.weight)

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Pushing to the Hub end to end against the local Hub: remote-code files, upload, Trainer pushes, and loading the
pushed repo with `trust_remote_code=True` in a process where `import adhvit_hf` fails."""

import json

import pytest
import torch
from helpers.models import LH_LABELS, RH_LABELS, run_without_adhvit_hf, tiny_model, tiny_processor
from helpers.training import two_step_trainer
from huggingface_hub import ModelCard
from transformers import Trainer, TrainingArguments

from adhvit_hf.publishing import add_remote_code
from adhvit_hf.training.hub_push import HubPushMixin


REMOTE_CODE_FILES = ["configuration_adhvit.py", "modeling_adhvit.py", "pipeline_adhvit.py", "processing_adhvit.py"]

# Runs where adhvit_hf cannot be imported (only the pushed files can define AdhVit); the local hub's environment comes
# as JSON and is set before huggingface_hub reads it.
CLEAN_PROCESS_LOADER = """
import json, os, sys
os.environ.update(json.loads(sys.argv[1]))
import torch
from transformers import AutoModel, AutoVideoProcessor

repo_id, pixel_values_path, out_path = sys.argv[2:]
model = AutoModel.from_pretrained(repo_id, trust_remote_code=True).eval()
processor = AutoVideoProcessor.from_pretrained(repo_id, trust_remote_code=True)
with torch.no_grad():
    output = model(torch.load(pixel_values_path, weights_only=True))
torch.save({"lh_logits": output.lh_logits, "rh_logits": output.rh_logits}, out_path)
with open(out_path + ".json", "w") as file:
    json.dump({"model_module": type(model).__module__, "processor_class": type(processor).__name__,
               "processor_num_frames": processor.num_frames, "lh_id2label": model.config.lh_id2label}, file)
"""


def one_view_processor():
    return tiny_processor(test_num_segment=1, test_num_crop=1)


def load_in_clean_process(hub, repo_id: str, pixel_values: torch.Tensor, tmp_path) -> tuple[dict, dict]:
    """Loads `repo_id` from the local hub in a process that cannot import adhvit_hf; returns its logits and facts."""
    torch.save(pixel_values, tmp_path / "pixel_values.pt")
    out_path = tmp_path / "remote_logits.pt"
    env = {**hub.env, "HF_HOME": str(tmp_path / "hf_home"), "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = run_without_adhvit_hf(
        CLEAN_PROCESS_LOADER, [json.dumps(env), repo_id, tmp_path / "pixel_values.pt", out_path], tmp_path
    )
    assert result.returncode == 0, result.stderr[-4000:]
    facts = json.loads((tmp_path / "remote_logits.pt.json").read_text())
    return torch.load(out_path, weights_only=True), facts


def assert_same_logits(model, pixel_values, remote_logits):
    with torch.no_grad():
        expected = model(pixel_values)
    torch.testing.assert_close(remote_logits["lh_logits"], expected.lh_logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(remote_logits["rh_logits"], expected.rh_logits, rtol=0, atol=1e-6)


def test_add_remote_code_fills_a_saved_folder(tmp_path):
    tiny_model(lh_id2label=LH_LABELS, rh_id2label=RH_LABELS).save_pretrained(tmp_path)
    one_view_processor().save_pretrained(tmp_path)

    assert add_remote_code(tmp_path) == REMOTE_CODE_FILES

    for name in REMOTE_CODE_FILES:
        assert (tmp_path / name).is_file(), name
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_adhvit.AdhVitForDualHandClassification"
    assert config["custom_pipelines"]["dual-hand-video-classification"]["impl"] == (
        "pipeline_adhvit.DualHandVideoClassificationPipeline"
    )
    processor_config = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert processor_config["auto_map"] == {"AutoVideoProcessor": "processing_adhvit.AdhVitVideoProcessor"}


def test_add_remote_code_into_an_empty_output_dir_copies_only_the_code(tmp_path):
    output_dir = tmp_path / "not_yet_saved"

    assert add_remote_code(output_dir) == REMOTE_CODE_FILES
    assert sorted(path.name for path in output_dir.iterdir()) == REMOTE_CODE_FILES


def test_add_remote_code_refuses_a_config_without_auto_map(tmp_path):
    tiny_model(lh_id2label=LH_LABELS, rh_id2label=RH_LABELS).config.to_json_file(tmp_path / "config.json")
    config = json.loads((tmp_path / "config.json").read_text())
    config.pop("auto_map", None)
    (tmp_path / "config.json").write_text(json.dumps(config))

    with pytest.raises(ValueError, match=r"config\.json has no auto_map, so the model cannot load with trust_remote"):
        add_remote_code(tmp_path)


class PushingTrainer(HubPushMixin, Trainer):
    """A plain Trainer with the Hub hooks, so the push path is tested apart from alternation."""


def clip_dataset(size: int) -> list[dict]:
    generator = torch.Generator().manual_seed(2)
    return [
        {
            "pixel_values": torch.randn(4, 3, 32, 32, generator=generator),
            "lh_labels": i % len(LH_LABELS),
            "rh_labels": i % len(RH_LABELS),
        }
        for i in range(size)
    ]


@pytest.mark.slow
def test_trainer_pushes_remote_code_and_card_with_every_checkpoint(local_hub, tmp_path):
    args = TrainingArguments(
        output_dir=str(tmp_path / "output"),
        max_steps=2,
        save_strategy="steps",
        save_steps=1,
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        label_names=["lh_labels", "rh_labels"],
        push_to_hub=True,
        hub_model_id="local-user/tiny-trainer",
        hub_strategy="every_save",
        hub_always_push=True,
    )
    trainer = PushingTrainer(
        model=tiny_model(lh_id2label=LH_LABELS, rh_id2label=RH_LABELS),
        args=args,
        train_dataset=clip_dataset(4),
        processing_class=one_view_processor(),
    )
    trainer.model_card_kwargs = {"dataset_name": "demo"}

    trainer.train()
    # as run_havid.py does after --do_predict; the final card must pick these up from all_results.json
    trainer.save_metrics("test", {"test_lh_top1": 75.0, "test_rh_top1": 50.0, "test_mean_top1": 62.5})
    trainer.push_to_hub(commit_message="End of training")

    commits = local_hub.commits("local-user/tiny-trainer")
    messages = [commit.message for commit in commits]
    # Intermediate pushes run in the background: a later one finds nothing new when an earlier upload already
    # picked up its files, so step 2 may be folded into step 1's commit.
    assert messages[:2] == ["initial commit", "Training in progress, step 1"] and messages[-1] == "End of training"
    assert set(messages[2:-1]) <= {"Training in progress, step 2"}
    first_push = local_hub.files("local-user/tiny-trainer", revision=commits[1].oid)
    for name in REMOTE_CODE_FILES + ["config.json", "model.safetensors", "preprocessor_config.json", "README.md"]:
        assert name in first_push, name
    assert "custom_pipelines" in json.loads(first_push["config.json"])
    final = local_hub.files("local-user/tiny-trainer")
    card = final["README.md"].decode()
    assert "# tiny-trainer" in card
    assert "| optimizer steps | 2 |" in card
    assert "| batch size (all devices, with accumulation) | 2 |" in card
    assert "| 1 | screw |" in card
    assert "| left hand | test | 75.00 | - | - |" in card
    results = ModelCard(card).data.eval_results
    metrics = {(r.dataset_config, r.dataset_split, r.metric_type): r.metric_value for r in results}
    assert metrics == {("lh", "test", "accuracy"): 75.0, ("rh", "test", "accuracy"): 50.0}
    assert not any(name.startswith("checkpoint-") for name in final)

    pixel_values = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    remote_logits, _ = load_in_clean_process(local_hub, "local-user/tiny-trainer", pixel_values, tmp_path)
    assert_same_logits(trainer.model.eval(), pixel_values, remote_logits)


@pytest.mark.slow
def test_alternating_trainer_push_carries_remote_code_and_the_alternation_recipe(local_hub, tmp_path):
    trainer = two_step_trainer(tmp_path / "output", push_to_hub=True, hub_model_id="local-user/tiny-alternating")
    trainer.train()
    trainer.push_to_hub(finetuned_from=str(tmp_path / "vit_b.pth"))

    assert [c.message for c in local_hub.commits("local-user/tiny-alternating")] == [
        "initial commit",
        "Training in progress, step 2",
        "End of training",
    ]
    pushed = local_hub.files("local-user/tiny-alternating")
    for name in REMOTE_CODE_FILES + ["config.json", "model.safetensors", "preprocessor_config.json"]:
        assert name in pushed, name
    card = pushed["README.md"].decode()
    assert "| alternation strategy | fixed |" in card
    assert "| optimizer steps per hand before switching | 1 |" in card
    assert "Backbone initialised from `vit_b.pth`." in card

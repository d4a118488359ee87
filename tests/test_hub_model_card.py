# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The model card: rendered from model_card.md with huggingface_hub's card data, metrics as a model-index."""

import re
from types import SimpleNamespace

import pytest
import yaml
from helpers.models import tiny_config
from huggingface_hub import ModelCard
from transformers import TrainingArguments

from adhvit_hf.publishing import model_card, render_model_card, training_summary_from_args


LH_LABELS = {0: "grab", 1: "screw|in", 2: "null"}
RH_LABELS = {0: "hold", 1: "place"}
METRICS = {
    "eval_lh_top1": 91.25,
    "eval_lh_top5": 100.0,
    "eval_lh_mean_class_acc": 88.5,
    "eval_rh_top1": 80.0,
    "eval_rh_top5": 97.5,
    "eval_rh_mean_class_acc": 70.125,
    "eval_mean_top1": 85.625,
    "test_lh_top1": 60.1,
    "test_rh_top1": 61.4,
    "eval_loss": 0.7,
    "epoch": 3.0,
}
RECIPE = {
    "alternation_strategy": "fixed",
    "alternation_steps": 50,
    "num_train_epochs": 35,
    "learning_rate": 0.0005,
    "total_train_batch_size": 96,
    "num_frames": 16,
    "sampling_rate": 4,
}


def card_config():
    return tiny_config(lh_id2label=LH_LABELS, rh_id2label=RH_LABELS)


def front_matter(text: str) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", text, flags=re.DOTALL)
    assert match is not None, text[:200]
    return yaml.safe_load(match.group(1))


def section(text: str, title: str) -> str:
    """The body of the markdown section `title` (up to the next heading of the same or a higher level)."""
    level = title.split(" ")[0]
    start = text.index(title + "\n") + len(title) + 1
    following = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", text[start:], flags=re.MULTILINE)]
    return text[start : start + following[0]] if following else text[start:]


@pytest.fixture
def card_text(tmp_path):
    path = render_model_card(
        tmp_path,
        card_config(),
        METRICS,
        RECIPE,
        hub_model_id="someone/adhvit-tiny",
        dataset_name="HA-ViD",
        license="cc-by-nc-4.0",
    )
    assert path == tmp_path / "README.md"
    return path.read_text(encoding="utf-8")


def test_model_index_holds_each_hands_metrics(card_text):
    metadata = front_matter(card_text)
    assert metadata["library_name"] == "transformers"
    assert metadata["pipeline_tag"] == "video-classification"
    assert metadata["license"] == "cc-by-nc-4.0"
    assert metadata["model-index"][0]["name"] == "adhvit-tiny"

    results = ModelCard(card_text).data.eval_results
    found = {(r.dataset_config, r.dataset_split, r.metric_type): r.metric_value for r in results}
    assert found == {
        ("lh", "validation", "accuracy"): 91.25,
        ("lh", "validation", "top_5_accuracy"): 100.0,
        ("lh", "validation", "mean_class_accuracy"): 88.5,
        ("rh", "validation", "accuracy"): 80.0,
        ("rh", "validation", "top_5_accuracy"): 97.5,
        ("rh", "validation", "mean_class_accuracy"): 70.125,
        ("lh", "test", "accuracy"): 60.1,
        ("rh", "test", "accuracy"): 61.4,
    }
    assert {(r.task_type, r.dataset_name, r.dataset_type) for r in results} == {
        ("video-classification", "HA-ViD", "ha-vid")
    }
    assert {r.metric_name for r in results if r.dataset_config == "rh" and r.dataset_split == "test"} == {
        "right hand top-1 accuracy"
    }


def test_results_table_rounds_to_two_decimals_and_marks_missing_metrics(card_text):
    results = section(card_text, "## Results")
    assert "| left hand | validation | 91.25 | 100.00 | 88.50 |" in results
    assert "| right hand | validation | 80.00 | 97.50 | 70.12 |" in results
    assert "| left hand | test | 60.10 | - | - |" in results
    assert "Mean top-1 of both hands (validation): 85.62" in results


def test_both_hands_label_lists_are_complete(card_text):
    left, right = section(card_text, "### Left hand"), section(card_text, "### Right hand")
    row = re.compile(r"^\| (\d+) \| (.+) \|$", flags=re.MULTILINE)
    assert row.findall(left) == [("0", "grab"), ("1", r"screw\|in"), ("2", "null")]
    assert row.findall(right) == [("0", "hold"), ("1", "place")]
    assert "**left hand** (3 classes)" in card_text and "**right hand** (2 classes)" in card_text


def test_recipe_table_keeps_the_given_order(card_text):
    rows = re.findall(r"^\| (.+) \| (.+) \|$", section(card_text, "## Training recipe"), flags=re.MULTILINE)
    assert rows[1:] == [
        ("alternation strategy", "fixed"),
        ("optimizer steps per hand before switching", "50"),
        ("epochs", "35"),
        ("learning rate (peak)", "0.0005"),
        ("batch size (all devices, with accumulation)", "96"),
        ("frames per clip", "16"),
        ("frame sampling rate", "4"),
    ]


def test_usage_shows_remote_code_loading_and_the_pipeline(card_text):
    usage = section(card_text, "## How to use")
    assert 'AutoModel.from_pretrained("someone/adhvit-tiny", trust_remote_code=True)' in usage
    assert 'pipeline("dual-hand-video-classification", model="someone/adhvit-tiny", trust_remote_code=True)' in usage
    assert "(batch, 4, 3, 32, 32)" in usage


def test_card_without_metrics_has_no_model_index(tmp_path):
    text = render_model_card(tmp_path, card_config(), {"epoch": 1.0}, RECIPE).read_text()

    assert "model-index" not in front_matter(text)
    assert "This model has not been evaluated yet." in section(text, "## Results")
    assert text.splitlines()[text.splitlines().index("---", 1) + 2] == f"# {tmp_path.name}"


def test_missing_template_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(model_card, "MODEL_CARD_TEMPLATE", tmp_path / "nowhere" / "model_card.md")

    with pytest.raises(FileNotFoundError, match=r"Model card template .*nowhere/model_card\.md not found"):
        render_model_card(tmp_path, card_config(), METRICS, RECIPE)
    assert not (tmp_path / "README.md").exists()


def test_failed_render_keeps_the_previous_readme(tmp_path, monkeypatch):
    (tmp_path / "README.md").write_text("previous card\n")

    class BrokenCard:
        def __str__(self):
            raise RuntimeError("render failed")

    monkeypatch.setattr(model_card.ModelCard, "from_template", lambda *args, **kwargs: BrokenCard())
    with pytest.raises(RuntimeError, match="render failed"):
        render_model_card(tmp_path, card_config(), METRICS, RECIPE)

    assert (tmp_path / "README.md").read_text() == "previous card\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]


def test_training_summary_from_args(tmp_path):
    args = TrainingArguments(
        output_dir=str(tmp_path),
        learning_rate=1e-3,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=3,
        num_train_epochs=2,
        weight_decay=0.05,
        seed=7,
        use_cpu=True,
        report_to="none",
    )
    args.alternation_steps, args.alternation_strategy = 10, "proportional"  # AlternatingTrainingArguments' fields
    processor = SimpleNamespace(num_frames=8, sampling_rate=2)

    summary = training_summary_from_args(args, processor, card_config())

    assert summary == {
        "alternation_strategy": "proportional",
        "alternation_steps": 10,
        "num_train_epochs": 2,
        "learning_rate": 1e-3,
        "total_train_batch_size": 12,
        "weight_decay": 0.05,
        "drop_path_rate": 0.0,
        "num_frames": 8,
        "sampling_rate": 2,
        "seed": 7,
    }


def test_starting_point_is_named_without_its_local_directory(tmp_path):
    checkpoint = tmp_path / "private" / "vit_b_k710_dl_from_giant.pth"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"")

    local = render_model_card(tmp_path, card_config(), {}, RECIPE, finetuned_from=str(checkpoint)).read_text()
    hub_id = render_model_card(
        tmp_path, card_config(), {}, RECIPE, finetuned_from="OpenGVLab/VideoMAEv2-Base"
    ).read_text()

    assert "Backbone initialised from `vit_b_k710_dl_from_giant.pth`." in local
    assert str(checkpoint.parent) not in local
    assert "Backbone initialised from `OpenGVLab/VideoMAEv2-Base`." in hub_id
    assert "base_model" not in front_matter(hub_id)

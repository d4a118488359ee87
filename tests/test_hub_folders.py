# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Every folder the package writes x every entry point, in clean processes with and without adhvit_hf.

Folders: a converted VideoMAE V2 checkpoint, a training output, a checkpoint folder and a Hub push (local hub).
Entry points: AutoModel, AutoModelForVideoClassification, AutoVideoProcessor, the dual-hand pipeline by task name (one
video, and a batch of two) and, where adhvit_hf is installed (they are its console scripts), predict and extract. The folders are built once for the module; each process loops
over all of them, so the whole matrix costs two interpreter starts.
"""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers.hub_server import LocalHub
from helpers.models import (
    LH_LABELS,
    RH_LABELS,
    TINY_PROCESSOR,
    run_without_adhvit_hf,
    tiny_model,
    videomae_v2_state_dict,
)
from helpers.training import two_step_trainer
from helpers.videos import noise_frames, write_video
from huggingface_hub import HfApi, constants
from transformers import AutoModel, pipeline

from adhvit_hf import AdhVitVideoProcessor, add_remote_code, convert_videomae_v2_checkpoint


pytestmark = pytest.mark.slow


REPO_ROOT = Path(__file__).resolve().parents[1]
PIPELINE_TASK = "dual-hand-video-classification"

# Runs in a fresh interpreter; settings come as JSON (the environment is set before huggingface_hub reads it).
MATRIX_SCRIPT = """
import contextlib, io, json, os, sys
settings = json.loads(sys.argv[1])
os.environ.update(settings["env"])
import torch
from transformers import AutoModel, AutoModelForVideoClassification, AutoVideoProcessor, pipeline

installed = settings["with_adhvit_hf"]
if installed:
    from adhvit_hf.cli import extract_features, predict


def answer(entry_point):
    try:
        return entry_point()
    except ValueError as error:  # a refusal: the entry point must not answer from weights it did not load
        return {"refused": str(error)}


pixel_values = torch.load(settings["pixels"], weights_only=True)
report = {}
for name, source in settings["folders"].items():
    row = report[name] = {}
    remote = {} if installed else {"trust_remote_code": True}
    model = AutoModel.from_pretrained(source, **remote).eval()
    video_model = AutoModelForVideoClassification.from_pretrained(source, **remote).eval()
    processor = AutoVideoProcessor.from_pretrained(source, **remote)
    with torch.no_grad():
        output, video_output = model(pixel_values), video_model(pixel_values)
    row["logits"] = [output.lh_logits.tolist(), output.rh_logits.tolist()]
    row["video_classification_logits"] = [video_output.lh_logits.tolist(), video_output.rh_logits.tolist()]
    row["modules"] = [type(model).__module__, type(video_model).__module__, type(processor).__module__]
    row["processor"] = [type(processor).__name__, processor.num_frames]
    row["lh_id2label"] = {str(index): name for index, name in model.config.lh_id2label.items()}
    # with adhvit_hf imported the installed pipeline serves the folder without trust_remote_code
    classifier = lambda: pipeline(PIPELINE_TASK, model=source, device="cpu", **remote)
    row["pipeline_module"] = answer(lambda: type(classifier()).__module__)
    if not installed:  # without the package, nothing runs from a folder unless the user trusts its code
        row["untrusted"] = answer(lambda: pipeline(PIPELINE_TASK, model=source, device="cpu", trust_remote_code=False))
    row["pipeline"] = answer(lambda: classifier()(settings["video"], top_k=2))
    row["pipeline_batch"] = answer(lambda: classifier()(settings["videos"], top_k=3, batch_size=2))
    if installed:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            row["predict"] = answer(lambda: predict.main(
                [settings["video"], "--model", source, "--top_k", "2", "--json", "--device", "cpu"]
            ))
        if not isinstance(row["predict"], dict):
            row["predict"] = json.loads(printed.getvalue())[0]
        out = os.path.join(settings["work"], name.replace(" ", "_"))
        row["features"] = answer(lambda: extract_features.main(
            ["--model", source, "--videos", os.path.dirname(settings["video"]), "--output_dir", out, "--num_workers", "0",
             "--device", "cpu"]
        ))
        if not isinstance(row["features"], dict):
            row["features"] = sorted(os.listdir(os.path.join(out, "shared_features")))
report["remote_modules_imported"] = sorted(m for m in sys.modules if m.startswith("transformers_modules"))
print(json.dumps(report))
""".replace("PIPELINE_TASK", repr(PIPELINE_TASK))


def train(output_dir: Path) -> None:
    """A two-step AlternatingTrainer run that saves checkpoint-2 and then the final model into `output_dir`."""
    trainer = two_step_trainer(output_dir)
    trainer.train()
    trainer.save_model()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub(tmp_path_factory.mktemp("hub_home")) as hub:
        yield hub
        hub.check_routes()


@pytest.fixture(scope="module")
def folders(tmp_path_factory, hub):
    root = tmp_path_factory.mktemp("folders")
    torch.save(videomae_v2_state_dict(), root / "videomae_v2.pth")
    converted = root / "converted"
    convert_videomae_v2_checkpoint(
        root / "videomae_v2.pth",
        converted,
        image_size=32,
        num_frames=4,
        num_attention_heads=2,
        lh_id2label=LH_LABELS,
        rh_id2label=RH_LABELS,
    )
    train(root / "run")
    api = HfApi(endpoint=hub.endpoint, token=hub.env["HF_TOKEN"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(constants, "HF_HUB_OFFLINE", False)  # CI runs offline; the local hub is on 127.0.0.1
        repo_id = api.create_repo("local-user/pushed").repo_id
        api.upload_folder(repo_id=repo_id, folder_path=root / "run", ignore_patterns=["checkpoint-*/*"])
    return {
        "converted folder": str(converted),
        "training output": str(root / "run"),
        "checkpoint folder": str(root / "run" / "checkpoint-2"),
        "Hub push": repo_id,
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    torch.save(torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(4)), root / "pixels.pt")
    video = write_video(root / "videos" / "clip.mp4", noise_frames(12))
    short = write_video(root / "short_videos" / "short.mp4", noise_frames(5, seed=2))
    return {"pixels": str(root / "pixels.pt"), "video": video, "videos": [video, short]}


def with_this_tree() -> dict[str, str]:
    """This process's environment with this checkout first on PYTHONPATH, so a subprocess imports its adhvit_hf."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}


def run_matrix(folders, inputs, hub, work_dir: Path, with_adhvit_hf: bool) -> dict:
    work_dir.mkdir()
    env = {**hub.env, "HF_HOME": str(work_dir / "hf_home"), "HF_MODULES_CACHE": str(work_dir / "modules")}
    settings = json.dumps(
        {**inputs, "folders": folders, "env": env, "work": str(work_dir), "with_adhvit_hf": with_adhvit_hf}
    )
    if with_adhvit_hf:
        result = subprocess.run(
            [sys.executable, "-c", MATRIX_SCRIPT, settings],
            capture_output=True,
            text=True,
            cwd=work_dir,
            env=with_this_tree(),
            timeout=600,
        )
    else:
        result = run_without_adhvit_hf(MATRIX_SCRIPT, [settings], work_dir)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("with_adhvit_hf", [False, True], ids=["without adhvit_hf", "with adhvit_hf"])
def test_every_folder_loads_through_every_entry_point(folders, inputs, hub, tmp_path, with_adhvit_hf):
    report = run_matrix(folders, inputs, hub, tmp_path / "matrix", with_adhvit_hf)
    remote_modules = report.pop("remote_modules_imported")

    assert list(report) == list(folders)
    # The Hub push is loaded from the Hub: the weights, and without adhvit_hf the remote code, from its resolve route.
    downloaded = {path.rsplit("/", 1)[-1] for method, path in hub.requests if method == "GET" and "/resolve/" in path}
    assert "model.safetensors" in downloaded
    if not with_adhvit_hf:
        assert {"configuration_adhvit.py", "modeling_adhvit.py", "processing_adhvit.py"} <= downloaded
    pixel_values = torch.load(inputs["pixels"], weights_only=True)
    for name, row in report.items():
        local = folders[name] if name != "Hub push" else folders["training output"]
        if name == "converted folder":
            # A converted backbone has no trained hand heads (new and random in each process): every entry point that
            # answers per hand refuses it.
            heads = "lh_classifier.bias, lh_classifier.weight, rh_classifier.bias, rh_classifier.weight"
            for answered in (row["pipeline"], row["pipeline_batch"]):
                assert heads in answered["refused"] and "fine-tune it first" in answered["refused"]
            if with_adhvit_hf:
                for entry_point in ("predict", "features"):
                    assert "4 tensor(s) missing from the weights, so random" in row[entry_point]["refused"], row
                    assert "a converted backbone has no trained hand heads" in row[entry_point]["refused"], row
            continue
        model = AutoModel.from_pretrained(local).eval()
        with torch.no_grad():
            expected = model(pixel_values)
        for logits in (row["logits"], row["video_classification_logits"]):
            torch.testing.assert_close(torch.tensor(logits[0]), expected.lh_logits, rtol=0, atol=1e-5, msg=name)
            torch.testing.assert_close(torch.tensor(logits[1]), expected.rh_logits, rtol=0, atol=1e-5, msg=name)
        assert row["processor"] == ["AdhVitVideoProcessor", 4], name
        assert row["lh_id2label"] == {str(index): label for index, label in LH_LABELS.items()}, name
        classifier = pipeline(PIPELINE_TASK, model=local, device="cpu")  # the installed pipeline
        expected_predictions = [
            (row["pipeline"], classifier(inputs["video"], top_k=2)),
            *zip(row["pipeline_batch"], classifier(inputs["videos"], top_k=3)),
        ]
        for answered, expected_prediction in expected_predictions:
            for hand in ("left_hand", "right_hand"):
                assert [e["label"] for e in answered[hand]] == [e["label"] for e in expected_prediction[hand]]
                # both processes follow the precision rule; bf16 sums depend on the thread count, fp32 ones hardly
                assert [e["score"] for e in answered[hand]] == pytest.approx(
                    [e["score"] for e in expected_prediction[hand]], abs=1e-3 if classifier.bf16 else 1e-5
                )
        if with_adhvit_hf:
            assert row["modules"] == ["adhvit_hf.modeling_adhvit"] * 2 + ["adhvit_hf.processing_adhvit"], name
            assert row["pipeline_module"] == "adhvit_hf.pipeline_adhvit", name  # no trust_remote_code needed
            assert row["predict"] == {"video": inputs["video"], **row["pipeline"]}, name
            assert row["features"] == ["clip.npy"], name
        else:
            assert all(module.startswith("transformers_modules.") for module in row["modules"]), (name, row)
            assert row["pipeline_module"].startswith("transformers_modules."), (name, row)
            assert "trust_remote_code=True" in row["untrusted"]["refused"], (name, row)
    if with_adhvit_hf:
        assert remote_modules == [], "code from a folder ran although adhvit_hf is installed"
    else:
        assert any(module.endswith(".pipeline_adhvit") for module in remote_modules), remote_modules


def test_import_leaves_the_training_stack_to_first_use(tmp_path):
    """`import adhvit_hf` brings in what transformers' own modeling code brings in, not Trainer or evaluate."""
    script = """
import json, sys
import transformers.modeling_utils  # what any transformers model imports: the baseline
baseline = set(sys.modules)
import adhvit_hf
training = ("transformers.trainer", "evaluate", "accelerate", "matplotlib")
added = sorted(name for name in set(sys.modules) - baseline if name.startswith(training))
trainer = adhvit_hf.AlternatingTrainer
print(json.dumps({"added": added, "trainer": f"{trainer.__module__}.{trainer.__name__}",
                  "after": "transformers.trainer" in sys.modules}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300, env=with_this_tree()
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "added": [],
        "trainer": "adhvit_hf.training.trainer.AlternatingTrainer",
        "after": True,
    }


def readme_quick_start() -> str:
    """The README's "Quick start in Python" snippets, in the order printed."""
    section = (REPO_ROOT / "README.md").read_text(encoding="utf-8").split("## Quick start in Python", 1)[1]
    section = section.split("\n## ", 1)[0]
    return "\n".join(re.findall(r"```python\n(.*?)```", section, re.S))


def test_the_readme_quick_start_runs_the_installed_classes_without_trust_remote_code(demo_data, tmp_path):
    names = {i: f"motion_{i}" for i in range(6)}
    tiny_model(lh_num_labels=6, rh_num_labels=6, lh_id2label=names, rh_id2label=names).save_pretrained(
        tmp_path / "demo_output"
    )
    AdhVitVideoProcessor(**TINY_PROCESSOR).save_pretrained(tmp_path / "demo_output")
    add_remote_code(tmp_path / "demo_output")  # as every folder the package writes: it names the pipeline
    os.symlink(demo_data, tmp_path / "demo_data")
    script = readme_quick_start() + (
        "\nimport sys\nprint('REMOTE', sorted(m for m in sys.modules if m.startswith('transformers_modules')))\n"
        "print('CLASSES', type(model).__module__, type(processor).__module__, type(classifier).__module__)\n"
    )
    assert "trust_remote_code=" not in readme_quick_start()

    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**with_this_tree(), "HF_MODULES_CACHE": str(tmp_path / "modules")},
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-2] == "REMOTE []"  # nothing from the folder ran
    installed = "adhvit_hf.modeling_adhvit adhvit_hf.processing_adhvit adhvit_hf.pipeline_adhvit"
    assert lines[-1] == f"CLASSES {installed}"
    prediction = ast.literal_eval(lines[0])  # the pipeline's printed answer: five labels per hand
    assert [len(prediction[hand]) for hand in ("left_hand", "right_hand")] == [5, 5]
    by_hand = [line for line in lines if line.startswith(("lh [", "rh ["))]
    for hand, line in zip(("left_hand", "right_hand"), by_hand, strict=True):  # by hand: the pipeline's scores
        assert [name for name, _ in ast.literal_eval(line[3:])] == [entry["label"] for entry in prediction[hand]]
    assert not (tmp_path / "modules").exists()

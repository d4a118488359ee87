# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The dual-hand-video-classification pipeline: outputs, view protocol, batching, inputs, refusals, remote code."""

import functools
import http.server
import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.models import LH_LABELS, RH_LABELS, tiny_videomae_config
from safetensors.torch import load_file, save_file
from transformers import pipeline
from transformers.dynamic_module_utils import get_imports

import adhvit_hf  # noqa: F401  (registers the model and the task)
from adhvit_hf import add_remote_code
from adhvit_hf.data.decoding import open_video
from adhvit_hf.pipeline_adhvit import PIPELINE_TASK, DualHandVideoClassificationPipeline
from adhvit_hf.processing_adhvit import STOCK_PIPELINE_REFUSAL
from adhvit_hf.registration import custom_pipelines


@pytest.fixture(scope="module")
def classifier(saved):
    return pipeline(PIPELINE_TASK, model=str(saved.folder), device="cpu")


SCORE_FUNCTIONS = {"softmax": lambda x: x.softmax(-1), "sigmoid": torch.sigmoid, "none": lambda x: x}


def expected_scores(model, processor, video, function_to_apply="softmax"):
    """Per-hand scores: the function of every evaluation view's logits, averaged, computed without the pipeline."""
    reader = open_video(video)
    frames = reader.get_frames(processor.view_frame_indices(reader.num_frames).reshape(-1))
    pixel_values = processor(frames)["pixel_values"][0]
    with torch.no_grad():
        outputs = model(pixel_values=pixel_values)
    function = SCORE_FUNCTIONS[function_to_apply]
    return {"left_hand": function(outputs.lh_logits).mean(0), "right_hand": function(outputs.rh_logits).mean(0)}


def assert_same_predictions(result, expected):
    for hand in ("left_hand", "right_hand"):
        assert [e["label"] for e in result[hand]] == [e["label"] for e in expected[hand]]
        assert [e["score"] for e in result[hand]] == pytest.approx([e["score"] for e in expected[hand]], abs=1e-6)


def test_task_is_registered_on_import(classifier):
    assert type(classifier) is DualHandVideoClassificationPipeline


@pytest.mark.parametrize("views", [{}, {"test_num_segment": 1, "test_num_crop": 1}, {"test_num_segment": 3}])
def test_output_is_top_k_labels_per_hand_with_view_averaged_scores(saved, classifier, views):
    model, processor, videos = saved.model, saved.processor, [saved.videos["long"], saved.videos["short"]]
    result = classifier(videos[0], top_k=2, **views)

    assert set(result) == {"left_hand", "right_hand"}
    view_processor = type(processor).from_dict({**processor.to_dict(), **views})
    expected = expected_scores(model, view_processor, videos[0])
    names = {"left_hand": LH_LABELS, "right_hand": RH_LABELS}
    for hand, entries in result.items():
        top_scores, top_ids = expected[hand].topk(2)
        assert [entry["label"] for entry in entries] == [names[hand][i] for i in top_ids.tolist()]
        assert [entry["score"] for entry in entries] == pytest.approx(top_scores.tolist(), abs=1e-6)
        assert entries[0]["score"] >= entries[1]["score"]
        assert sum(entry["score"] for entry in entries) <= 1.0


def test_top_k_is_capped_at_the_number_of_labels_and_scores_sum_to_one(saved, classifier):
    result = classifier(saved.videos["long"], top_k=10)

    assert sorted(entry["label"] for entry in result["left_hand"]) == sorted(LH_LABELS.values())
    assert sorted(entry["label"] for entry in result["right_hand"]) == sorted(RH_LABELS.values())
    for entries in result.values():
        scores = [entry["score"] for entry in entries]
        assert scores == sorted(scores, reverse=True)
        assert sum(scores) == pytest.approx(1.0, abs=1e-5)


def test_batched_equals_unbatched(saved, classifier):
    videos = [saved.videos["long"], saved.videos["short"]]
    batched = classifier(videos, batch_size=2, top_k=3)
    one_by_one = [classifier(video, top_k=3) for video in videos]

    assert len(batched) == 2
    for batch_result, single_result in zip(batched, one_by_one):
        for hand in ("left_hand", "right_hand"):
            assert [e["label"] for e in batch_result[hand]] == [e["label"] for e in single_result[hand]]
            assert [e["score"] for e in batch_result[hand]] == pytest.approx(
                [e["score"] for e in single_result[hand]], abs=1e-6
            )


def test_decoded_frames_give_the_same_result_as_the_file(saved, classifier):
    video = saved.videos["long"]
    reader = open_video(video)
    frames = reader.get_frames(range(reader.num_frames))

    from_tensor = classifier(frames)
    from_array = classifier(frames.numpy())
    from_file = classifier(video)

    assert from_tensor == from_array
    for hand in from_file:
        assert [e["label"] for e in from_tensor[hand]] == [e["label"] for e in from_file[hand]]
        scores_from_file = [e["score"] for e in from_file[hand]]
        assert [e["score"] for e in from_tensor[hand]] == pytest.approx(scores_from_file, abs=1e-6)


def test_bad_inputs_are_named(classifier):
    with pytest.raises(ValueError, match=r"uint8 frames of shape \(num_frames, height, width, 3\), got \(4, 8, 8\)"):
        classifier(np.zeros((4, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="Expected a video path, URL or decoded uint8 frames .* got int"):
        classifier(7)


@pytest.mark.parametrize("top_k", [0, -1, 1.5, True, "3"])
def test_top_k_must_be_a_positive_integer(classifier, top_k):
    with pytest.raises(ValueError, match=f"top_k must be an integer >= 1, got {top_k!r}"):
        classifier(np.zeros((4, 8, 8, 3), dtype=np.uint8), top_k=top_k)


def test_paths_and_empty_lists(saved, classifier):
    video = saved.videos["long"]

    assert classifier(Path(video), top_k=2) == classifier(video, top_k=2)
    assert classifier([Path(video)], top_k=2) == [classifier(video, top_k=2)]
    assert classifier([]) == []


@pytest.mark.parametrize("batch_size", [1, 2])
def test_an_unreadable_video_in_a_list_is_reported_in_its_place(saved, classifier, tmp_path, batch_size):
    videos = [saved.videos["long"], saved.videos["short"]]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 50)
    missing = str(tmp_path / "missing.mp4")

    results = classifier([videos[0], str(broken), videos[1], missing], top_k=2, batch_size=batch_size)

    assert len(results) == 4
    assert_same_predictions(results[0], classifier(videos[0], top_k=2))
    assert_same_predictions(results[2], classifier(videos[1], top_k=2))
    assert list(results[1]) == ["error"] and results[1]["error"].startswith(str(broken))
    assert results[3] == {"error": f"{missing}: video file not found"}
    with pytest.raises(ValueError, match=f"{missing}: video file not found"):
        classifier(missing)
    with pytest.raises(ValueError, match=f"{missing}: video file not found"):
        classifier([videos[0], missing], errors_per_item=False)


@pytest.mark.parametrize("function_to_apply", ["softmax", "sigmoid", "none"])
def test_function_to_apply_scores_each_view_before_averaging(saved, classifier, function_to_apply):
    model, processor, videos = saved.model, saved.processor, [saved.videos["long"], saved.videos["short"]]
    result = classifier(videos[0], top_k=10, function_to_apply=function_to_apply)

    expected = expected_scores(model, processor, videos[0], function_to_apply)
    for hand, entries in result.items():
        top_scores, _ = expected[hand].topk(len(entries))
        assert [entry["score"] for entry in entries] == pytest.approx(top_scores.tolist(), abs=1e-6)
    expected = r"function_to_apply must be one of \('softmax', 'sigmoid', 'none'\), got 'max'"
    with pytest.raises(ValueError, match=expected):
        classifier(videos[0], function_to_apply="max")


def test_frame_count_and_sampling_rate_per_call(saved, classifier):
    model, processor, videos = saved.model, saved.processor, [saved.videos["long"], saved.videos["short"]]
    result = classifier(videos[0], top_k=3, frame_sampling_rate=4, num_frames=4)

    every_fourth = type(processor).from_dict({**processor.to_dict(), "sampling_rate": 4})
    expected = expected_scores(model, every_fourth, videos[0])["left_hand"].topk(3)[0]
    default = classifier(videos[0], top_k=3)
    assert [e["score"] for e in result["left_hand"]] == pytest.approx(expected.tolist(), abs=1e-6)
    assert result != default  # sampling rate 2 (the processor's) and 4 pick different frames of the 20
    with pytest.raises(ValueError, match="num_frames=8: this model's position embeddings cover num_frames=4"):
        classifier(videos[0], num_frames=8)
    with pytest.raises(ValueError, match="frame_sampling_rate must be an integer >= 1, got 0"):
        classifier(videos[0], frame_sampling_rate=0)


def test_url_inputs_are_downloaded_with_transformers_video_loading(saved, classifier):
    videos = [saved.videos["long"], saved.videos["short"]]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(Path(videos[0]).parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{Path(videos[0]).name}"
        from_url = classifier(url, top_k=3)
        missing = classifier([url, url.replace("long.mp4", "absent.mp4")], top_k=3)
    finally:
        server.shutdown()
        server.server_close()
    assert_same_predictions(from_url, classifier(videos[0], top_k=3))
    assert missing[0] == from_url and "absent.mp4" in missing[1]["error"]


def test_the_stock_video_classification_pipeline_points_at_the_dual_hand_task(saved):
    stock = pipeline("video-classification", model=str(saved.folder), device="cpu")

    with pytest.raises(ValueError) as error:
        stock(saved.videos["long"])
    assert str(error.value) == STOCK_PIPELINE_REFUSAL
    assert 'pipeline("dual-hand-video-classification"' in STOCK_PIPELINE_REFUSAL


def test_another_architecture_is_refused_by_model_type(saved):
    from transformers import VideoMAEForVideoClassification

    config = tiny_videomae_config(num_labels=3)
    expected = "needs an ADH-ViT model \\(model_type 'adhvit'\\), got model_type 'videomae'"
    with pytest.raises(ValueError, match=expected):
        pipeline(PIPELINE_TASK, model=VideoMAEForVideoClassification(config), video_processor=saved.processor)


@pytest.mark.parametrize("change", ["missing", "unexpected"])
def test_weights_the_model_did_not_load_are_named(saved, tmp_path, change):
    model, processor = saved.model, saved.processor
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    if change == "missing":
        del weights["lh_classifier.weight"]
    else:
        weights["extra_head.weight"] = torch.zeros(2)
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})

    expected = (
        "missing: lh_classifier.weight; unexpected: none"
        if change == "missing"
        else ("missing: none; unexpected: extra_head.weight")
    )
    with pytest.raises(ValueError, match=f"{tmp_path}: the model does not match its saved weights.*{expected}"):
        pipeline(PIPELINE_TASK, model=str(tmp_path), device="cpu")


def test_add_remote_code_declares_the_registered_task(tmp_path, saved):
    saved.model.save_pretrained(tmp_path)
    add_remote_code(tmp_path)

    config = json.loads((tmp_path / "config.json").read_text())
    assert (
        config["custom_pipelines"]
        == custom_pipelines()
        == {
            PIPELINE_TASK: {
                "impl": "pipeline_adhvit.DualHandVideoClassificationPipeline",
                "pt": ["AutoModelForVideoClassification"],
                "type": "video",
            }
        }
    )
    assert config["lh_id2label"] == {str(i): name for i, name in LH_LABELS.items()}
    # What the Hub loader will require to be installed before it runs the file.
    required = set(get_imports(tmp_path / "pipeline_adhvit.py")) - sys.stdlib_module_names
    assert required == {"numpy", "safetensors", "torch", "transformers"}

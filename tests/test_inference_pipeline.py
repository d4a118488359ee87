"""The dual-hand-video-classification pipeline: outputs, view protocol, batching, remote code."""

import json
import sys

import numpy as np
import pytest
import torch
from transformers import pipeline
from transformers.dynamic_module_utils import get_imports

import adhvit_hf  # noqa: F401  (registers the model and the task)
from adhvit_hf.data.decoding import open_video
from adhvit_hf.inference import PIPELINE_TASK, DualHandVideoClassificationPipeline, add_pipeline_to_folder
from inference_helpers import LH_LABELS, RH_LABELS, noise_frames, save_tiny_model, write_video
from model_helpers import run_without_adhvit_hf


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    model, processor = save_tiny_model(folder)
    videos = [
        write_video(folder / "long.mp4", noise_frames(20, seed=1)),
        write_video(folder / "short.mp4", noise_frames(5, seed=2)),
    ]
    return model, processor, folder, videos


@pytest.fixture(scope="module")
def classifier(saved):
    return pipeline(PIPELINE_TASK, model=str(saved[2]), device="cpu")


def expected_scores(model, processor, video):
    """Per-hand class probabilities: softmax of every evaluation view, averaged, computed without the pipeline."""
    reader = open_video(video)
    frames = reader.get_frames(processor.view_frame_indices(reader.num_frames).reshape(-1))
    pixel_values = processor(frames)["pixel_values"][0]
    with torch.no_grad():
        outputs = model(pixel_values=pixel_values)
    return {
        "left_hand": outputs.lh_logits.softmax(-1).mean(0),
        "right_hand": outputs.rh_logits.softmax(-1).mean(0),
    }


def test_task_is_registered_on_import(classifier):
    assert type(classifier) is DualHandVideoClassificationPipeline


@pytest.mark.parametrize("views", [{}, {"test_num_segment": 1, "test_num_crop": 1}, {"test_num_segment": 3}])
def test_output_is_top_k_labels_per_hand_with_view_averaged_scores(saved, classifier, views):
    model, processor, _, videos = saved
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
    result = classifier(saved[3][0], top_k=10)

    assert sorted(entry["label"] for entry in result["left_hand"]) == sorted(LH_LABELS.values())
    assert sorted(entry["label"] for entry in result["right_hand"]) == sorted(RH_LABELS.values())
    for entries in result.values():
        scores = [entry["score"] for entry in entries]
        assert scores == sorted(scores, reverse=True)
        assert sum(scores) == pytest.approx(1.0, abs=1e-5)


def test_batched_equals_unbatched(saved, classifier):
    videos = saved[3]
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
    video = saved[3][0]
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
    with pytest.raises(ValueError, match="Expected a video path or decoded uint8 frames .* got int"):
        classifier(7)
    with pytest.raises(ValueError, match="top_k must be at least 1, got 0"):
        classifier(np.zeros((4, 8, 8, 3), dtype=np.uint8), top_k=0)


def test_add_pipeline_to_folder_registers_the_task(tmp_path, saved):
    model = saved[0]
    model.save_pretrained(tmp_path)
    add_pipeline_to_folder(tmp_path)

    config = json.loads((tmp_path / "config.json").read_text())
    assert config["custom_pipelines"] == {
        PIPELINE_TASK: {
            "impl": "pipeline_adhvit.DualHandVideoClassificationPipeline",
            "pt": ["AutoModelForVideoClassification"],
            "type": "video",
        }
    }
    assert config["lh_id2label"] == {str(i): name for i, name in LH_LABELS.items()}
    # What the Hub loader will require to be installed before it runs the file.
    required = set(get_imports(tmp_path / "pipeline_adhvit.py")) - sys.stdlib_module_names
    assert required == {"numpy", "torch", "transformers"}


def test_add_pipeline_to_folder_needs_a_saved_model(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path / 'config.json'} not found: save the model"):
        add_pipeline_to_folder(tmp_path)


def test_remote_code_pipeline_without_adhvit_hf(tmp_path, saved, classifier):
    model, processor, _, videos = saved
    folder = tmp_path / "shared_model"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    add_pipeline_to_folder(folder)
    script = """
        import json
        from transformers import pipeline
        classifier = pipeline(
            "dual-hand-video-classification", model=sys.argv[1], trust_remote_code=True, device="cpu"
        )
        for part in (classifier, classifier.model, classifier.video_processor):
            assert type(part).__module__.startswith("transformers_modules."), type(part).__module__
        print(json.dumps(classifier(sys.argv[2:], top_k=3, batch_size=2)))
        """
    result = run_without_adhvit_hf(script, [folder, *videos], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    remote = json.loads(result.stdout.strip().splitlines()[-1])
    local = classifier(videos, top_k=3)
    for remote_result, local_result in zip(remote, local):
        for hand in ("left_hand", "right_hand"):
            assert [e["label"] for e in remote_result[hand]] == [e["label"] for e in local_result[hand]]
            assert [e["score"] for e in remote_result[hand]] == pytest.approx(
                [e["score"] for e in local_result[hand]], abs=1e-5
            )

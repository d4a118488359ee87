# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""`dual-hand-video-classification` pipeline for ADH-ViT.

This file imports only torch, numpy and transformers so that it can be shipped next to a saved model as remote code
(`config.custom_pipelines`) and used by people who have only `transformers` installed.
"""

from typing import Any

import numpy as np
import torch
from transformers import Pipeline
from transformers.video_utils import load_video


PIPELINE_TASK = "dual-hand-video-classification"
HAND_OUTPUT_KEYS = {"lh": "left_hand", "rh": "right_hand"}


def read_view_frames(video_path: str, processor) -> torch.Tensor:
    """Decodes the frames of all of `processor`'s evaluation views of a video file.

    Uses adhvit_hf's decoder when the package is installed (decoding straight at the processor's resize size, as
    evaluation does) and transformers' `load_video` otherwise. Returns uint8 (test_num_segment * num_frames, H, W, 3).
    """
    try:
        from adhvit_hf.data.decoding import open_video
    except ImportError:
        open_video = None
    if open_video is not None:
        reader = open_video(video_path)
        indices = processor.view_frame_indices(reader.num_frames).reshape(-1)
        return reader.get_frames(indices, size=processor.decode_size(reader.height, reader.width))

    # transformers' PyAV reader returns each requested frame once, so decode the distinct indices and expand after.
    inverse = None

    def distinct_view_indices(metadata, **kwargs):
        nonlocal inverse
        indices = processor.view_frame_indices(metadata.total_num_frames).reshape(-1).numpy()
        distinct, inverse = np.unique(indices.clip(0, metadata.total_num_frames - 1), return_inverse=True)
        return distinct.tolist()

    # PyAV: decord mis-sizes frames of some widths (e.g. 48 px) when it decodes at the native size.
    frames, _ = load_video(video_path, backend="pyav", sample_indices_fn=distinct_view_indices)
    return torch.from_numpy(np.ascontiguousarray(frames))[torch.from_numpy(inverse.reshape(-1))]


def processor_with_views(processor, test_num_segment: int | None = None, test_num_crop: int | None = None):
    """`processor` itself, or a copy with `test_num_segment` / `test_num_crop` replaced where given and different."""
    overrides = {
        key: value
        for key, value in (("test_num_segment", test_num_segment), ("test_num_crop", test_num_crop))
        if value is not None and value != getattr(processor, key)
    }
    return type(processor).from_dict({**processor.to_dict(), **overrides}) if overrides else processor


class DualHandVideoClassificationPipeline(Pipeline):
    """Classifies what the left and the right hand do in each video.

    Inputs: a video path, decoded frames of a whole video (uint8 array or tensor (N, H, W, 3)), or a list of these.
    Each video is sampled with the evaluation view protocol of the model's `AdhVitVideoProcessor`
    (`test_num_segment` temporal segments x `test_num_crop` spatial crops; both can be overridden per call), the
    softmax scores of all views are averaged per hand, and the output per video is
    `{"left_hand": [{"label", "score"}, ...], "right_hand": [...]}` with the `top_k` best labels per hand, best first.

    Example:

    ```python
    >>> import adhvit_hf  # registers the task
    >>> from transformers import pipeline
    >>> classifier = pipeline("dual-hand-video-classification", model="path/to/model")
    >>> classifier("assembly.mp4", top_k=3)
    ```

    A folder prepared for the Hub (`add_pipeline_to_folder`) names this pipeline in `config.custom_pipelines`, and
    transformers then requires `trust_remote_code=True` (runs the shipped copy; all that is needed where adhvit_hf is
    not installed) or `pipeline_class=DualHandVideoClassificationPipeline` (runs the installed one).
    """

    _load_processor = False
    _load_image_processor = None
    _load_video_processor = None
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.video_processor = self._find_video_processor()
        if self.video_processor is None:
            raise ValueError(
                "The dual-hand-video-classification pipeline needs the model's AdhVitVideoProcessor "
                "(preprocessor_config.json); none was found. Pass it as `video_processor=`."
            )
        # The base class only batches pixel_values when it has an image processor or feature extractor to ask for
        # padding settings; our clips never need padding, so any of them will do.
        self.image_processor = self.video_processor
        self._view_processors = {}

    def _find_video_processor(self):
        """The AdhVitVideoProcessor given to or loaded by `pipeline()`, else the one saved with the model."""
        for candidate in (self.video_processor, self.image_processor):
            if hasattr(candidate, "view_frame_indices"):
                return candidate
        # transformers' Auto classes build the processor only from remote code; an installed adhvit_hf can instead.
        try:
            from adhvit_hf.processing_adhvit import AdhVitVideoProcessor
        except ImportError:
            return None
        try:
            return AdhVitVideoProcessor.from_pretrained(self.model.name_or_path)
        except (OSError, ValueError):
            return None

    def _sanitize_parameters(self, top_k=None, test_num_segment=None, test_num_crop=None):
        preprocess_params = {}
        if test_num_segment is not None:
            preprocess_params["test_num_segment"] = test_num_segment
        if test_num_crop is not None:
            preprocess_params["test_num_crop"] = test_num_crop
        postprocess_params = {}
        if top_k is not None:
            if top_k < 1:
                raise ValueError(f"top_k must be at least 1, got {top_k}.")
            postprocess_params["top_k"] = top_k
        return preprocess_params, {}, postprocess_params

    def __call__(self, inputs, **kwargs):
        """Classifies one video or a list of videos.

        Args:
            inputs (`str`, frames, or a list of these): video paths, or decoded uint8 frames (N, H, W, 3) of whole
                videos.
            top_k (`int`, *optional*, defaults to 5): labels returned per hand (at most the hand's number of labels).
            test_num_segment (`int`, *optional*): temporal segments per video, default from the processor.
            test_num_crop (`int`, *optional*): spatial crops per segment (1 or 3), default from the processor.
            batch_size (`int`, *optional*): videos per forward pass.

        Returns:
            A dict `{"left_hand": [...], "right_hand": [...]}` per video (a list of them for a list input).
        """
        return super().__call__(inputs, **kwargs)

    def view_processor(self, test_num_segment=None, test_num_crop=None):
        """The processor with the number of temporal segments and spatial crops replaced where given (cached)."""
        key = (test_num_segment, test_num_crop)
        if key not in self._view_processors:
            self._view_processors[key] = processor_with_views(self.video_processor, test_num_segment, test_num_crop)
        return self._view_processors[key]

    def preprocess(self, video, test_num_segment=None, test_num_crop=None):
        processor = self.view_processor(test_num_segment, test_num_crop)

        if isinstance(video, str):
            frames = read_view_frames(video, processor)
        elif isinstance(video, (np.ndarray, torch.Tensor)):
            frames = torch.as_tensor(video)
            if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
                raise ValueError(
                    "Decoded videos must be uint8 frames of shape (num_frames, height, width, 3), got "
                    f"{tuple(frames.shape)} {frames.dtype}."
                )
            frames = frames[processor.view_frame_indices(frames.shape[0]).reshape(-1)]
        else:
            raise ValueError(
                f"Expected a video path or decoded uint8 frames (N, H, W, 3), got {type(video).__name__}."
            )
        return processor(frames, return_tensors="pt")

    def _forward(self, model_inputs):
        pixel_values = model_inputs["pixel_values"]
        num_videos, num_views = pixel_values.shape[:2]
        pixel_values = pixel_values.flatten(0, 1).to(self.model.dtype)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            outputs = self.model(pixel_values=pixel_values, hand=None)
        # As in VideoMAE V2 testing: softmax per view, then the mean over a video's views.
        return {
            f"{hand}_scores": logits.float().softmax(-1).view(num_videos, num_views, -1).mean(1)
            for hand, logits in (("lh", outputs.lh_logits), ("rh", outputs.rh_logits))
        }

    def postprocess(self, model_outputs, top_k=5):
        result = {}
        for hand, key in HAND_OUTPUT_KEYS.items():
            scores = model_outputs[f"{hand}_scores"][0]
            id2label = getattr(self.model.config, f"{hand}_id2label")
            top_scores, top_ids = scores.topk(min(top_k, scores.shape[-1]))
            result[key] = [
                {"label": id2label[class_id], "score": score}
                for score, class_id in zip(top_scores.tolist(), top_ids.tolist())
            ]
        return result


def pipeline_task_entry() -> dict[str, Any]:
    """The `custom_pipelines` entry a saved config needs to build this pipeline through remote code."""
    return {
        PIPELINE_TASK: {
            "impl": f"pipeline_adhvit.{DualHandVideoClassificationPipeline.__name__}",
            "pt": ["AutoModelForVideoClassification"],
            "type": "video",
        }
    }

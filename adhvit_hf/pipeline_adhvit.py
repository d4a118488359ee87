# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""`dual-hand-video-classification` pipeline for ADH-ViT.

This file imports only torch, numpy, safetensors, transformers and the other remote-code files, so that it can be
shipped next to a saved model as remote code (`config.custom_pipelines`) and used by people who have only
`transformers` installed.
"""

import json
import math
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from transformers import Pipeline
from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, is_torchcodec_usable, logging
from transformers.video_utils import load_video

from .processing_adhvit import processor_with_views


logger = logging.get_logger(__name__)
PIPELINE_TASK = "dual-hand-video-classification"
MODEL_TYPE = "adhvit"
HAND_OUTPUT_KEYS = {"lh": "left_hand", "rh": "right_hand"}
SCORE_FUNCTIONS = ("softmax", "sigmoid", "none")
SCORE_CALLABLES = {
    "softmax": lambda logits: logits.softmax(-1),
    "sigmoid": lambda logits: logits.sigmoid(),
    "none": lambda logits: logits,
}
# adhvit_hf.data.decoding.BACKENDS (this file may not import the package)
DECODER_BACKENDS = ("auto", "decord", "pyav", "torchcodec")
# Where a video cannot be read these are raised (decoders, file system, HTTP); anything else is a bug and propagates.
READ_ERRORS = (ValueError, OSError, RuntimeError)


def bf16_autocast_pays(device: torch.device) -> bool:
    """`adhvit_hf.precision`'s rule, copied (this file ships as remote code and imports no adhvit_hf module): bf16
    autocast on GPUs with bf16 and on CPUs with AMX or AVX512-BF16, where bf16 is native and faster than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and (torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def is_url(video: str) -> bool:
    return video.startswith(("http://", "https://"))


def transformers_video_backend(backend: str) -> str:
    """transformers' `load_video` backend for `backend`: "auto" is torchcodec where it loads (it turns rotated
    videos as players do, as adhvit_hf's readers do), else PyAV (decord mis-sizes frames of some widths, e.g. 48 px,
    at the native size)."""
    if backend != "auto":
        return backend
    return "torchcodec" if is_torchcodec_usable("video") else "pyav"


def read_view_frames(video_path: str, processor, backend: str = "auto") -> torch.Tensor:
    """Decodes the frames of all of `processor`'s evaluation views of a video file.

    Uses adhvit_hf's decoder when the package is installed (`backend`: "auto", "decord", "pyav" or "torchcodec";
    frames turned by the display matrix, resized by the processor) and transformers' `load_video` otherwise and for
    http(s) URLs (downloaded whole, then decoded; see `transformers_video_backend`). Returns uint8
    (test_num_segment * num_frames, H, W, 3); the processor resizes them either way.
    """
    try:
        from adhvit_hf.data.decoding import read_view_frames as read_with_adhvit_hf
    except ImportError:
        read_with_adhvit_hf = None
    if read_with_adhvit_hf is not None and not is_url(video_path):
        return read_with_adhvit_hf(video_path, processor, backend=backend)

    # transformers' readers return each requested frame once, so decode the distinct indices and expand after.
    inverse = None

    def distinct_view_indices(metadata, **kwargs):
        nonlocal inverse
        indices = processor.view_frame_indices(metadata.total_num_frames).reshape(-1).numpy()
        distinct, inverse = np.unique(indices.clip(0, metadata.total_num_frames - 1), return_inverse=True)
        return distinct.tolist()

    loader = transformers_video_backend(backend)
    frames, _ = load_video(video_path, backend=loader, sample_indices_fn=distinct_view_indices)
    frames = torch.as_tensor(np.ascontiguousarray(frames) if isinstance(frames, np.ndarray) else frames)
    if loader == "torchcodec":  # transformers' torchcodec reader gives (N, 3, H, W)
        frames = frames.permute(0, 2, 3, 1)
    return frames.contiguous()[torch.from_numpy(inverse.reshape(-1))]


def check_camera_videos(videos: dict) -> None:
    """A dict input holds synchronised cameras' videos: string camera names, at least one video."""
    if not videos:
        raise ValueError("A dict of synchronised cameras' videos needs at least one camera, got {}.")
    for camera in videos:
        if not isinstance(camera, str):
            raise ValueError(f"Camera names (the dict's keys) must be strings, got {camera!r}.")


def saved_weight_names(name_or_path: str) -> set[str] | None:
    """The tensor names of a local folder's safetensors weights (single file or sharded), or None if it has none."""
    folder = Path(name_or_path)
    if (folder / SAFE_WEIGHTS_NAME).is_file():
        with safe_open(folder / SAFE_WEIGHTS_NAME, framework="pt") as weights:
            return set(weights.keys())
    if (folder / SAFE_WEIGHTS_INDEX_NAME).is_file():
        return set(json.loads((folder / SAFE_WEIGHTS_INDEX_NAME).read_text(encoding="utf-8"))["weight_map"])
    return None


def check_model(model, folder: str | None = None) -> None:
    """Refuses a model this pipeline cannot answer for: another architecture, or weights it did not load.

    The weights are compared where they can be read cheaply: the safetensors header of `folder` (default: the folder
    the model was loaded from), named as `save_pretrained` names them (transformers' reverse of its load renaming).
    The Trainer's `--eval --resume` uses it too: Trainer, like `from_pretrained`, loads non-strictly.
    """
    model_type = getattr(model.config, "model_type", None)
    if model_type != MODEL_TYPE:
        raise ValueError(
            f"The {PIPELINE_TASK} pipeline needs an ADH-ViT model (model_type {MODEL_TYPE!r}), got model_type "
            f"{model_type!r} from {model.name_or_path or type(model).__name__}."
        )
    folder = folder or model.name_or_path
    saved = saved_weight_names(folder) if folder else None
    if saved is None:
        return
    try:
        from transformers.core_model_loading import revert_weight_conversion
    except ImportError:
        # This file also runs as remote code under other transformers versions: without transformers' saved-name
        # mapping the check is skipped rather than the pipeline broken (the pinned version's tests cover it).
        return
    expected = set(revert_weight_conversion(model, model.state_dict()))
    missing, unexpected = sorted(expected - saved), sorted(saved - expected)
    if missing or unexpected:
        hint = ""
        if missing and all(name.startswith(("lh_classifier.", "rh_classifier.")) for name in missing):
            hint = " A converted backbone has no trained hand heads: fine-tune it first (adhvit-train --model_name_or_path)."
        raise ValueError(
            f"{folder}: the model does not match its saved weights, so its predictions would come from "
            f"random tensors; missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(unexpected) or 'none'}."
            + hint
        )


class DualHandVideoClassificationPipeline(Pipeline):
    """Classifies what the left and the right hand do in each video.

    Inputs: a video path (`str` or `pathlib.Path`), an http(s) URL, decoded frames of a whole video (uint8 array or
    tensor (N, H, W, 3)), a dict `{camera name: video}` of synchronised cameras, or a list of these. Each video is sampled with the evaluation view protocol of the model's
    `AdhVitVideoProcessor` (`test_num_segment` temporal segments x `test_num_crop` spatial crops, `num_frames`
    frames `frame_sampling_rate` apart; each can be overridden per call), the scores of all views are averaged per
    hand, and the output per video is `{"left_hand": [{"label", "score"}, ...], "right_hand": [...]}` with the
    `top_k` best labels per hand, best first. In a list, a video that cannot be read gives `{"error": message}` in
    its place and the others are classified.

    Example:

    ```python
    >>> import adhvit_hf  # registers the task
    >>> from transformers import pipeline
    >>> classifier = pipeline("dual-hand-video-classification", model="path/to/model")
    >>> classifier("assembly.mp4", top_k=3)
    ```

    Every folder adhvit_hf writes names this pipeline in `config.custom_pipelines`. With adhvit_hf imported the
    installed pipeline serves it (no `trust_remote_code`, nothing from the folder runs); in a process with only
    transformers, `trust_remote_code=True` runs the folder's copy.
    """

    _load_processor = False
    _load_image_processor = None
    _load_video_processor = None
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, *args, auto_bf16: bool = True, bf16: bool | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        check_model(self.model)
        # bf16 autocast where the device computes bf16 natively, as training, predict and extract do; `bf16` forces
        self.bf16 = bf16 if bf16 is not None else auto_bf16 and bf16_autocast_pays(self.device)
        logger.info("dual-hand pipeline on %s: %s", self.device, "bf16 autocast" if self.bf16 else "fp32")
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

    def _sanitize_parameters(
        self,
        top_k=None,
        test_num_segment=None,
        test_num_crop=None,
        num_frames=None,
        frame_sampling_rate=None,
        function_to_apply=None,
        errors_per_item=None,
        camera_fusion=None,
        backend=None,
    ):
        views = {
            "test_num_segment": test_num_segment,
            "test_num_crop": test_num_crop,
            "num_frames": num_frames,
            "sampling_rate": frame_sampling_rate,
        }
        for name, value in views.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(
                    f"{'frame_sampling_rate' if name == 'sampling_rate' else name} must be an integer "
                    f">= 1, got {value!r}."
                )
        if num_frames is not None and num_frames != self.model.config.num_frames:
            raise ValueError(
                f"num_frames={num_frames}: this model's position embeddings cover num_frames="
                f"{self.model.config.num_frames} frames per clip, so only that value works."
            )
        preprocess_params = {key: value for key, value in views.items() if value is not None}
        if errors_per_item is not None:
            preprocess_params["errors_per_item"] = errors_per_item
        if backend is not None:
            if backend not in DECODER_BACKENDS:
                raise ValueError(f"backend must be one of {DECODER_BACKENDS}, got {backend!r}.")
            preprocess_params["backend"] = backend
        postprocess_params = {}
        if top_k is not None:
            if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
                raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}.")
            postprocess_params["top_k"] = top_k
        forward_params = {}
        if function_to_apply is not None:
            if function_to_apply not in SCORE_FUNCTIONS:
                raise ValueError(f"function_to_apply must be one of {SCORE_FUNCTIONS}, got {function_to_apply!r}.")
            forward_params["function_to_apply"] = function_to_apply
        if camera_fusion is not None:  # checked by the model's fuse_camera_scores
            forward_params["camera_fusion"] = camera_fusion
        return preprocess_params, forward_params, postprocess_params

    def __call__(self, inputs, **kwargs):
        """Classifies one video or a list of videos.

        Args:
            inputs (`str`, `pathlib.Path`, URL, frames, a dict of these, or a list): video files, http(s) URLs, or
                decoded uint8 frames (N, H, W, 3) of whole videos. A dict `{camera name: video}` holds synchronised
                cameras' videos of one scene, scored together. An empty list gives an empty list.
            top_k (`int`, *optional*, defaults to 5): labels returned per hand (at most the hand's number of labels).
            test_num_segment (`int`, *optional*): temporal segments per video, default from the processor.
            test_num_crop (`int`, *optional*): spatial crops per segment (1 or 3), default from the processor.
            num_frames (`int`, *optional*): frames per clip; must be the model's `num_frames` (checked).
            frame_sampling_rate (`int`, *optional*): frames between the sampled ones, default from the processor.
            function_to_apply (`str`, *optional*, defaults to `"softmax"`): `"softmax"`, `"sigmoid"` or `"none"`
                (logits), applied per view before the views are averaged.
            batch_size (`int`, *optional*): videos per forward pass.
            errors_per_item (`bool`, *optional*, defaults to `True` for a list): a list's unreadable video gives
                `{"error": ...}` in its place; `False` raises instead.
            camera_fusion (`str`, *optional*, defaults to `"mean"`): for a dict of cameras, `"mean"` of the cameras'
                scores or `"logit_sum"` (HA-ViD's combined view); a model trained with feature fusion fuses its
                cameras' features instead, as in training.
            backend (`str`, *optional*, defaults to `"auto"`): the video decoder, `"auto"`, `"decord"`, `"pyav"` or
                `"torchcodec"` (as `--backend` of the command-line tools); also accepted by `pipeline(...)`.

        Returns:
            A dict `{"left_hand": [...], "right_hand": [...]}` per video (a list of them for a list input; a video of
            the list that cannot be read gives `{"error": "<video>: <why>"}` instead). For a dict of cameras the
            hands hold the fused prediction and `"cameras"` each camera's: `{"left_hand": [...], "right_hand": [...],
            "cameras": {name: {"left_hand": [...], "right_hand": [...]}, ...}}`.
        """
        if isinstance(inputs, Path):
            inputs = str(inputs)
        if isinstance(inputs, dict):
            check_camera_videos(inputs)
        if isinstance(inputs, (list, tuple)):
            if not inputs:
                return []
            inputs = [str(video) if isinstance(video, Path) else video for video in inputs]
            for video in inputs:
                if isinstance(video, dict):
                    check_camera_videos(video)
            kinds = {tuple(video) if isinstance(video, dict) else None for video in inputs}
            if len(kinds) > 1 and (kwargs.get("batch_size") or self._batch_size or 1) > 1:
                raise ValueError(
                    "A batch holds either single videos or dicts of the same cameras; this list mixes them, so pass "
                    "batch_size=1 or one list per kind."
                )
            kwargs.setdefault("errors_per_item", True)
        return super().__call__(inputs, **kwargs)

    def view_processor(self, **settings):
        """The processor with the view settings replaced where given (cached per combination)."""
        key = tuple(sorted(settings.items()))
        if key not in self._view_processors:
            self._view_processors[key] = processor_with_views(self.video_processor, **settings)
        return self._view_processors[key]

    def preprocess(self, video, errors_per_item=False, backend="auto", **settings):
        processor = self.view_processor(**settings)
        cameras = dict(video) if isinstance(video, dict) else None
        videos = cameras or {None: video}
        pixel_values = []
        for camera, camera_video in videos.items():
            try:
                frames = self._view_frames(camera_video, processor, backend)
            except READ_ERRORS as error:
                if not errors_per_item or not isinstance(camera_video, str):
                    raise
                # Stand-in pixels keep the batch rectangular; _forward never runs the model on them.
                crop = processor.crop_size
                shape = (1, *([len(videos)] if cameras else []), processor.num_views, processor.num_frames, 3)
                message = str(error) if camera_video in str(error) else f"{camera_video}: {error}"
                message = message if camera is None else f"camera {camera}: {message}"
                return {"pixel_values": torch.zeros(*shape, crop, crop), "error": [message], "cameras": [None]}
            pixel_values.append(processor(frames, return_tensors="pt")["pixel_values"])
        # synchronised cameras: (1, cameras, views, T, 3, H, W)
        pixel_values = torch.stack(pixel_values, dim=1) if cameras else pixel_values[0]
        return {"pixel_values": pixel_values, "error": [None], "cameras": [tuple(cameras) if cameras else None]}

    def _view_frames(self, video, processor, backend: str = "auto") -> torch.Tensor:
        """The uint8 frames of all of `processor`'s views of one video (a path, URL or decoded frames)."""
        if isinstance(video, Path):
            video = str(video)
        if isinstance(video, str):
            return read_view_frames(video, processor, backend)
        if isinstance(video, (np.ndarray, torch.Tensor)):
            frames = torch.as_tensor(video)
            if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
                raise ValueError(
                    "Decoded videos must be uint8 frames of shape (num_frames, height, width, 3), got "
                    f"{tuple(frames.shape)} {frames.dtype}."
                )
            return frames[processor.view_frame_indices(frames.shape[0]).reshape(-1)]
        raise ValueError(
            "Expected a video path, URL or decoded uint8 frames (N, H, W, 3) (or a dict of synchronised cameras' videos), "
            f"got {type(video).__name__}."
        )

    def _forward(self, model_inputs, function_to_apply="softmax", camera_fusion="mean"):
        pixel_values, errors = model_inputs["pixel_values"], model_inputs["error"]
        errors = [error for item in errors for error in (item if isinstance(item, list) else [item])]
        cameras = [names for item in model_inputs["cameras"] for names in (item if isinstance(item, list) else [item])]
        num_videos, num_views = pixel_values.shape[:2]
        # synchronised cameras (num_videos, cameras, views, ...): the fused scores first, then each camera's
        camera_rows = (1 + pixel_values.shape[1],) if pixel_values.ndim == 7 else ()
        readable = torch.tensor([error is None for error in errors])
        scores = {
            hand: torch.full((num_videos, *camera_rows, len(getattr(self.model.config, f"{hand}_id2label"))), math.nan)
            for hand in HAND_OUTPUT_KEYS
        }
        score = SCORE_CALLABLES[function_to_apply]
        if readable.any():
            pixel_values = pixel_values[readable].to(self.model.dtype)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                if camera_rows:
                    camera_scores = self.model.camera_scores(pixel_values, fusion=camera_fusion, score=score)
                else:
                    outputs = self.model(pixel_values=pixel_values.flatten(0, 1), hand=None)
            for hand in HAND_OUTPUT_KEYS:
                if camera_rows:
                    scores[hand][readable] = camera_scores[hand].float()
                else:
                    # As in VideoMAE V2 testing: the score function per view, then the mean over a video's views.
                    logits = score(getattr(outputs, f"{hand}_logits").float())
                    scores[hand][readable] = logits.view(int(readable.sum()), num_views, -1).mean(1)
        return {**{f"{hand}_scores": value for hand, value in scores.items()}, "error": errors, "cameras": cameras}

    def postprocess(self, model_outputs, top_k=5):
        error = model_outputs["error"]
        error = error[0] if isinstance(error, list) else error
        if error is not None:
            return {"error": error}
        cameras = model_outputs["cameras"]
        cameras = cameras[0] if isinstance(cameras, list) else cameras
        scores = {hand: model_outputs[f"{hand}_scores"][0] for hand in HAND_OUTPUT_KEYS}
        if not cameras:
            return self._top_labels(scores, top_k)
        result = self._top_labels({hand: value[0] for hand, value in scores.items()}, top_k)
        result["cameras"] = {
            camera: self._top_labels({hand: value[row] for hand, value in scores.items()}, top_k)
            for row, camera in enumerate(cameras, start=1)
        }
        return result

    def _top_labels(self, scores: dict, top_k: int) -> dict:
        """{"left_hand": [{"label", "score"}, ...], "right_hand": [...]}, the `top_k` best per hand, best first."""
        result = {}
        for hand, key in HAND_OUTPUT_KEYS.items():
            id2label = getattr(self.model.config, f"{hand}_id2label")
            top_scores, top_ids = scores[hand].topk(min(top_k, scores[hand].shape[-1]))
            result[key] = [
                {"label": id2label[class_id], "score": score}
                for score, class_id in zip(top_scores.tolist(), top_ids.tolist())
            ]
        return result

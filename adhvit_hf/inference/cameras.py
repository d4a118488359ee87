# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Inference over synchronised cameras: `{camera}` video paths for `adhvit-predict` / `adhvit-extract`, and the fused
per-frame outputs of one recording.

A recording is named by a path with `{camera}` (`videos/{camera}/S02A22I23S1.mp4`) and the camera names
(`--cameras 0 1 2`). Its fused per-frame outputs are what `adhvit-extract` writes for a single video (so later stages
read them unchanged): the shared feature is the cameras' pooled features fused (their mean; a model trained with
`--camera_training feature_fusion` fuses as its config says), the hand logits the mean of the cameras' (the hand
heads applied to the fused feature for a feature-fusion model). T is the first camera's frame count.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..data.cameras import (
    CameraError,
    camera_paths,
    check_camera_names,
    disagreeing_frame_counts,
    has_camera_placeholder,
)
from ..data.decoding import video_info
from ..utils import UserInputError
from .videos import list_videos


CAMERA_OUTPUT_FOLDER = "cameras"


def check_camera_template(template: str, cameras: list[str]) -> dict[str, str]:
    """{camera: its video} of a `{camera}` path, refusing a path without the placeholder or a missing camera file."""
    if not has_camera_placeholder(template):
        raise UserInputError(
            f"{template}: --cameras {' '.join(cameras)} needs video paths with {{camera}} (e.g. videos/{{camera}}/a.mp4)"
        )
    paths = camera_paths(template, cameras)
    for camera, path in paths.items():
        if os.path.isdir(path):
            raise UserInputError(f"{path}: camera {camera}'s path is a directory, not a video")
        if not os.path.isfile(path):
            raise UserInputError(f"{path}: camera {camera}'s video not found")
    return paths


def list_camera_videos(source: str, cameras: list[str]) -> list[str]:
    """The `{camera}` templates to extract: one template video, a template folder (`videos/{camera}`: the videos of
    the first camera's folder, each of which every camera must have), or a list file of template lines."""
    cameras = check_camera_names(cameras)
    source = str(source)
    if has_camera_placeholder(source):
        first = camera_paths(source, cameras[:1])[cameras[0]]
        if os.path.isdir(first):
            templates = [os.path.join(source, video.name) for video in list_videos(first)]
        else:
            templates = [source]
    else:
        templates = [str(video) for video in list_videos(source)]
    for template in templates:
        check_camera_template(template, cameras)
    return templates


def check_camera_frame_counts(template: str, cameras: list[str]) -> None:
    """The cameras' videos of one recording have agreeing frame counts (`data.cameras.frame_count_tolerance`)."""
    paths = camera_paths(template, cameras)
    counts = {camera: video_info(path).num_frames for camera, path in paths.items()}
    problem = disagreeing_frame_counts(counts)
    if problem:
        raise CameraError(f"{template}: {problem}: {', '.join(paths.values())} are not one synchronised recording")


def fit_frames(array: np.ndarray, num_frames: int) -> np.ndarray:
    """[D, T'] per-frame outputs cut to or held (the last frame repeated) up to T = `num_frames` frames."""
    if array.shape[1] >= num_frames:
        return array[:, :num_frames]
    return np.concatenate([array, np.repeat(array[:, -1:], num_frames - array.shape[1], axis=1)], axis=1)


def fuse_camera_features(model, camera_features: dict) -> tuple:
    """(fused `VideoFeatures`, {camera: `VideoFeatures` at the fused frame count}, {camera: {hand: agrees per frame}})
    of one recording's cameras' per-frame outputs (see the module docstring)."""
    features = list(camera_features.values())
    first = features[0]
    num_frames = first.num_video_frames
    fitted = {
        camera: type(first)(
            **{hand: fit_frames(getattr(f, hand), num_frames) for hand in ("shared", "lh", "rh")}, fps=f.fps
        )
        for camera, f in camera_features.items()
    }
    shared = np.stack([f.shared for f in fitted.values()])  # [cameras, D, T]
    fused_shared = model.fuse_camera_features(torch.from_numpy(shared).permute(2, 0, 1)).T.contiguous()
    logits = {}
    for hand in ("lh", "rh"):
        if model.config.camera_feature_fusion is None:
            logits[hand] = np.mean([getattr(f, hand) for f in fitted.values()], axis=0)
        else:
            head = model.hand_classifier(hand)
            with torch.no_grad():
                weight, bias = head.weight.detach().float().cpu(), head.bias.detach().float().cpu()
            logits[hand] = (weight @ fused_shared + bias[:, None]).numpy()
    fused = type(first)(shared=fused_shared.numpy(), lh=logits["lh"], rh=logits["rh"], fps=first.fps)
    agreement = {
        camera: {hand: getattr(f, hand).argmax(0) == getattr(fused, hand).argmax(0) for hand in ("lh", "rh")}
        for camera, f in fitted.items()
    }
    return fused, fitted, agreement


def camera_output_dir(output_dir: str | os.PathLike, camera: str) -> Path:
    """Where one camera's outputs of a multi-camera extraction go: OUT/cameras/<camera>/."""
    return Path(output_dir) / CAMERA_OUTPUT_FOLDER / camera

# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Evaluation over synchronised cameras: every clip scored in every camera, fused, and reported per camera.

An evaluation batch of a multi-camera list holds `(B, cameras, views, T, 3, H, W)` views. Its prediction per clip
and hand is `(1 + cameras, num_labels)` scores, the fused one first (`modeling_adhvit.fuse_camera_scores`); the
metrics are `{prefix}_{hand}_top1` ... for the fused prediction and `{prefix}_{hand}_top1_camera_{C}` per camera.
"""

import os

import torch

from ..modeling_adhvit import fuse_camera_scores
from .reporting import write_prediction_reports


CAMERA_REPORTS_FOLDER = "cameras"


def camera_predictions(
    model, pixel_values: torch.Tensor, hand: str, fusion: str = "mean", camera_models: list | None = None
) -> torch.Tensor:
    """`(B, 1 + cameras, num_labels)` scores of `hand`: fused first, then each camera's.

    With `camera_models` (one separately trained model per camera, HA-ViD's protocol) camera k is scored by model k
    and the cameras' scores are fused by `fusion`; otherwise `model.camera_scores` scores every camera.
    """
    if not camera_models:
        return model.camera_scores(pixel_values, hand=hand, fusion=fusion)[hand]
    batch, _, num_views = pixel_values.shape[:3]
    logits = [
        camera_model(pixel_values=pixel_values[:, camera].flatten(0, 1), hand=hand)[f"{hand}_logits"].unflatten(
            0, (batch, num_views)
        )
        for camera, camera_model in enumerate(camera_models)
    ]
    return fuse_camera_scores(torch.stack(logits, dim=1), fusion)


def camera_metrics(compute, predictions, labels, cameras: list[str]) -> dict[str, float]:
    """`compute(predictions, references)` metrics of the fused prediction, and of each camera with the suffix
    `_camera_{C}` (`top1_camera_0`, ...), from `(N, 1 + cameras, num_labels)` predictions."""
    metrics = compute(predictions=predictions[:, 0], references=labels)
    for index, camera in enumerate(cameras, start=1):
        camera_result = compute(predictions=predictions[:, index], references=labels)
        metrics.update({f"{key}_camera_{camera}": value for key, value in camera_result.items()})
    return metrics


def write_camera_prediction_reports(outputs: dict, datasets: dict, config, output_dir: str, cameras: list[str]):
    """`write_prediction_reports` of the fused prediction in `output_dir` and of each camera's in
    `output_dir/cameras/<camera>/` (predictions.jsonl and confusion matrices)."""
    write_prediction_reports(
        {hand: output._replace(predictions=output.predictions[:, 0]) for hand, output in outputs.items()},
        datasets,
        config,
        output_dir,
    )
    for index, camera in enumerate(cameras, start=1):
        write_prediction_reports(
            {hand: output._replace(predictions=output.predictions[:, index]) for hand, output in outputs.items()},
            datasets,
            config,
            os.path.join(output_dir, CAMERA_REPORTS_FOLDER, camera),
        )

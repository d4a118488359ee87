# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""HA-ViD's three views as one multi-camera list: a recording's cameras must tell the same story.

HA-ViD annotates each view on its own (`view{0,1,2}_{lh,rh}_{pt,aa}/groundTruth/<video>.txt`). One `{camera}` list
line stands for the same frame range and label in every camera, so a recording enters the list only where its
cameras' videos have agreeing frame counts (`cameras.frame_count_tolerance`) and their frame labels are the same
wherever they overlap; the labels kept are those of the frames every camera has.
"""

from __future__ import annotations

from .cameras import disagreeing_frame_counts


class CamerasDisagree(ValueError):
    """The cameras of one recording do not agree (frame counts or labels); the message names the recording."""


def agreed_frame_labels(name: str, frame_counts: dict[str, int], labels: dict[str, list[str]]) -> list[str]:
    """The frame labels of the recording `name` that all its cameras share.

    `frame_counts` ({camera: its video's frames}) must agree within the tolerance and `labels` ({camera: one label
    per annotated frame}) be equal on the frames every camera's video and annotation have; otherwise
    `CamerasDisagree` names the recording, the cameras and the first frame that differs.
    """
    problem = disagreeing_frame_counts(frame_counts)
    if problem:
        raise CamerasDisagree(f"{name}: video {problem}")
    length = min(min(frame_counts.values()), *(len(frame_labels) for frame_labels in labels.values()))
    first_camera, reference = next(iter(labels.items()))
    for camera, frame_labels in labels.items():
        differing = next((i for i in range(length) if frame_labels[i] != reference[i]), None)
        if differing is not None:
            raise CamerasDisagree(
                f"{name}: frame {differing} is {reference[differing]!r} in camera {first_camera} but "
                f"{frame_labels[differing]!r} in camera {camera}"
            )
    return reference[:length]

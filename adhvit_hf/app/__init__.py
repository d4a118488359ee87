# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""ADH-ViT as a Gradio app: upload a video, watch both hands' actions follow the playback (`adhvit-app`)."""

import os


# Gradio's analytics send requests to its servers; the app is private by default (set before gradio is imported).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from .analysis import AnalysisError, AppModel, analyse_video, default_stride, load_app_model  # noqa: E402
from .page import build_app  # noqa: E402


__all__ = ["AnalysisError", "AppModel", "analyse_video", "build_app", "default_stride", "load_app_model"]

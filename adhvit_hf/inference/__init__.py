# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Inference below the pipeline: loading a model for the command lines (`loading`), the videos they take (`videos`),
and untrimmed-video feature extraction (`features`, with its windows and timelines).

The pipeline itself is remote code at the package top (`adhvit_hf.pipeline_adhvit`). Nothing is imported here, so
importing a module of this package pulls in only what it needs (matplotlib only with `features`/`timeline`).
"""

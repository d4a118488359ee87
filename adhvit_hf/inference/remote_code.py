# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Ships the dual-hand pipeline with a saved model so that `pipeline(..., trust_remote_code=True)` finds it."""

import json
import os
import shutil
from pathlib import Path

from . import pipeline_adhvit
from ..utils import save_json


def add_pipeline_to_folder(output_dir: str | os.PathLike) -> None:
    """Copies `pipeline_adhvit.py` into a saved model folder and registers it in the folder's `config.json`.

    After this, `transformers.pipeline("dual-hand-video-classification", model=output_dir, trust_remote_code=True)`
    works in a process that has only `transformers` installed (the model and processor must carry their own
    `auto_map`, which `save_pretrained` writes).
    """
    output_dir = Path(output_dir)
    config_path = output_dir / "config.json"
    if not config_path.is_file():
        raise ValueError(f"{config_path} not found: save the model to {output_dir} before adding the pipeline.")
    shutil.copyfile(pipeline_adhvit.__file__, output_dir / Path(pipeline_adhvit.__file__).name)
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["custom_pipelines"] = pipeline_adhvit.pipeline_task_entry()
    save_json(config_path, config)

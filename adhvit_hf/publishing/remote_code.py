# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The remote code a saved folder carries, and the check that every module its configs name is there.

Every folder the package writes (converted checkpoints, training outputs and checkpoints, Hub pushes) goes through
`add_remote_code`, so it loads with `AutoModel`/`AutoVideoProcessor.from_pretrained(folder, trust_remote_code=True)`
and `pipeline("dual-hand-video-classification", model=folder, trust_remote_code=True)` in a process that has only
`transformers` installed.
"""

import json
import os
from pathlib import Path

from transformers.dynamic_module_utils import custom_object_save
from transformers.utils import CONFIG_NAME

from ..configuration_adhvit import AdhVitConfig
from ..modeling_adhvit import AdhVitForDualHandClassification
from ..pipeline_adhvit import DualHandVideoClassificationPipeline
from ..processing_adhvit import AdhVitVideoProcessor
from ..registration import custom_pipelines
from ..utils import save_json


PROCESSOR_CONFIG_NAMES = ("preprocessor_config.json", "video_preprocessor_config.json")
# The classes whose modules (and the files those import relatively) a published folder carries.
REMOTE_CODE_CLASSES = (
    AdhVitConfig,
    AdhVitForDualHandClassification,
    AdhVitVideoProcessor,
    DualHandVideoClassificationPipeline,
)


def add_remote_code(output_dir: str | os.PathLike) -> list[str]:
    """Puts every file remote code needs into `output_dir`; returns their names.

    Copies the configuration, modeling, processing and pipeline modules (with the files they import relatively) and,
    once `output_dir` holds a `config.json`, names the pipeline there (`custom_pipelines`) and checks that each module
    named by an `auto_map` (config and processor config) or `custom_pipelines` entry is present. The Trainer's
    intermediate pushes copy only weights and configs into `output_dir`, so call this before every push.

    Once a folder declares the pipeline, transformers builds the task from it only with `trust_remote_code=True`
    (then the folder's copy runs) or `pipeline_class=DualHandVideoClassificationPipeline` (the installed one runs),
    also where adhvit_hf is installed.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    copied = {Path(path).name for cls in REMOTE_CODE_CLASSES for path in custom_object_save(cls, output_dir)}
    config_path = output_dir / CONFIG_NAME
    if config_path.is_file():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if config.get("custom_pipelines") != custom_pipelines():
            save_json(config_path, {**config, "custom_pipelines": custom_pipelines()})
        _check_remote_code_references(output_dir)
    return sorted(copied)


def _check_remote_code_references(folder: Path) -> None:
    config_path = folder / CONFIG_NAME
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if not config.get("auto_map"):
        raise ValueError(
            f"{config_path} has no auto_map, so the model cannot load with trust_remote_code: save a model whose "
            "class was registered with register_for_auto_class (importing adhvit_hf does this)."
        )
    references = [(config_path, "auto_map", ref) for ref in config["auto_map"].values()]
    references += [(config_path, "custom_pipelines", task["impl"]) for task in config["custom_pipelines"].values()]
    for name in PROCESSOR_CONFIG_NAMES:
        if (folder / name).is_file():
            processor_config = json.loads((folder / name).read_text(encoding="utf-8"))
            references += [(folder / name, "auto_map", ref) for ref in processor_config.get("auto_map", {}).values()]
    for path, field, reference in references:
        module = reference.split("--")[-1].split(".")[0]
        if not (folder / f"{module}.py").is_file():
            raise ValueError(f"{path}: {field} entry {reference!r} needs {module}.py, which is not in {folder}")

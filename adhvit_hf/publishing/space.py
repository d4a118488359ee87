# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Publishing the app as a Hugging Face Space: `push_space(space_id, model_id)`.

The Space folder holds the app's `app.py` (the package's `app/space.py` with the model filled in), a
`requirements.txt` pinning this package and Gradio, and a README whose front matter the Hub reads (`sdk: gradio`,
`sdk_version`, `app_file`, `models: [model_id]`, `short_description`). The file is read as text, never imported, so
publishing stays below the app in the package's layers.
"""

from __future__ import annotations

import os
import re
import tempfile
from importlib import metadata
from pathlib import Path

from huggingface_hub import HfApi, SpaceCard, SpaceCardData

from ..utils import UserInputError


SPACE_APP_TEMPLATE = Path(__file__).resolve().parent.parent / "app" / "space.py"
PACKAGE = "adhvit-hf"
# The Hub's limit on a Space's short description.
SHORT_DESCRIPTION_LIMIT = 60


def space_app_py(model_id: str, stride: int | None = None) -> str:
    """The Space's app.py: the app template with `MODEL_ID` and `STRIDE` set."""
    text = SPACE_APP_TEMPLATE.read_text(encoding="utf-8")
    text, found = re.subn(r"^MODEL_ID = .*$", f"MODEL_ID = {model_id!r}", text, count=1, flags=re.MULTILINE)
    text, found_stride = re.subn(r"^STRIDE = .*$", f"STRIDE = {stride!r}", text, count=1, flags=re.MULTILINE)
    if not (found and found_stride):
        raise RuntimeError(f"{SPACE_APP_TEMPLATE}: no MODEL_ID or STRIDE line to fill in")
    return text


def default_requirements(package_requirement: str | None = None, gradio_version: str | None = None) -> list[str]:
    """This package (with the app's extra) at the installed version, and Gradio at the Space's SDK version."""
    package = package_requirement or f"{PACKAGE}[app]=={metadata.version(PACKAGE)}"
    return [package, f"gradio=={gradio_version or metadata.version('gradio')}"]


def space_card(
    model_id: str, sdk_version: str, title: str | None = None, short_description: str | None = None
) -> SpaceCard:
    """The Space's README: front matter for the Hub and a few lines for visitors."""
    description = short_description or "Both hands' actions in a video, with ADH-ViT"
    if len(description) > SHORT_DESCRIPTION_LIMIT:
        raise UserInputError(
            f"short_description {description!r}: {len(description)} characters, the Hub allows {SHORT_DESCRIPTION_LIMIT}"
        )
    data = SpaceCardData(
        title=title or f"ADH-ViT {model_id.split('/')[-1]}",
        sdk="gradio",
        sdk_version=sdk_version,
        app_file="app.py",
        models=[model_id],
        tags=["video-classification", "adhvit"],
        short_description=description,
    )
    body = (
        f"# {data.title}\n\nUpload a video and watch both hands' actions, as predicted by "
        f"[{model_id}](https://huggingface.co/{model_id}), follow the playback: one timeline per hand, a playhead "
        "that follows the video, the action at each moment with its confidence, and downloads of the segments "
        "(JSON, CSV) and the per-frame features.\n\nThe app is `adhvit-app` of the "
        "[adhvit-hf](https://github.com/) package, run here on the Space's CPU.\n"
    )
    return SpaceCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def write_space_folder(
    folder: str | os.PathLike,
    model_id: str,
    stride: int | None = None,
    requirements: list[str] | None = None,
    sdk_version: str | None = None,
    title: str | None = None,
    short_description: str | None = None,
) -> Path:
    """Writes the Space's files (app.py, requirements.txt, README.md) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sdk_version = sdk_version or metadata.version("gradio")
    requirements = requirements or default_requirements(gradio_version=sdk_version)
    (folder / "app.py").write_text(space_app_py(model_id, stride), encoding="utf-8")
    (folder / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    space_card(model_id, sdk_version, title, short_description).save(folder / "README.md")
    return folder


def push_space(
    space_id: str,
    model_id: str,
    *,
    stride: int | None = None,
    requirements: list[str] | None = None,
    sdk_version: str | None = None,
    title: str | None = None,
    short_description: str | None = None,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload the ADH-ViT app",
) -> str:
    """Creates (or updates) the Gradio Space `space_id` running the app on the Hub model `model_id`.

    Args:
        space_id: the Space, `owner/name`.
        model_id: the Hub repo of the model the Space serves (a model of this package).
        stride: the app's window stride (None: its default, half a window's span).
        requirements: the Space's requirements.txt lines (default: `adhvit-hf[app]==<this version>` and
            `gradio==<sdk_version>`); give e.g. a `git+https://...` line for an unreleased version of the package.
        sdk_version: the Gradio version the Space runs (default: the installed one).
        title, short_description: shown on the Hub.
        private, token: as for `HfApi.create_repo`.

    Returns:
        The URL of the commit.
    """
    if "/" not in model_id or model_id.startswith(("/", ".", "~")) or os.path.exists(model_id):
        raise UserInputError(
            f"model_id {model_id!r}: a Space loads its model from the Hub; push the model first (push_to_hub) and "
            "give its repo id, owner/name"
        )
    api = HfApi(token=token)
    repo_id = api.create_repo(space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True).repo_id
    with tempfile.TemporaryDirectory(prefix="adhvit-space-") as folder:
        write_space_folder(folder, model_id, stride, requirements, sdk_version, title, short_description)
        commit = api.upload_folder(
            repo_id=repo_id, repo_type="space", folder_path=folder, commit_message=commit_message
        )
    return commit.commit_url

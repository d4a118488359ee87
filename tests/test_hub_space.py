# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""Publishing the app as a Space against the local Hub: the Space's files, its front matter, and its app.py serving
the pushed model."""

import runpy
from importlib import metadata

import pytest
from helpers.models import save_tiny_model
from helpers.videos import noise_frames, write_video
from huggingface_hub import HfApi, SpaceCard

from adhvit_hf.publishing import push_space
from adhvit_hf.utils import UserInputError


gradio = pytest.importorskip("gradio", reason="the app needs gradio: pip install -e '.[app]'")

from gradio_client import Client, handle_file  # noqa: E402

from adhvit_hf.app import analysis as app_analysis  # noqa: E402


MODEL_ID = "local-user/tiny-adhvit"
SPACE_ID = "local-user/adhvit-app"


def test_push_space_uploads_a_space_whose_app_serves_the_model(local_hub, tmp_path, monkeypatch):
    save_tiny_model(tmp_path / "model")
    api = HfApi()
    api.create_repo(MODEL_ID)
    api.upload_folder(repo_id=MODEL_ID, folder_path=tmp_path / "model")

    url = push_space(SPACE_ID, MODEL_ID, stride=2)

    assert url.startswith(f"{local_hub.endpoint}/spaces/{SPACE_ID}/commit/")
    files = local_hub.files(f"spaces/{SPACE_ID}")
    assert sorted(files) == [".gitattributes", "README.md", "app.py", "requirements.txt"]
    assert files["requirements.txt"].decode().splitlines() == [
        f"adhvit-hf[app]=={metadata.version('adhvit-hf')}",
        f"gradio=={gradio.__version__}",
    ]
    card = SpaceCard(files["README.md"].decode())
    assert (card.data.sdk, card.data.sdk_version, card.data.app_file) == ("gradio", gradio.__version__, "app.py")
    assert card.data.models == [MODEL_ID]
    assert card.data.short_description == "Both hands' actions in a video, with ADH-ViT"
    app_py = files["app.py"].decode()
    assert f"MODEL_ID = {MODEL_ID!r}\nSTRIDE = 2\n" in app_py

    # The Space's app.py, run as the Space runs it (without launching), serves the pushed model.
    (tmp_path / "space").mkdir()
    (tmp_path / "space" / "app.py").write_bytes(files["app.py"])
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio_cache"))
    demo = runpy.run_path(str(tmp_path / "space" / "app.py"), run_name="space_app")["demo"]
    _, app_url, _ = demo.queue().launch(prevent_thread_lock=True, quiet=True)
    try:
        video = write_video(tmp_path / "clip.mp4", noise_frames(12, seed=2))
        answer = Client(app_url, verbose=False, analytics_enabled=False).predict(
            handle_file(video), api_name="/analyse"
        )
    finally:
        demo.close()
    local = app_analysis.load_app_model(tmp_path / "model", stride=2, precision="auto")
    expected = list(app_analysis.analyse_video(local, video))[-1].to_json()
    assert [s["label"] for s in answer["left_hand"]] == [s["label"] for s in expected["left_hand"]]
    assert [s["end_frame"] for s in answer["right_hand"]] == [s["end_frame"] for s in expected["right_hand"]]
    assert answer["num_frames"] == 12


def test_push_space_refuses_a_local_model_folder(tmp_path):
    with pytest.raises(UserInputError, match="a Space loads its model from the Hub; push the model first"):
        push_space(SPACE_ID, str(tmp_path))

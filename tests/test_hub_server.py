# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""The local Hub fixture answers huggingface_hub's calls the way the Hub does, so push tests mean something."""

import os
import subprocess
import sys

import pytest
from helpers.hub_server import git_blob_oid
from huggingface_hub import HfApi, get_session, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"a": 1}\n')
    (folder / "sub" / "weights.bin").write_bytes(bytes(range(256)) * 4)
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n# card\n")
    return folder


def test_create_repo_and_exist_ok(local_hub):
    api = HfApi()
    url = api.create_repo("someone/model")

    assert (url.repo_id, url.endpoint) == ("someone/model", local_hub.endpoint)
    assert str(url) == f"{local_hub.endpoint}/someone/model"
    assert api.create_repo("someone/model", exist_ok=True) == url
    with pytest.raises(HfHubHTTPError) as error:
        api.create_repo("someone/model")
    assert error.value.response.status_code == 409
    assert api.create_repo("no-namespace").repo_id == "local-user/no-namespace"


def test_commits_skip_unchanged_files_and_keep_old_revisions(local_hub, folder):
    api = HfApi()
    api.create_repo("someone/model")
    first = api.upload_folder(repo_id="someone/model", folder_path=folder, commit_message="first")
    api.upload_folder(repo_id="someone/model", folder_path=folder, commit_message="unchanged")
    (folder / "config.json").write_text('{"a": 2}\n')
    api.upload_folder(repo_id="someone/model", folder_path=folder, commit_message="second")
    api.delete_file("sub/weights.bin", repo_id="someone/model", commit_message="drop weights")

    messages = [c.message for c in local_hub.commits("someone/model")]
    assert messages == ["initial commit", "first", "second", "drop weights"]
    assert sorted(local_hub.files("someone/model")) == [".gitattributes", "README.md", "config.json"]
    old = local_hub.files("someone/model", revision=first.oid)
    assert old["sub/weights.bin"] == bytes(range(256)) * 4
    assert open(hf_hub_download("someone/model", "config.json", revision=first.oid)).read() == '{"a": 1}\n'
    assert open(hf_hub_download("someone/model", "config.json")).read() == '{"a": 2}\n'
    info = api.model_info("someone/model")
    assert info.sha == local_hub.commits("someone/model")[-1].oid
    assert {s.rfilename: s.blob_id for s in info.siblings}["config.json"] == git_blob_oid(b'{"a": 2}\n')


def test_invalid_card_metadata_is_refused_before_the_commit(local_hub, folder):
    api = HfApi()
    api.create_repo("someone/model")
    (folder / "README.md").write_text("---\nmodel-index: [unclosed\n---\n")

    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        api.upload_folder(repo_id="someone/model", folder_path=folder, commit_message="bad card")
    assert [c.message for c in local_hub.commits("someone/model")] == ["initial commit"]


def test_missing_repo_revision_and_file_raise_the_hub_errors(local_hub, folder):
    api = HfApi()
    api.create_repo("someone/model")
    api.upload_folder(repo_id="someone/model", folder_path=folder, commit_message="first")

    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("someone/other", "config.json")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("someone/model", "config.json", revision="v9")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("someone/model", "absent.json")


@pytest.mark.slow
def test_a_subprocess_reaches_the_hub_through_env(local_hub, folder, tmp_path):
    api = HfApi()
    api.create_repo("someone/model")
    api.upload_folder(repo_id="someone/model", folder_path=folder, commit_message="first")
    code = (
        "import os, sys\n"
        "from huggingface_hub import snapshot_download\n"
        "path = snapshot_download('someone/model')\n"
        "print(sorted(os.path.relpath(os.path.join(d, f), path) for d, _, fs in os.walk(path) for f in fs))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **local_hub.env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == str([".gitattributes", "README.md", "config.json", "sub/weights.bin"])


def test_a_route_the_local_hub_lacks_is_named_and_fails_the_test(local_hub):
    response = get_session().get(f"{local_hub.endpoint}/api/models/someone/model/refs")

    assert response.status_code == 501
    assert response.json()["error"] == "The local hub has no route GET /api/models/someone/model/refs"
    with pytest.raises(
        AssertionError,
        match=r"called routes the local hub does not implement .*: "
        r"GET /api/models/someone/model/refs$",
    ):
        local_hub.check_routes()
    local_hub.server.unhandled.clear()  # this test provoked it on purpose

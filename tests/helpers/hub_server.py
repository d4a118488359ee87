# Copyright 2025 The adhvit-hf authors. Licensed under the Apache License, Version 2.0.
"""A local stand-in for the Hugging Face Hub, so push and pull tests run offline.

`LocalHub` is a threaded stdlib HTTP server on 127.0.0.1 that answers only the model- and Space-repo routes the pinned
`huggingface_hub` calls for `create_repo`, `upload_folder`/`create_commit`/`delete_file` (preupload, NDJSON commit,
`/api/validate-yaml`), `model_info`, `hf_hub_download` and `snapshot_download` (recursive tree). Every commit is an
immutable snapshot of path -> git blob oid, so old revisions stay downloadable; everything lives in memory.

Any other request is answered `501 Not Implemented` with its method and path, and the `local_hub` fixture fails the
test naming every such route, so a `huggingface_hub` upgrade that changes a route breaks here, loudly, and not in a
user's push.

`huggingface_hub` reads `HF_ENDPOINT` once, at import: the fixture therefore points the already imported module at
the server (and resets transformers' shared `HfApi`); `hub.env` gives the variables a client subprocess needs.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import huggingface_hub
import yaml


USER = "local-user"
# Repo type -> prefix of its ids in the store and its URLs (a model's id has none).
REPO_TYPES = {"model": "", "space": "spaces/"}
INITIAL_FILES = {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"}


class HubError(Exception):
    """An HTTP error answered the way the Hub does: status, `X-Error-Code` and a JSON `error` message."""

    def __init__(self, status: int, message: str, error_code: str | None = None, **extra):
        super().__init__(message)
        self.status, self.error_code, self.extra = status, error_code, extra


def git_blob_oid(content: bytes) -> str:
    """The git object id of a blob: what the Hub reports as a regular file's `oid` and `ETag`."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclasses.dataclass(frozen=True)
class Commit:
    oid: str
    parent: str | None
    message: str
    files: dict[str, str]  # path -> blob oid


class HubStore:
    """Model repositories (commits of `main`) and blobs of the local Hub, in memory. Thread-safe."""

    def __init__(self):
        self.blobs: dict[str, bytes] = {}
        self.repos: dict[str, list[Commit]] = {}  # repo id -> commits of main, oldest first
        self.lock = threading.Lock()

    def history(self, repo_id: str) -> list[Commit]:
        if repo_id not in self.repos:
            raise HubError(HTTPStatus.NOT_FOUND, f"Repository {repo_id} not found", "RepoNotFound")
        return self.repos[repo_id]

    def resolve(self, repo_id: str, revision: str) -> Commit:
        """`main` or a full commit oid -> that commit."""
        commits = self.history(repo_id)
        for commit in commits if revision != "main" else commits[-1:]:
            if revision in ("main", commit.oid):
                return commit
        raise HubError(HTTPStatus.NOT_FOUND, f"Invalid rev id: {revision}", "RevisionNotFound")

    def create_repo(self, repo_id: str, url: str) -> None:
        with self.lock:
            if repo_id in self.repos:
                # the Hub names the existing repo's url, which `create_repo(exist_ok=True)` returns
                raise HubError(HTTPStatus.CONFLICT, f"You already created this model repo: {repo_id}", url=url)
            self.repos[repo_id] = []
            files = {path: self._put(content) for path, content in INITIAL_FILES.items()}
            self._add_commit(repo_id, "initial commit", files)

    def commit(self, repo_id: str, lines: list[dict]) -> Commit:
        """Applies one NDJSON commit payload (a header, then `file` and `deletedFile` lines) to `main`."""
        if not lines or lines[0].get("key") != "header":
            raise HubError(HTTPStatus.BAD_REQUEST, "The first line of a commit must be its header")
        with self.lock:
            files = dict(self.resolve(repo_id, "main").files)
            for line in lines[1:]:
                key, value = line.get("key"), line.get("value", {})
                if key == "file" and value.get("encoding") == "base64":
                    files[value["path"]] = self._put(base64.b64decode(value["content"]))
                elif key == "deletedFile" and value.get("path") in files:
                    del files[value["path"]]
                else:
                    raise HubError(HTTPStatus.NOT_IMPLEMENTED, f"The local hub cannot apply commit line {line!r}")
            return self._add_commit(repo_id, lines[0]["value"].get("summary", ""), files)

    def _put(self, content: bytes) -> str:
        oid = git_blob_oid(content)
        self.blobs[oid] = content
        return oid

    def _add_commit(self, repo_id: str, message: str, files: dict[str, str]) -> Commit:
        commits = self.repos[repo_id]
        parent = commits[-1].oid if commits else None
        identity = json.dumps([repo_id, parent, message, sorted(files.items()), len(commits)])
        commits.append(Commit(hashlib.sha1(identity.encode()).hexdigest(), parent, message, files))
        return commits[-1]


def card_metadata_errors(content: str) -> list[str]:
    """What the Hub reports for a README's YAML front matter: syntax errors and a malformed model-index."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, flags=re.DOTALL)
    try:
        metadata = yaml.safe_load(match.group(1)) if match else None
        if isinstance(metadata, dict) and "model-index" in metadata:
            huggingface_hub.repocard_data.model_index_to_eval_results(metadata["model-index"])
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as error:
        return [f"Invalid metadata: {error}"]
    return []


class HubRequestHandler(BaseHTTPRequestHandler):
    """Routes one request to the `HubStore` of its server; any other route answers 501 and is recorded."""

    protocol_version = "HTTP/1.1"
    server: LocalHubServer

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass  # keep pytest output clean; requests are recorded in `server.requests` instead

    def do_GET(self):
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _dispatch(self):
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        route = "/".join(unquote(part) for part in url.path.strip("/").split("/"))
        self.server.requests.append((self.command, url.path))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            if not self._route(self.command, route, body):
                self.server.unhandled.append((self.command, self.path))
                raise HubError(HTTPStatus.NOT_IMPLEMENTED, f"The local hub has no route {self.command} {self.path}")
        except HubError as error:
            self._send_json(
                {"error": str(error), **error.extra}, status=error.status, error_code=error.error_code or "LocalHub"
            )

    def _route(self, method: str, route: str, body: bytes) -> bool:
        """Answers the request if its route is one the local hub implements; returns whether it was."""
        store, repo = self.server.store, r"(?P<repo>(spaces/)?[\w.-]+/[\w.-]+)"
        # The API routes of a Space repo are those of a model repo under api/spaces/; its files under spaces/.
        route = re.sub(r"^api/spaces/", "api/models/spaces/", route)
        if method == "POST" and route == "api/repos/create":
            payload = json.loads(body)
            repo_id = f"{payload.get('organization') or USER}/{payload['name']}"
            kind = payload.get("type") or "model"
            if kind not in REPO_TYPES:
                return False
            if kind == "space" and not payload.get("sdk"):
                raise HubError(HTTPStatus.BAD_REQUEST, "A Space needs an sdk (gradio, docker or static)")
            url = f"{self.server.endpoint}/{REPO_TYPES[kind]}{repo_id}"
            store.create_repo(REPO_TYPES[kind] + repo_id, url)
            return self._send_json({"url": url, "name": repo_id, "id": repo_id})
        if method == "POST" and route == "api/validate-yaml":
            errors = card_metadata_errors(json.loads(body)["content"])
            status = HTTPStatus.BAD_REQUEST if errors else HTTPStatus.OK
            return self._send_json({"errors": [{"message": e} for e in errors], "warnings": []}, status=status)
        if method == "GET" and (match := re.fullmatch(f"api/models/{repo}(/revision/(?P<rev>\\w+))?", route)):
            commit = store.resolve(match["repo"], match["rev"] or "main")
            siblings = [{"rfilename": path, "blobId": oid} for path, oid in sorted(commit.files.items())]
            return self._send_json({"id": match["repo"], "sha": commit.oid, "siblings": siblings})
        if method == "GET" and (match := re.fullmatch(f"api/models/{repo}/tree/(?P<rev>\\w+)", route)):
            if self.query.get("recursive") != ["true"]:
                return False
            commit = store.resolve(match["repo"], match["rev"])
            return self._send_json(
                [
                    {"type": "file", "oid": oid, "size": len(store.blobs[oid]), "path": path}
                    for path, oid in sorted(commit.files.items())
                ]
            )
        if method == "POST" and (match := re.fullmatch(f"api/models/{repo}/preupload/main", route)):
            files = store.resolve(match["repo"], "main").files
            answer = [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": files.get(f["path"])}
                for f in json.loads(body)["files"]
            ]
            return self._send_json({"files": answer})
        if method == "POST" and (match := re.fullmatch(f"api/models/{repo}/commit/main", route)):
            commit = store.commit(match["repo"], [json.loads(line) for line in body.splitlines() if line.strip()])
            url = f"{self.server.endpoint}/{match['repo']}/commit/{commit.oid}"
            return self._send_json({"success": True, "commitOid": commit.oid, "commitUrl": url})
        if method in ("GET", "HEAD") and (match := re.fullmatch(f"{repo}/resolve/(?P<rev>\\w+)/(?P<path>.+)", route)):
            return self._send_file(store.resolve(match["repo"], match["rev"]), match["path"])
        return False

    def _send_file(self, commit: Commit, path: str) -> bool:
        if path not in commit.files:
            raise HubError(HTTPStatus.NOT_FOUND, f"Entry not found: {path}", "EntryNotFound")
        content = self.server.store.blobs[commit.files[path]]
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("ETag", f'"{commit.files[path]}"')
        self.send_header("X-Repo-Commit", commit.oid)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)
        return True

    def _send_json(self, payload, status: int = HTTPStatus.OK, error_code: str | None = None) -> bool:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if error_code is not None:
            self.send_header("X-Error-Code", error_code)
            self.send_header("X-Error-Message", payload["error"])
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return True


class LocalHubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: HubStore):
        super().__init__(("127.0.0.1", 0), HubRequestHandler)
        self.store = store
        self.endpoint = f"http://127.0.0.1:{self.server_address[1]}"
        self.requests: list[tuple[str, str]] = []
        self.unhandled: list[tuple[str, str]] = []  # requests for routes the local hub does not implement


class LocalHub:
    """A running local Hub: `endpoint`, the `env` a client subprocess needs, and read helpers."""

    def __init__(self, hf_home):
        self.store = HubStore()
        self.server = LocalHubServer(self.store)
        self.endpoint = self.server.endpoint
        self.env = {
            "HF_ENDPOINT": self.endpoint,
            "HF_TOKEN": "hf_local_dummy_token",
            "HF_HUB_OFFLINE": "0",
            "TRANSFORMERS_OFFLINE": "0",
            "HF_HOME": str(hf_home),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_XET": "1",
        }
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalHub:
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Every (method, path) the server was asked, in order."""
        return list(self.server.requests)

    def check_routes(self) -> None:
        """Fails naming each request the local hub could not answer (a client asking for a route it lacks)."""
        if self.server.unhandled:
            routes = ", ".join(f"{method} {path}" for method, path in self.server.unhandled)
            raise AssertionError(
                f"huggingface_hub {huggingface_hub.__version__} called routes the local hub does not implement "
                f"(a changed wire protocol?): {routes}"
            )

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """The content of every file of `repo_id` at `revision`."""
        return {path: self.store.blobs[oid] for path, oid in self.store.resolve(repo_id, revision).files.items()}

    def commits(self, repo_id: str) -> list[Commit]:
        """The commits of `main`, oldest first (the first is the repo's initial commit)."""
        return list(self.store.history(repo_id))

"""A local stand-in for the Hugging Face Hub, so push and pull tests run offline.

`LocalHub` is a threaded stdlib HTTP server on 127.0.0.1 that answers the routes `huggingface_hub` 2.x calls for
`create_repo`, `upload_folder`/`create_commit` (preupload, NDJSON commit, `/api/validate-yaml`), `repo_info`/
`model_info`, `list_repo_tree`, `whoami`, `hf_hub_download` and `snapshot_download`. Files are stored as regular
git blobs (preupload always answers `uploadMode: "regular"`); every commit is a new immutable snapshot, so old
revisions stay downloadable. Blobs are written under the storage folder; repository state lives in memory.

Tests use the `local_hub` fixture. `huggingface_hub` reads `HF_ENDPOINT` once, at import: the fixture therefore
points the already imported module at the server (and resets transformers' shared `HfApi`), and `hub.env` gives the
variables a client subprocess needs (`HF_ENDPOINT`, a dummy `HF_TOKEN`, `HF_HUB_OFFLINE=0`, its own `HF_HOME`).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import json
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml


USER = "local-user"
REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
INITIAL_FILES = {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"}


class HubError(Exception):
    """An HTTP error answered the way the Hub does: status, `X-Error-Code` and a JSON `error` message."""

    def __init__(self, status: int, message: str, error_code: str | None = None, **extra):
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.extra = extra  # more fields of the JSON answer


def git_blob_oid(content: bytes) -> str:
    """The git object id of a blob: what the Hub reports as a regular file's `oid` and `ETag`."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclasses.dataclass(frozen=True)
class Commit:
    oid: str
    parent: str | None
    message: str
    date: str
    files: dict[str, str]  # path -> blob oid


@dataclasses.dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    branches: dict[str, str] = dataclasses.field(default_factory=dict)
    commits: dict[str, Commit] = dataclasses.field(default_factory=dict)


class HubStore:
    """Repositories, commits and blobs of the local Hub. Thread-safe; blobs live on disk under `storage_dir`."""

    def __init__(self, storage_dir: Path):
        self.storage_dir = Path(storage_dir)
        self.blob_dir = self.storage_dir / "blobs"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lock = threading.Lock()

    def put_blob(self, content: bytes) -> str:
        oid = git_blob_oid(content)
        path = self.blob_dir / oid
        if not path.exists():
            path.write_bytes(content)
        return oid

    def blob(self, oid: str) -> bytes:
        return (self.blob_dir / oid).read_bytes()

    def repo(self, repo_type: str, repo_id: str) -> Repo:
        try:
            return self.repos[(repo_type, repo_id)]
        except KeyError:
            raise HubError(HTTPStatus.NOT_FOUND, f"Repository {repo_id} not found", "RepoNotFound") from None

    def create_repo(self, repo_type: str, repo_id: str, private: bool, url: str) -> Repo:
        with self.lock:
            if (repo_type, repo_id) in self.repos:
                # the Hub names the existing repo's url, which `create_repo(exist_ok=True)` returns
                raise HubError(HTTPStatus.CONFLICT, f"You already created this {repo_type} repo", url=url)
            repo = Repo(repo_type, repo_id, private)
            self.repos[(repo_type, repo_id)] = repo
            files = {path: self.put_blob(content) for path, content in INITIAL_FILES.items()}
            self._add_commit(repo, "main", None, "initial commit", files)
            return repo

    def resolve(self, repo: Repo, revision: str) -> Commit:
        """A branch name, a full commit oid or an oid prefix of at least 7 characters -> that commit."""
        if revision in repo.branches:
            return repo.commits[repo.branches[revision]]
        if re.fullmatch(r"[0-9a-f]{7,40}", revision):
            matches = [oid for oid in repo.commits if oid.startswith(revision)]
            if len(matches) == 1:
                return repo.commits[matches[0]]
        raise HubError(HTTPStatus.NOT_FOUND, f"Invalid rev id: {revision}", "RevisionNotFound")

    def commit(self, repo: Repo, branch: str, lines: list[dict]) -> Commit:
        """Apply one NDJSON commit payload (header, file, deletedFile, deletedFolder) to `branch`."""
        if not lines or lines[0].get("key") != "header":
            raise HubError(HTTPStatus.BAD_REQUEST, "The first line of a commit must be its header")
        header = lines[0]["value"]
        with self.lock:
            if branch not in repo.branches:
                raise HubError(HTTPStatus.NOT_FOUND, f"Invalid rev id: {branch}", "RevisionNotFound")
            head = repo.branches[branch]
            parent = header.get("parentCommit")
            if parent is not None and not head.startswith(parent):
                raise HubError(HTTPStatus.PRECONDITION_FAILED, f"Parent commit {parent} is not the head of {branch}")
            files = dict(repo.commits[head].files)
            for line in lines[1:]:
                key, value = line.get("key"), line.get("value", {})
                path = value.get("path", "")
                if key == "file":
                    if value.get("encoding") != "base64":
                        raise HubError(HTTPStatus.BAD_REQUEST, f"Unsupported encoding for {path}")
                    files[path] = self.put_blob(base64.b64decode(value["content"]))
                elif key == "deletedFile":
                    if files.pop(path, None) is None:
                        raise HubError(
                            HTTPStatus.NOT_FOUND, f"A file with this name doesn't exist: {path}", "EntryNotFound"
                        )
                elif key == "deletedFolder":
                    prefix = path.rstrip("/") + "/"
                    files = {name: oid for name, oid in files.items() if not name.startswith(prefix)}
                elif key == "lfsFile":
                    raise HubError(HTTPStatus.BAD_REQUEST, f"The local hub stores regular files only, not LFS: {path}")
                else:
                    raise HubError(HTTPStatus.BAD_REQUEST, f"Unknown commit operation {key!r}")
            message = header.get("summary", "")
            if header.get("description"):
                message += "\n\n" + header["description"]
            return self._add_commit(repo, branch, head, message, files)

    def _add_commit(self, repo: Repo, branch: str, parent: str | None, message: str, files: dict[str, str]) -> Commit:
        date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        identity = json.dumps([parent, message, date, sorted(files.items()), len(repo.commits)])
        commit = Commit(hashlib.sha1(identity.encode()).hexdigest(), parent, message, date, files)
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        return commit

    def history(self, repo: Repo, branch: str = "main") -> list[Commit]:
        """The commits of `branch`, newest first."""
        commits, oid = [], repo.branches[branch]
        while oid is not None:
            commits.append(repo.commits[oid])
            oid = commits[-1].parent
        return commits


def validate_card_metadata(content: str) -> list[str]:
    """Errors the Hub would report for a README's YAML front matter (syntax, mapping, model-index layout)."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, flags=re.DOTALL)
    if match is None:
        return []
    try:
        metadata = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        return [f"Invalid YAML: {error}"]
    if metadata is None:
        return []
    if not isinstance(metadata, dict):
        return ["The YAML metadata must be a mapping"]
    errors = []
    if "model-index" in metadata:
        from huggingface_hub.repocard_data import model_index_to_eval_results

        try:
            model_index_to_eval_results(metadata["model-index"])
        except (KeyError, TypeError, ValueError) as error:
            errors.append(f'"model-index" is malformed: {error!r}')
    return errors


class HubRequestHandler(BaseHTTPRequestHandler):
    """Routes one request to the `HubStore` of its server; unknown routes answer 404 and are recorded."""

    protocol_version = "HTTP/1.1"
    server: LocalHubServer

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass  # keep pytest output clean; requests are recorded in `server.requests` instead

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method: str):
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        segments = [unquote(part) for part in url.path.strip("/").split("/")]
        self.server.requests.append((method, url.path))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            self._route(method, segments, body)
        except HubError as error:
            payload = {"error": str(error), **error.extra}
            self._send_json(payload, status=error.status, error_code=error.error_code)

    def _route(self, method: str, segments: list[str], body: bytes):
        store, head_only = self.server.store, method == "HEAD"
        if segments[0] == "api":
            route = segments[1:]
            if method == "POST" and route == ["repos", "create"]:
                return self._create_repo(json.loads(body))
            if method == "GET" and route == ["agent-harnesses"]:
                return self._send_json({"standardEnvVars": [], "harnesses": {}})
            if method == "GET" and route == ["whoami-v2"]:
                return self._send_json({"type": "user", "name": USER, "auth": {"accessToken": {"role": "write"}}})
            if method == "POST" and route == ["validate-yaml"]:
                errors = validate_card_metadata(json.loads(body)["content"])
                status = HTTPStatus.BAD_REQUEST if errors else HTTPStatus.OK
                return self._send_json({"errors": [{"message": e} for e in errors], "warnings": []}, status=status)
            if len(route) >= 3 and route[0] in REPO_TYPES:
                repo = store.repo(REPO_TYPES[route[0]], "/".join(route[1:3]))
                return self._repo_api(method, repo, route[3:], body)
        else:
            repo_type = REPO_TYPES.get(segments[0], "model")
            offset = 0 if repo_type == "model" and segments[0] not in REPO_TYPES else 1
            if len(segments) >= offset + 5 and segments[offset + 2] == "resolve" and method in ("GET", "HEAD"):
                repo = store.repo(repo_type, "/".join(segments[offset : offset + 2]))
                revision, path = segments[offset + 3], "/".join(segments[offset + 4 :])
                return self._resolve(repo, revision, path, head_only)
        self.server.unhandled.append((method, self.path))
        raise HubError(HTTPStatus.NOT_FOUND, f"The local hub has no route {method} /{'/'.join(segments)}")

    def _repo_api(self, method: str, repo: Repo, route: list[str], body: bytes):
        store = self.server.store
        if method == "GET" and len(route) in (0, 2) and (not route or route[0] == "revision"):
            return self._send_json(self._repo_info(repo, store.resolve(repo, route[1] if route else "main")))
        if method == "GET" and len(route) >= 2 and route[0] == "tree":
            return self._send_json(self._tree(store.resolve(repo, route[1]), "/".join(route[2:])))
        if method == "POST" and len(route) == 2 and route[0] == "preupload":
            files = store.resolve(repo, route[1]).files
            answer = [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": files.get(f["path"])}
                for f in json.loads(body)["files"]
            ]
            return self._send_json({"files": answer, "commitOid": store.resolve(repo, route[1]).oid})
        if method == "POST" and len(route) == 2 and route[0] == "commit":
            if "create_pr" in self.query:
                raise HubError(HTTPStatus.BAD_REQUEST, "The local hub does not open pull requests")
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            commit = store.commit(repo, route[1], lines)
            url = f"{self.server.endpoint}/{URL_PREFIXES[repo.repo_type]}{repo.repo_id}/commit/{commit.oid}"
            return self._send_json({"success": True, "commitOid": commit.oid, "commitUrl": url, "pullRequestUrl": None})
        self.server.unhandled.append((method, self.path))
        raise HubError(HTTPStatus.NOT_FOUND, f"The local hub has no repo route {method} {'/'.join(route)}")

    def _create_repo(self, payload: dict):
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or USER}/{payload['name']}"
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        url = f"{self.server.endpoint}/{URL_PREFIXES[repo_type]}{repo_id}"
        self.server.store.create_repo(repo_type, repo_id, private, url)
        self._send_json({"url": url, "name": repo_id, "id": repo_id})

    def _repo_info(self, repo: Repo, commit: Commit) -> dict:
        store = self.server.store
        return {
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.oid,
            "lastModified": commit.date,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "siblings": [
                {"rfilename": path, "blobId": oid, "size": len(store.blob(oid))}
                for path, oid in sorted(commit.files.items())
            ],
        }

    def _tree(self, commit: Commit, folder: str) -> list[dict]:
        """Entries under `folder`: every file below it when `recursive` is true, else its direct files and folders."""
        store = self.server.store
        recursive = self.query.get("recursive", ["False"])[0].lower() == "true"
        prefix = folder.rstrip("/") + "/" if folder else ""
        entries, folders = [], set()
        for path, oid in sorted(commit.files.items()):
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            for depth in range(1, len(parts) if recursive else min(len(parts), 2)):
                folders.add(prefix + "/".join(parts[:depth]))
            if recursive or len(parts) == 1:
                entries.append({"type": "file", "oid": oid, "size": len(store.blob(oid)), "path": path})
        if prefix and not entries and not folders:
            raise HubError(HTTPStatus.NOT_FOUND, f"{folder} does not exist", "EntryNotFound")
        return [{"type": "directory", "oid": "0" * 40, "size": 0, "path": p} for p in sorted(folders)] + entries

    def _resolve(self, repo: Repo, revision: str, path: str, head_only: bool):
        commit = self.server.store.resolve(repo, revision)
        if path not in commit.files:
            raise HubError(HTTPStatus.NOT_FOUND, f"Entry not found: {path}", "EntryNotFound")
        oid = commit.files[path]
        content = self.server.store.blob(oid)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(content)))
        self.send_header("ETag", f'"{oid}"')
        self.send_header("X-Repo-Commit", commit.oid)
        self.end_headers()
        if not head_only:
            self.wfile.write(content)

    def _send_json(self, payload, status: int = HTTPStatus.OK, error_code: str | None = None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if error_code is not None:
            self.send_header("X-Error-Code", error_code)
            self.send_header("X-Error-Message", str(payload.get("error", "")))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class LocalHubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: HubStore):
        super().__init__(("127.0.0.1", 0), HubRequestHandler)
        self.store = store
        self.endpoint = f"http://127.0.0.1:{self.server_address[1]}"
        self.requests: list[tuple[str, str]] = []
        self.unhandled: list[tuple[str, str]] = []  # requests for routes the local hub does not implement


class LocalHub:
    """A running local Hub: `endpoint`, `storage_dir`, the `env` a client subprocess needs, and read helpers."""

    def __init__(self, storage_dir: Path, hf_home: Path):
        self.store = HubStore(storage_dir)
        self.server = LocalHubServer(self.store)
        self.endpoint = self.server.endpoint
        self.storage_dir = self.store.storage_dir
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

    @property
    def unhandled(self) -> list[tuple[str, str]]:
        """Requests for routes the local hub does not implement: a client needing more of the Hub shows up here."""
        return list(self.server.unhandled)

    def files(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> dict[str, bytes]:
        """The content of every file of `repo_id` at `revision`."""
        store = self.store
        commit = store.resolve(store.repo(repo_type, repo_id), revision)
        return {path: store.blob(oid) for path, oid in commit.files.items()}

    def commits(self, repo_id: str, repo_type: str = "model") -> list[Commit]:
        """The commits of `main`, oldest first (the first is the repo's initial commit)."""
        store = self.store
        return list(reversed(store.history(store.repo(repo_type, repo_id))))


def point_huggingface_hub_at(endpoint: str, hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the already imported `huggingface_hub` (and transformers' shared `HfApi`) talk to `endpoint`."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    try:
        import transformers.utils.hub as transformers_hub
    except ImportError:
        return
    monkeypatch.setattr(transformers_hub, "_hf_api", None)


@pytest.fixture
def local_hub(tmp_path, monkeypatch):
    """A local Hub for one test. This process's `huggingface_hub` points at it; `hub.env` is for subprocesses."""
    with LocalHub(tmp_path / "hub_storage", tmp_path / "hf_home") as hub:
        for name, value in hub.env.items():
            monkeypatch.setenv(name, value)
        point_huggingface_hub_at(hub.endpoint, tmp_path / "hf_home" / "hub", monkeypatch)
        yield hub

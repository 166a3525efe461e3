"""A small Hugging Face hub on loopback for the download tests: real HTTP, the calls
``huggingface_hub`` makes (repository info at a revision, the recursive tree listing,
``resolve`` with HEAD, GET and Range), a bearer token checked on gated repositories, and
faults on demand (a connection cut inside a file). It serves directories of files, e.g. a
``lume mini build`` output's ``model/``, ``dataset/`` and ``mmlu/``. Bounded: it answers
at most ``max_requests`` requests and stops by itself after ``lifetime`` seconds.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

API = re.compile(r"^/api/(models|datasets)/([^/]+/[^/]+)/(revision|tree)/([^/]+)(?:/(.*))?$")
INFO = re.compile(r"^/api/(models|datasets)/([^/]+/[^/]+)$")
RESOLVE = re.compile(r"^/(datasets/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


@dataclass
class HubRepo:
    """One repository: its files (path -> bytes), one commit, gated or not."""

    files: dict[str, bytes]
    gated: bool = True
    branch: str = "main"

    @classmethod
    def from_dir(cls, directory: Path, gated: bool = True) -> HubRepo:
        files = {
            p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*"))
            if p.is_file()
        }
        return cls(files=files, gated=gated)

    @property
    def commit(self) -> str:
        digest = hashlib.sha1()
        for path in sorted(self.files):
            digest.update(path.encode() + b"\0" + hashlib.sha256(self.files[path]).digest())
        return digest.hexdigest()


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    range: str | None
    authorization: str | None


@dataclass
class Cut:
    """Close the connection after ``at`` bytes of a GET of ``path``, ``times`` times."""

    at: int
    times: int
    done: int = 0


@dataclass
class HubState:
    repos: dict[tuple[str, str], HubRepo]  # (models|datasets, repo_id) -> repo
    token: str | None
    max_requests: int
    requests: list[Request] = field(default_factory=list)
    cuts: dict[str, Cut] = field(default_factory=dict)  # "repo_id/path" -> cut
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *_args) -> None:  # quiet
        pass

    # --------------------------------------------------------------- answers

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        headers = {"X-Error-Code": code, "X-Error-Message": message}
        self._send(status, body, {"Content-Type": "application/json", **headers})

    def _json(self, value) -> None:
        self._send(200, json.dumps(value).encode(), {"Content-Type": "application/json"})

    # --------------------------------------------------------------- checks

    def _repo(self, kind: str, repo_id: str, revision: str) -> HubRepo | None:
        state = self.server.state
        repo = state.repos.get((kind, repo_id))
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
            return None
        if repo.gated:
            auth = self.headers.get("authorization")
            if not auth:
                self._error(401, "GatedRepo", "Access to this repository is restricted")
                return None
            if auth != f"Bearer {state.token}":
                self._error(403, "GatedRepo", "Your token has no access to this repository")
                return None
        if revision not in (repo.branch, repo.commit):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return repo

    def _count(self) -> bool:
        state = self.server.state
        with state.lock:
            state.requests.append(
                Request(
                    self.command,
                    unquote(urlsplit(self.path).path),
                    self.headers.get("range"),
                    self.headers.get("authorization"),
                )
            )
            over = len(state.requests) > state.max_requests
        if over:
            self._error(429, "TooMany", "request limit of the test hub reached")
        return not over

    # --------------------------------------------------------------- routes

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if not self._count():
            return
        path = unquote(urlsplit(self.path).path)
        if match := API.match(path):
            kind, repo_id, what, revision, sub = match.groups()
            repo = self._repo(kind, repo_id, revision)
            if repo is None:
                return
            if what == "revision":
                return self._json(self._info(repo_id, repo))
            return self._json(self._tree(repo, sub or ""))
        if RESOLVE.match(path):
            return self._resolve(path)
        if path == "/api/agent-harnesses":  # huggingface_hub asks once a day: none known
            return self._json({"standardEnvVars": [], "harnesses": {}})
        if match := INFO.match(path):  # info at the default branch
            kind, repo_id = match.groups()
            repo = self.server.state.repos.get((kind, repo_id))
            if self._repo(kind, repo_id, repo.branch if repo else "main") is not None:
                return self._json(self._info(repo_id, repo))
            return
        self._error(404, "EntryNotFound", f"no route {path}")

    def do_HEAD(self) -> None:  # noqa: N802
        if not self._count():
            return
        path = unquote(urlsplit(self.path).path)
        if RESOLVE.match(path):
            return self._resolve(path)
        self._error(404, "EntryNotFound", f"no route {path}")

    def _info(self, repo_id: str, repo: HubRepo) -> dict:
        return {
            "id": repo_id,
            "sha": repo.commit,
            "private": False,
            "gated": "manual" if repo.gated else False,
            "siblings": [{"rfilename": p} for p in sorted(repo.files)],
        }

    def _tree(self, repo: HubRepo, sub: str) -> list[dict]:
        prefix = sub.rstrip("/") + "/" if sub else ""
        entries, folders = [], set()
        for path, data in sorted(repo.files.items()):
            if not path.startswith(prefix):
                continue
            parts = path.split("/")
            for depth in range(1, len(parts)):
                folders.add("/".join(parts[:depth]))
            sha256 = hashlib.sha256(data).hexdigest()
            entries.append(
                {
                    "type": "file",
                    "oid": hashlib.sha1(data).hexdigest(),
                    "size": len(data),
                    "path": path,
                    "lfs": {"oid": sha256, "size": len(data), "pointerSize": 134},
                }
            )
        dirs = [{"type": "directory", "oid": "0" * 40, "size": 0, "path": f} for f in folders]
        return sorted(dirs, key=lambda d: d["path"]) + entries

    def _resolve(self, path: str) -> None:
        datasets, repo_id, revision, file = RESOLVE.match(path).groups()
        repo = self._repo("datasets" if datasets else "models", repo_id, revision)
        if repo is None:
            return
        data = repo.files.get(file)
        if data is None:
            return self._error(404, "EntryNotFound", f"{file} not in {repo_id}")
        headers = {
            "X-Repo-Commit": repo.commit,
            "ETag": f'"{hashlib.sha1(data).hexdigest()}"',
            "X-Linked-Etag": f'"{hashlib.sha256(data).hexdigest()}"',
            "X-Linked-Size": len(data),
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        start = 0
        wanted = self.headers.get("range")
        status = 200
        if wanted and self.command == "GET":
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())
            if match is None or int(match.group(1)) >= len(data):
                return self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else len(data) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data = data[start : end + 1]
            status = 206
        cut = self.server.state.cuts.get(f"{repo_id}/{file}")
        if self.command == "GET" and cut is not None and cut.done < cut.times:
            cut.done += 1
            return self._send_cut(status, data, headers, max(cut.at - start, 0))
        if self.command == "HEAD":
            self.send_response(200)
            for key, value in headers.items():
                self.send_header(key, str(value))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return
        self._send(status, data, headers)

    def _send_cut(self, status: int, data: bytes, headers: dict, at: int) -> None:
        """Announce the whole body, send part of it, close the connection."""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[:at])
        self.wfile.flush()
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: HubState


class HubServer:
    """``with HubServer(repos, token) as hub:`` ... ``hub.url`` is the endpoint."""

    def __init__(
        self,
        repos: dict[tuple[str, str], HubRepo],
        token: str | None = "hf_test_token",
        lifetime: float = 120.0,
        max_requests: int = 2000,
    ) -> None:
        self.state = HubState(repos=repos, token=token, max_requests=max_requests)
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[Request]:
        return list(self.state.requests)

    def cut(self, repo_id: str, path: str, at: int, times: int = 1) -> None:
        self.state.cuts[f"{repo_id}/{path}"] = Cut(at=at, times=times)

    def start(self) -> HubServer:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

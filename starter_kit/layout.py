"""What a track's repositories are and hold, and the manifest that records them.

A track names a model, a dataset (with ``mia_data/``) and MMLU; each is one hub
repository laid out under the root where ``--track X --root ROOT`` looks. The kit takes
only the files it needs (``ALLOW``/``IGNORE``: safetensors, never pickle weights; MMLU
without ``all/``) and each must hold ``REQUIRED``. ``ROOT/manifest.json`` records each
repository's commit and each file's size and sha256; ``verify`` checks a tree against it.
The disk space a download needs is checked here, before anything is written.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scorer.data.files import write_bytes_atomic
from scorer.errors import LumeError
from scorer.tracks.track import MANIFEST_PREFIX, Track

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
CHUNK = 1 << 20
SPACE_MARGIN = 64 << 20  # bytes kept free beyond the announced sizes

# What the kit needs of each kind of repository; weights only as safetensors.
ALLOW = {
    "model": ("*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"),
    "data": ("data/*.parquet", "data/*.jsonl", "mia_data/*"),
    "mmlu": ("*/dev-*", "*/test-*"),
}
IGNORE = {"model": (), "data": (), "mmlu": ("all/*", "auxiliary_train/*")}
REQUIRED = {  # each pattern must match at least one file
    "model": ("config.json", "*.safetensors", "tokenizer*"),
    "data": (
        "data/forget_train-*.parquet",
        "data/retain_train-*.parquet",
        "data/forget_validation-*.parquet",
        "data/retain_validation-*.parquet",
        "mia_data/member*",
        "mia_data/nonmember*",
    ),
    "mmlu": ("*/dev-*", "*/test-*"),
}
REPO_TYPES = {"model": "model", "data": "dataset", "mmlu": "dataset"}
BUILD_KEYS = {"model": "model_dir", "data": "data_dir", "mmlu": "mmlu_dir"}  # lume mini build


@dataclass(frozen=True)
class Repository:
    """One repository a track needs, and where it goes under the root."""

    kind: str  # model | data | mmlu
    repo_id: str | None  # None: built locally (the mini track)
    local: str  # relative to the root

    @property
    def repo_type(self) -> str:
        return REPO_TYPES[self.kind]

    @property
    def label(self) -> str:
        return self.repo_id or self.local


@dataclass(frozen=True)
class FileRecord:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Fetched:
    """One repository as laid down under the root: what the manifest records of it."""

    repository: Repository
    source: str  # the endpoint or "mirror:<dir>"
    revision: str
    commit: str
    files: tuple[FileRecord, ...]
    reused: int = 0  # files already complete before this run

    def record(self) -> dict:
        return {
            "kind": self.repository.kind,
            "repo_id": self.repository.repo_id,
            "repo_type": self.repository.repo_type,
            "local": self.repository.local,
            "source": self.source,
            "revision": self.revision,
            "commit": self.commit,
            "files": {f.path: {"size": f.size, "sha256": f.sha256} for f in self.files},
        }


@dataclass(frozen=True)
class Problem:
    """A difference between a tree and its manifest (``verify``)."""

    local: str
    path: str
    what: str  # missing | size | sha256


@dataclass
class Plan:
    """A repository's listing at a resolved commit: what a download will write."""

    repository: Repository
    revision: str
    commit: str
    sizes: dict[str, int] = field(default_factory=dict)


def track_repositories(track: Track, kinds: Iterable[str] = ("model", "data", "mmlu")) -> list:
    """The repositories a track names, the MIA set folded into its dataset's repository."""
    wanted = set(kinds)
    sources = {"model": track.model, "data": track.data, "mmlu": track.mmlu}
    repos = []
    for kind, source in sources.items():
        if kind not in wanted:
            continue
        # a "manifest:KEY" local is resolved from the mirror's build.json (the mini track)
        repos.append(Repository(kind=kind, repo_id=source.hub_id, local=source.local))
    mia = track.mia
    inside = mia.hub_id == track.data.hub_id and mia.local.startswith(track.data.local + "/")
    if "data" in wanted and not inside and not mia.local.startswith(MANIFEST_PREFIX):
        raise LumeError(
            f"track {track.name}: the MIA set must live in the dataset repository "
            f"({track.data.local}/...), not {mia.local}"
        )
    return repos


def matches(path: str, allow: Iterable[str], ignore: Iterable[str] = ()) -> bool:
    return any(fnmatch.fnmatch(path, p) for p in allow) and not any(
        fnmatch.fnmatch(path, p) for p in ignore
    )


def wanted_files(kind: str, paths: Iterable[str]) -> list[str]:
    return sorted(p for p in paths if matches(p, ALLOW[kind], IGNORE[kind]))


def missing_required(kind: str, paths: Iterable[str]) -> list[str]:
    """The REQUIRED patterns of ``kind`` that no path matches."""
    paths = list(paths)
    return [p for p in REQUIRED[kind] if not any(fnmatch.fnmatch(x, p) for x in paths)]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_records(directory: Path, paths: Iterable[str]) -> tuple[FileRecord, ...]:
    return tuple(
        FileRecord(p, (directory / p).stat().st_size, sha256_file(directory / p))
        for p in sorted(paths)
    )


# ------------------------------------------------------------------ manifest


def read_manifest(root: Path) -> dict | None:
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise LumeError(f"{path}: cannot read JSON ({err})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("repositories"), list):
        raise LumeError(f"{path}: not a lume manifest (no 'repositories' list)")
    for number, entry in enumerate(manifest["repositories"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("files"), dict):
            raise LumeError(f"{path}: repositories[{number}] has no 'files' object")
        if not isinstance(entry.get("local"), str):
            raise LumeError(f"{path}: repositories[{number}] has no 'local' string")
    return manifest


def write_manifest(root: Path, track: str | None, fetched: Iterable[Fetched]) -> dict:
    """Merge ``fetched`` into ``ROOT/manifest.json`` (one entry per local directory)."""
    manifest = read_manifest(root) or {"version": MANIFEST_VERSION, "repositories": []}
    entries = {e["local"]: e for e in manifest["repositories"]}
    for item in fetched:
        entries[item.repository.local] = item.record()
    manifest = {
        "version": MANIFEST_VERSION,
        "track": track if track is not None else manifest.get("track"),
        "repositories": [entries[k] for k in sorted(entries)],
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    write_bytes_atomic(root / MANIFEST, text.encode("utf-8"))
    return manifest


def verify(root: Path) -> tuple[dict, list[Problem]]:
    """Every file of ``ROOT/manifest.json``: present, of its size and sha256."""
    manifest = read_manifest(root)
    if manifest is None:
        raise LumeError(f"{root / MANIFEST}: not found (lume download writes it)")
    problems = []
    for entry in manifest["repositories"]:
        directory = root / entry["local"]
        for path, meta in sorted(entry["files"].items()):
            file = directory / path
            if not file.is_file():
                problems.append(Problem(entry["local"], path, "missing"))
            elif file.stat().st_size != meta.get("size"):
                problems.append(Problem(entry["local"], path, "size"))
            elif sha256_file(file) != meta.get("sha256"):
                problems.append(Problem(entry["local"], path, "sha256"))
    return manifest, problems


# ------------------------------------------------------------------ disk space


def free_bytes(path: Path) -> int:
    """Free bytes on the file system that will hold ``path`` (its nearest existing parent)."""
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def check_space(root: Path, needed: int) -> None:
    free = free_bytes(root)
    if needed + SPACE_MARGIN > free:
        raise LumeError(
            f"not enough disk space under {root}: the files announce {human_size(needed)}, "
            f"{human_size(free)} free (keep {human_size(SPACE_MARGIN)} spare); "
            "free some or pick another --root"
        )


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


def listing(directory: Path) -> list[str]:
    """Files under ``directory`` (relative, sorted), hidden ones (``.cache/``) left out."""
    return sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )

"""Tracks as configuration: one small TOML file per track (``scorer/tracks/*.toml``).

A track names its target model, data, MIA and MMLU sets (hub ids and local directory
names), the time limit and GPU count of one ``unlearn()`` run, the one fold that is handed
to ``unlearn()`` and then scored (the official protocol: the MIA members are forget
documents of that fold), the MMLU threshold and the baselines' preset for its target.
Local names are relative to a root directory (``--root``); the mini track's root is a
``lume mini build --out`` directory whose ``build.json`` (the track's ``manifest``) names
them: ``local = "manifest:KEY"``.
A track is a bundled name (``mini``, ``1B``, ``7B``) or the path of a TOML file.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from scorer.contract import FOLDS
from scorer.errors import LumeError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SOURCES = ("model", "data", "mia", "mmlu")
MANIFEST_PREFIX = "manifest:"
TOP_KEYS = frozenset(
    {
        "name",
        "description",
        "manifest",
        "time_limit_seconds",
        "disk_limit_gb",
        "gpus",
        "fold",
        "baseline_preset",
        "mmlu_threshold",
        *SOURCES,
    }
)


@dataclass(frozen=True)
class Source:
    local: str  # relative to the root, or "manifest:KEY"
    hub_id: str | None = None


@dataclass(frozen=True)
class Track:
    name: str
    description: str
    model: Source
    data: Source
    mia: Source
    mmlu: Source
    time_limit_seconds: float
    gpus: int
    fold: str
    baseline_preset: str  # the baselines' hyper-parameters made for this target
    mmlu_threshold: float | str | None  # a number, "manifest", or None (not filtered)
    manifest: str | None
    path: Path
    disk_limit_gb: float | None = None  # what a run may write (outputs, HOME, cwd)


@dataclass(frozen=True)
class TrackPaths:
    """A track's directories under one root, and its MMLU threshold, resolved."""

    root: Path
    model: Path
    data: Path
    mia: Path
    mmlu: Path
    mmlu_threshold: float | None


def track_names() -> list[str]:
    folder = resources.files("scorer").joinpath("tracks")
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def _fail(path: Path | str, message: str) -> LumeError:
    return LumeError(f"track {path}: {message}")


def _string(path: Path, table: dict, key: str, required: bool = True) -> str | None:
    value = table.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"{key} must be a non-empty string")
    return value


def _number(path: Path, table: dict, key: str) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _fail(path, f"{key} must be a positive number, not {value!r}")
    return float(value)


def _source(path: Path, table: dict, key: str, manifest: str | None) -> Source:
    section = table.get(key)
    if not isinstance(section, dict):
        raise _fail(path, f"[{key}] is missing (it needs local = ...)")
    unknown = set(section) - {"local", "hub_id"}
    if unknown:
        raise _fail(path, f"[{key}] has unknown key(s) {', '.join(sorted(unknown))}")
    local = _string(path, section, "local")
    if local.startswith(MANIFEST_PREFIX) and manifest is None:
        raise _fail(path, f"[{key}] local = {local!r} but the track names no manifest")
    return Source(local=local, hub_id=_string(path, section, "hub_id", required=False))


def parse_track(text: str, path: Path) -> Track:
    """Parse and check one track file; every mistake is a one-line ``LumeError``."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _fail(path, f"not valid TOML: {err}") from None
    if "train_fold" in table:
        raise _fail(
            path,
            "train_fold is gone: a track names one fold, handed to unlearn() and scored "
            "(the official protocol)",
        )
    unknown = set(table) - TOP_KEYS
    if unknown:
        raise _fail(path, f"unknown key(s) {', '.join(sorted(unknown))}")
    manifest = _string(path, table, "manifest", required=False)
    gpus = table.get("gpus", 0)
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
        raise _fail(path, f"gpus must be a whole number >= 0, not {gpus!r}")
    fold = table.get("fold", "train")
    if fold not in FOLDS:
        raise _fail(path, f"fold must be one of {', '.join(FOLDS)}, not {fold!r}")
    preset = _string(path, table, "baseline_preset", required=False) or "reference"
    threshold = table.get("mmlu_threshold")
    if threshold == "manifest":
        if manifest is None:
            raise _fail(path, 'mmlu_threshold = "manifest" but the track names no manifest')
    elif threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 <= threshold <= 1
    ):
        raise _fail(path, f'mmlu_threshold must be in [0, 1] or "manifest", not {threshold!r}')
    return Track(
        name=_string(path, table, "name"),
        description=table.get("description", ""),
        model=_source(path, table, "model", manifest),
        data=_source(path, table, "data", manifest),
        mia=_source(path, table, "mia", manifest),
        mmlu=_source(path, table, "mmlu", manifest),
        time_limit_seconds=_number(path, table, "time_limit_seconds"),
        disk_limit_gb=_number(path, table, "disk_limit_gb") if "disk_limit_gb" in table else None,
        gpus=gpus,
        fold=fold,
        baseline_preset=preset,
        mmlu_threshold=threshold,
        manifest=manifest,
        path=path,
    )


def load_track(name_or_path: str | Path) -> Track:
    """A bundled track by name (``mini``, ``1B``, ``7B``) or a TOML file by path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        if not candidate.is_file():
            raise _fail(candidate, "no such file")
        path = candidate
        text = candidate.read_text(encoding="utf-8")
    else:
        name = str(name_or_path)
        if name not in track_names():
            raise LumeError(
                f"track {name!r}: unknown; expected one of {', '.join(track_names())} "
                "or the path of a .toml file"
            )
        resource = resources.files("scorer").joinpath("tracks", f"{name}.toml")
        path = Path(str(resource))
        text = resource.read_text(encoding="utf-8")
    return parse_track(text, path)


def _manifest(track: Track, root: Path) -> dict:
    path = root / track.manifest
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LumeError(
            f"track {track.name}: {path} not found; --root must be the directory that "
            f"holds {track.manifest} (for the mini track: lume mini build --out DIR)"
        ) from None
    except (OSError, ValueError) as err:
        raise LumeError(f"track {track.name}: {path}: cannot read JSON ({err})") from None
    if not isinstance(manifest, dict):
        raise LumeError(f"track {track.name}: {path} is not a JSON object")
    return manifest


def resolve(track: Track, root: str | Path = ".") -> TrackPaths:
    """The track's directories under ``root`` (existence is checked by their users)."""
    root = Path(root)
    manifest = _manifest(track, root) if track.manifest else {}

    def local(source: Source, what: str) -> Path:
        if not source.local.startswith(MANIFEST_PREFIX):
            return root / source.local
        key = source.local[len(MANIFEST_PREFIX) :]
        value = manifest.get(key)
        if not isinstance(value, str) or not value:
            raise LumeError(
                f"track {track.name}: {root / track.manifest} has no {key!r} (the {what} dir)"
            )
        return root / value

    threshold = track.mmlu_threshold
    if threshold == "manifest":
        value = manifest.get("mmlu_threshold")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise LumeError(
                f"track {track.name}: {root / track.manifest}: mmlu_threshold is not a number"
            )
        threshold = None if value is None else float(value)
    return TrackPaths(
        root=root,
        model=local(track.model, "model"),
        data=local(track.data, "data"),
        mia=local(track.mia, "MIA"),
        mmlu=local(track.mmlu, "MMLU"),
        mmlu_threshold=threshold,
    )

"""``lume prepare``: from the hub layout to the layout ``unlearn()`` receives, per fold.

``OUT/<fold>/forget/forget.parquet`` + ``forget.jsonl`` (records, one per line) and
``OUT/<fold>/retain/...``, beside ``OUT/mia_data/`` and ``OUT/mmlu/`` (copied), and
``OUT/prepared.json`` naming every file with its sha256. The writers are byte-reproducible,
so preparing the same data again gives the same bytes: a re-run changes nothing, and
different data is refused unless ``force``. A tree whose download is incomplete is refused
with the names of the missing files. Everything is written to a staging directory first,
then moved into place: an interrupted run leaves the old tree or the new one.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from scorer.contract import FOLDS, SPLITS, split_file_names
from scorer.data.files import write_bytes_atomic, write_items_jsonl, write_items_parquet
from scorer.data.lume import load_lume
from scorer.errors import LumeError
from scorer.tracks.track import Track, TrackPaths, resolve
from starter_kit import layout
from starter_kit.layout import listing

PREPARED = "prepared.json"
DEFAULT_OUT = "prepared"  # under the root


@dataclass(frozen=True)
class Prepared:
    out: Path
    counts: dict[str, dict[str, int]]  # fold -> split -> items
    files: dict[str, str]  # relative path -> sha256
    changed: bool  # False: the same tree was already there


def missing_files(root: Path, paths: TrackPaths) -> list[str]:
    """What a complete download would hold and this tree lacks: the manifest's files,
    else the files the kit needs of each directory."""
    manifest = layout.read_manifest(root)
    missing = []
    if manifest is not None:
        for entry in manifest["repositories"]:
            for path in sorted(entry["files"]):
                if not (root / entry["local"] / path).is_file():
                    missing.append(f"{entry['local']}/{path}")
    for kind, directory in (("model", paths.model), ("data", paths.data), ("mmlu", paths.mmlu)):
        present = layout.wanted_files(kind, listing(directory)) if directory.is_dir() else []
        missing += [f"{_rel(directory, root)}/{p}" for p in layout.missing_required(kind, present)]
    return sorted(dict.fromkeys(missing))


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _write(stage: Path, paths: TrackPaths) -> dict[str, dict[str, int]]:
    counts = {}
    for fold in FOLDS:
        lume = load_lume(paths.data, fold)
        counts[fold] = {}
        for split in SPLITS:
            parquet, jsonl = split_file_names(split)
            write_items_parquet(stage / fold / split / parquet, lume[split])
            write_items_jsonl(stage / fold / split / jsonl, lume[split])
            counts[fold][split] = len(lume[split])
    for name, source in (("mia_data", paths.mia), ("mmlu", paths.mmlu)):
        for path in listing(source):
            target = stage / name / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / path, target)
    return counts


def prepare(track: Track, root: Path, out: Path | None = None, force: bool = False) -> Prepared:
    """Lay the track's data out as ``unlearn()`` and the scorer receive it."""
    paths = resolve(track, root)
    missing = missing_files(root, paths)
    if missing:
        shown = ", ".join(missing[:6]) + (
            f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        )
        raise LumeError(
            f"{root}: the download is incomplete, missing {shown}; run "
            f"`lume download --track {track.name} --root {root}` again"
        )
    out = out or root / DEFAULT_OUT
    stage = out.with_name(f".{out.name}.staging-{uuid.uuid4().hex[:8]}")
    try:
        counts = _write(stage, paths)
        files = {p: layout.sha256_file(stage / p) for p in listing(stage)}
        record = {"track": track.name, "counts": counts, "files": files}
        write_bytes_atomic(
            stage / PREPARED, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
        )
        old = _existing(out)
        if old is not None and old == files:
            return Prepared(out, counts, files, changed=False)
        if out.exists() and not force:
            differing = sorted(set(old or {}) ^ set(files)) or sorted(
                p for p in files if old.get(p) != files[p]
            )
            what = (
                f"differs in {differing[0]}" if old is not None else "is not a lume prepare output"
            )
            raise LumeError(f"{out} {what}: pass --force to replace it")
        _swap(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return Prepared(out, counts, files, changed=True)


def _existing(out: Path) -> dict[str, str] | None:
    path = out / PREPARED
    if not path.is_file():
        return None
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(files, dict):
        return None
    current = {p: layout.sha256_file(out / p) for p in listing(out) if p != PREPARED}
    return files if current == files else current


def _swap(stage: Path, out: Path) -> None:
    """Move the staged tree into place; an old tree is moved aside first, then removed."""
    aside = None
    if out.exists():
        aside = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out, aside)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(stage, out)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)

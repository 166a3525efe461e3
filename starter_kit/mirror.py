"""``lume download --mirror``: the same repositories from a local directory.

A mirror is a ``lume download`` root (its ``manifest.json`` says which files each
repository holds, with their sha256), a directory of ``owner/name`` or ``name`` folders,
or a ``lume mini build`` output (its ``build.json`` names the directories). Every copy is
checked before the first file is copied: a mirror missing a file is refused, naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from scorer.errors import LumeError
from scorer.tracks.track import MANIFEST_PREFIX
from starter_kit.layout import (
    BUILD_KEYS,
    Fetched,
    Plan,
    Repository,
    check_space,
    file_records,
    listing,
    missing_required,
    read_manifest,
    wanted_files,
    write_manifest,
)


def _build_value(mirror: Path, kind: str) -> str | None:
    """``build.json``'s directory of ``kind`` in a ``lume mini build`` output, if any."""
    build = mirror / "build.json"
    if not build.is_file():
        return None
    try:
        value = json.loads(build.read_text(encoding="utf-8")).get(BUILD_KEYS[kind])
    except (OSError, ValueError, AttributeError) as err:
        raise LumeError(f"{build}: cannot read JSON ({err})") from None
    return value if isinstance(value, str) and value else None


def _local_in(mirror: Path, repo: Repository) -> Repository:
    """``repo`` with a ``manifest:KEY`` local resolved from the mirror's build.json."""
    if not repo.local.startswith(MANIFEST_PREFIX):
        return repo
    value = _build_value(mirror, repo.kind)
    if value is None:
        raise LumeError(f"mirror {mirror}: no build.json naming the {repo.kind} directory")
    return Repository(repo.kind, repo.repo_id, value)


def _mirror_dir(mirror: Path, repo: Repository) -> tuple[Path, dict | None]:
    """The mirror's copy of ``repo`` and, when the mirror has a manifest, its entry."""
    manifest = read_manifest(mirror)
    if manifest is not None:
        for entry in manifest["repositories"]:
            if (repo.repo_id and entry.get("repo_id") == repo.repo_id) or (
                entry["local"] == repo.local
            ):
                return mirror / entry["local"], entry
    candidates = [mirror / repo.local]
    if repo.repo_id:
        candidates += [mirror / repo.repo_id, mirror / repo.repo_id.split("/")[-1]]
    value = _build_value(mirror, repo.kind)
    if value is not None:
        candidates.insert(0, mirror / value)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate, None
    raise LumeError(
        f"mirror {mirror}: no copy of {repo.label} (looked in "
        f"{', '.join(str(c) for c in candidates)})"
    )


def plan_mirror(mirror: Path, repo: Repository) -> tuple[Path, Plan, dict | None]:
    """Check the mirror's copy before anything is copied: every file it should hold."""
    source, entry = _mirror_dir(mirror, repo)
    if entry is not None:
        expected = wanted_files(repo.kind, entry["files"])
        absent = [p for p in expected if not (source / p).is_file()]
        commit = entry.get("commit") or ""
    else:
        expected = wanted_files(repo.kind, listing(source))
        absent = missing_required(repo.kind, expected)
        commit = ""
    if absent:
        raise LumeError(
            f"mirror {mirror}: {repo.label} lacks {', '.join(absent[:5])}"
            + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
        )
    sizes = {p: (source / p).stat().st_size for p in expected}
    if not commit:
        digest = hashlib.sha256(json.dumps(sizes, sort_keys=True).encode())
        commit = "mirror-" + digest.hexdigest()[:40]
    return source, Plan(repo, "mirror", commit, sizes), entry


def fetch_mirror(root: Path, mirror: Path, repos: list[Repository]) -> list[Fetched]:
    """Copy the repositories from ``mirror``; every copy is checked before the first is
    made, and files listed in the mirror's manifest must match their sha256."""
    plans = [plan_mirror(mirror, _local_in(mirror, repo)) for repo in repos]
    check_space(root, sum(sum(p.sizes.values()) for _s, p, _e in plans))
    checked = []
    for source, plan, entry in plans:  # every repository, before anything is copied
        records = file_records(source, plan.sizes)
        if entry is not None:
            for record in records:
                if entry["files"][record.path].get("sha256") != record.sha256:
                    raise LumeError(
                        f"mirror {mirror}: {plan.repository.label}/{record.path} does not "
                        "match the mirror's manifest (sha256)"
                    )
        checked.append((source, plan, records))
    fetched = []
    for source, plan, records in checked:
        target = root / plan.repository.local
        for path in plan.sizes:
            destination = target / path
            if source.resolve() == target.resolve():
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            tmp = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
            shutil.copyfile(source / path, tmp)
            os.replace(tmp, destination)
        item = Fetched(plan.repository, f"mirror:{mirror}", "mirror", plan.commit, records)
        write_manifest(root, None, [item])
        fetched.append(item)
    build = mirror / "build.json"
    if build.is_file() and any(r.repo_id is None for r in repos):
        shutil.copyfile(build, root / "build.json")  # the mini track's own manifest
    return fetched

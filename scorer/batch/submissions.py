"""What a batch judges: every ``*.py`` of a directory, or the rows of a manifest with teams.

A manifest (TOML, or JSON of the same shape) lists one ``[[submission]]`` per file, paths
relative to the manifest::

    [[submission]]
    team = "alpha"
    file = "alpha_npo.py"
    name = "alpha-npo"      # optional: the entry's name (default: the team)

Each submission becomes a directory of the results, named after the entry, so names are
plain (letters, digits, ``.``, ``_``, ``-``) and unique. Every mistake is one line naming
the file, the row and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from scorer.errors import LumeError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# files the batch itself keeps beside the submissions' directories
RESERVED = frozenset({"batch.json", "batch.lock"}) | {
    f"leaderboard.{fmt}" for fmt in ("md", "csv", "html", "json")
}
MANIFEST_SUFFIXES = (".toml", ".json")
ROW_FIELDS = frozenset({"team", "file", "name"})


@dataclass(frozen=True)
class Submission:
    """One submission: its entry name (a directory of the results), team, file and hash."""

    name: str
    team: str
    path: Path  # absolute
    sha256: str


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_name(name: str, where: str) -> str:
    if not NAME.fullmatch(name) or name in RESERVED:
        raise LumeError(
            f"{where}: name {name!r} cannot name a results directory (letters, digits, '.', "
            "'_' and '-', starting with a letter or digit; not a file the batch keeps)"
        )
    return name


def _submission(name: str, team: str, path: Path, where: str) -> Submission:
    if not path.is_file():
        raise LumeError(f"{where}: {path}: no such file")
    if path.suffix != ".py":
        raise LumeError(f"{where}: {path}: expected a single .py file")
    return Submission(check_name(name, where), team, path.resolve(), file_sha256(path))


def from_directory(directory: Path) -> list[Submission]:
    """Every ``*.py`` file of ``directory`` (not its sub-directories), named by its stem."""
    if not any(directory.iterdir()):
        raise LumeError(f"{directory}: empty directory, no submission to judge")
    files = sorted(p for p in directory.glob("*.py") if p.is_file())
    if not files:
        raise LumeError(f"{directory}: holds no .py file (or give a manifest .toml/.json)")
    return [_submission(p.stem, p.stem, p, str(p)) for p in files]


def _rows(path: Path) -> list:
    text = path.read_text(encoding="utf-8")
    try:
        table = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise LumeError(f"{path}: not valid {path.suffix[1:].upper()}: {err}") from None
    rows = table if isinstance(table, list) else table.get("submission")
    unknown = set(table) - {"submission"} if isinstance(table, dict) else set()
    if unknown:
        raise LumeError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; expected submission")
    if not isinstance(rows, list) or not rows:
        raise LumeError(f"{path}: expected a non-empty list of [[submission]] rows (team, file)")
    return rows


def from_manifest(path: Path) -> list[Submission]:
    """The manifest's rows, in order; a bad row is one line naming it (rows count from 1)."""
    found: list[Submission] = []
    first_row: dict[str, int] = {}
    for number, row in enumerate(_rows(path), start=1):
        where = f"{path}: submission {number}"
        if not isinstance(row, dict):
            raise LumeError(f"{where}: expected a table with team and file")
        unknown = set(row) - ROW_FIELDS
        if unknown:
            raise LumeError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        for field in ("team", "file", "name"):
            value = row.get(field)
            if (field != "name" or value is not None) and (
                not isinstance(value, str) or not value.strip()
            ):
                raise LumeError(f"{where}: field {field!r} must be a non-empty string")
        name = row.get("name") or row["team"]
        if name in first_row:
            raise LumeError(
                f"{where}: name {name!r} is taken by submission {first_row[name]}; "
                "give each row its own name = ..."
            )
        first_row[name] = number
        found.append(_submission(name, row["team"], path.parent / row["file"], where))
    return found


def find_submissions(source: Path) -> list[Submission]:
    """A directory's ``*.py`` files, or a manifest's rows."""
    if source.is_dir():
        return from_directory(source)
    if not source.exists():
        raise LumeError(f"{source}: no such directory or manifest")
    if source.suffix not in MANIFEST_SUFFIXES:
        raise LumeError(f"{source}: expected a directory of .py files or a .toml/.json manifest")
    return from_manifest(source)

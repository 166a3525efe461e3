"""The checkpoint frozen before it is judged: copied into new root-owned files, hashed.

Once every process of the run is gone, the output the submission left is copied file by
file into ``OUT/checkpoint``: each file a new inode created by the judge (0600, in 0700
directories), so no hard link, open handle or later write of the submission reaches the
bytes that are validated and scored. Each file's sha256 is taken while copying; the
scorer checks them again before it loads the checkpoint (:func:`verify`).

The walk is iterative and bounded: directory depth, number of entries and total bytes
have limits, and whatever passes one is refused with a one-line reason (the copy stops
there). Symlinks, FIFOs, sockets and devices are never followed or copied: each is a
violation. Hidden top-level entries (what an unfinished atomic save leaves: ``.staging-*``,
``.*.tmp``) are left out and listed. Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from scorer.checkpoint.report import Violation

KEEP_HIDDEN = frozenset({".gitattributes"})
CHUNK = 1 << 20


@dataclass(frozen=True)
class FreezeLimits:
    """How much of an output the judge copies at most."""

    max_depth: int = 4
    max_entries: int = 1000
    max_total_bytes: int = 64 << 30


@dataclass
class Frozen:
    """What was copied: the new checkpoint, each file's sha256, what was refused."""

    path: Path
    sha256: dict[str, str] = field(default_factory=dict)
    total_bytes: int = 0
    removed: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)


def _copy_file(source_fd: int, target: Path, budget: int) -> tuple[str, int] | None:
    """Copy an open regular file into a new 0600 file; (sha256, size), or None when it
    passes ``budget`` bytes (the partial copy is removed)."""
    digest, size = hashlib.sha256(), 0
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        while chunk := os.read(source_fd, CHUNK):
            size += len(chunk)
            if size > budget:
                break
            digest.update(chunk)
            os.write(out, chunk)
    finally:
        os.close(out)
    if size > budget:
        target.unlink()
        return None
    return digest.hexdigest(), size


def freeze(source: Path, target: Path, limits: FreezeLimits = FreezeLimits()) -> Frozen:
    """Copy the output at ``source`` into the new directory ``target`` (see the module)."""
    target.mkdir(mode=0o700)
    frozen = Frozen(target)
    try:
        mode = os.lstat(source).st_mode
    except FileNotFoundError:
        return frozen  # no output at all: an empty checkpoint, found invalid later
    if not stat.S_ISDIR(mode):
        message = "the output directory was replaced by a symlink or a file"
        rule = "symlink" if stat.S_ISLNK(mode) else "unexpected-file"
        frozen.violations.append(Violation(rule, "", message))
        return frozen
    entries = 0
    stack: list[tuple[str, int]] = [("", 0)]  # (relative directory, depth)
    while stack:
        relative, depth = stack.pop()
        with os.scandir(source / relative if relative else source) as listing:
            names = sorted(entry.name for entry in listing)
        for name in names:
            rel = f"{relative}/{name}" if relative else name
            if not relative and name.startswith(".") and name not in KEEP_HIDDEN:
                frozen.removed.append(name)
                continue
            entries += 1
            if entries > limits.max_entries:
                frozen.violations.append(
                    Violation("too-many-files", "", f"more than {limits.max_entries} entries")
                )
                return frozen
            problem = _copy_entry(source, target, rel, depth, limits, frozen, stack)
            if problem is not None:
                frozen.violations.append(problem)
                if problem.rule in ("too-large", "too-deep"):
                    return frozen
    return frozen


def _copy_entry(source, target, rel, depth, limits, frozen, stack) -> Violation | None:
    path = source / rel
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        kind = "a symlink" if os.path.islink(path) else "not a readable file"
        return Violation(
            "symlink" if "symlink" in kind else "unexpected-file", rel, f"{rel}: {kind}, not copied"
        )
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            if depth + 1 > limits.max_depth:
                return Violation("too-deep", rel, f"{rel}: deeper than {limits.max_depth} levels")
            (target / rel).mkdir(mode=0o700)
            stack.append((rel, depth + 1))
            return None
        if not stat.S_ISREG(mode):
            return Violation("unexpected-file", rel, f"{rel}: a special file, not copied")
        budget = limits.max_total_bytes - frozen.total_bytes
        copied = _copy_file(fd, target / rel, budget)
        if copied is None:
            return Violation(
                "too-large", rel, f"the output holds more than {limits.max_total_bytes} bytes"
            )
        frozen.sha256[rel], size = copied
        frozen.total_bytes += size
        return None
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(checkpoint: Path, sha256: dict[str, str]) -> list[str]:
    """The files of ``checkpoint`` that differ from the hashes taken when it was frozen
    (changed, missing, or added): empty when it holds exactly those bytes."""
    bad = []
    present = set()
    for top, dirs, files in os.walk(checkpoint):
        dirs.sort()
        for name in files:
            rel = os.path.relpath(os.path.join(top, name), checkpoint)
            present.add(rel)
            if rel not in sha256:
                bad.append(f"{rel}: added")
    for rel, expected in sorted(sha256.items()):
        if rel not in present:
            bad.append(f"{rel}: missing")
        elif sha256_file(checkpoint / rel) != expected:
            bad.append(f"{rel}: changed")
    return bad

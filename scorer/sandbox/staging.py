"""The run's files: a staged work directory in, a settled checkpoint out.

In: the submission file and the forget/retain sets as read-only copies (files 0444,
directories 0555, owned by the runner), the model as hard links the child cannot write
through (world-readable files, child running as another user) or else read-only copies,
and an output directory, HOME, TMPDIR and working directory owned by the child's user.
The output's parent is the child's too, so a submission may delete and re-create it.
Out: the output moved to ``OUT/checkpoint`` without following anything the submission
left there (a symlink in place of the directory is a violation, not a path to chmod),
closed to other users, and rid of what an unfinished save leaves (hidden entries).
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from scorer.checkpoint.report import Violation
from scorer.sandbox.isolation import RunUser

KEEP_HIDDEN = frozenset({".gitattributes"})


def _copy_read_only(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=False)
    _freeze(target)


def _freeze(root: Path) -> None:
    """Files 0444, directories 0555: nobody may write, the owner (root) keeps control."""
    for path in sorted(root.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    root.chmod(0o555)


def _link_or_copy_model(source: Path, target: Path, may_link: bool) -> str:
    """Hard links when the child cannot write through them (it runs as another user and
    the file is world-readable), else copies. Returns how it was done."""
    used = set()
    target.mkdir(mode=0o755)
    for path in sorted(source.rglob("*")):
        dest = target / path.relative_to(source)
        if path.is_dir():
            dest.mkdir(mode=0o755, exist_ok=True)
            continue
        real = path.resolve()
        if may_link and real.stat().st_mode & stat.S_IROTH:
            try:
                os.link(real, dest)
                used.add("hard links")
                continue
            except OSError:
                pass
        shutil.copyfile(real, dest)
        dest.chmod(0o444)
        used.add("copies")
    for path in sorted(target.rglob("*"), reverse=True):
        if path.is_dir():
            path.chmod(0o555)
    target.chmod(0o555)
    return " and ".join(sorted(used)) or "empty"


def _write_split(directory: Path, split: str, items) -> None:
    from scorer.data.files import write_items_jsonl, write_items_parquet

    directory.mkdir(mode=0o755)
    write_items_parquet(directory / f"{split}.parquet", list(items))
    write_items_jsonl(directory / f"{split}.jsonl", list(items))
    _freeze(directory)


@dataclass(frozen=True)
class SubmissionInputs:
    """What the submission is handed: its file, the model, and each of the forget and retain
    sets as a directory in the submission layout or, without one, as items to lay out."""

    submission: Path
    model: Path
    forget: Path | None = None
    retain: Path | None = None
    forget_items: tuple = ()
    retain_items: tuple = ()


@dataclass(frozen=True)
class Work:
    """The staged work directory of one run: what the child reads, writes and lives in."""

    root: Path
    inputs: Path
    control: Path  # the runner's and the supervisor's files; closed to the child
    output: Path
    home: Path
    tmp: Path
    cwd: Path
    submission: Path
    model: Path
    forget: Path
    retain: Path
    model_staging: str = ""  # how the model was staged: "hard links", "copies"...

    @classmethod
    def under(cls, root: Path) -> Work:
        """The layout of a work directory rooted at ``root`` (nothing is created)."""
        inputs = root / "inputs"
        return cls(
            root=root,
            inputs=inputs,
            control=root / "control",
            output=root / "outbox" / "checkpoint",
            home=root / "home",
            tmp=root / "tmp",
            cwd=root / "cwd",
            submission=inputs / "submission.py",
            model=inputs / "model",
            forget=inputs / "forget",
            retain=inputs / "retain",
        )


def stage(inputs: SubmissionInputs, base: Path, user: RunUser | None, run_id: str) -> Work:
    """Lay out the run's work directory under ``base``: read-only inputs the child cannot
    alter, and the directories it owns (output, HOME, TMPDIR, working directory)."""
    base.mkdir(parents=True, exist_ok=True)
    work = Work.under(base / f".lume-work-{run_id}")
    work.root.mkdir(mode=0o711)
    work.root.chmod(0o711)  # the child may pass through, not list
    work.inputs.mkdir(mode=0o755)
    work.control.mkdir(mode=0o700)
    shutil.copyfile(inputs.submission, work.submission)
    work.submission.chmod(0o444)
    staged_as = _link_or_copy_model(inputs.model, work.model, may_link=user is not None)
    work = replace(work, model_staging=staged_as)
    for split, source, items, target in (
        ("forget", inputs.forget, inputs.forget_items, work.forget),
        ("retain", inputs.retain, inputs.retain_items, work.retain),
    ):
        if source is not None:
            _copy_read_only(source, target)
        else:
            _write_split(target, split, items)
    work.inputs.chmod(0o555)
    for own in (work.output.parent, work.output, work.home, work.tmp, work.cwd):
        own.mkdir(mode=0o700)  # the output's parent too: a submission may re-create it
        if user is not None:
            os.chown(own, user.uid, user.gid)
    return work


# ---------------------------------------------------------------- the checkpoint


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def settle(checkpoint: Path) -> list[str]:
    """Remove what an unfinished save leaves: hidden entries (``.staging-*`` directories,
    ``.*.tmp`` files), as the kit's atomic saves name them. Returns the names removed."""
    removed = []
    for entry in sorted(checkpoint.iterdir()):
        if entry.name.startswith(".") and entry.name not in KEEP_HIDDEN:
            _remove(entry)
            removed.append(entry.name)
    return removed


def _copy_safely(source: Path, target: Path) -> list[str]:
    """Across file systems: regular files, directories and symlinks (as links, so the
    validator sees them); FIFOs, sockets and devices are left out and returned."""
    skipped = []
    target.mkdir()
    for entry in sorted(source.iterdir()):
        dest = target / entry.name
        mode = entry.lstat().st_mode
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(entry), dest)
        elif stat.S_ISDIR(mode):
            skipped += [f"{entry.name}/{s}" for s in _copy_safely(entry, dest)]
        elif stat.S_ISREG(mode):
            shutil.copyfile(entry, dest, follow_symlinks=False)
        else:
            skipped.append(entry.name)
    return skipped


def take_checkpoint(work: Work, out: Path) -> tuple[Path, list[Violation]]:
    """Move the output to ``OUT/checkpoint``; own it and close it to other users (a later
    submission, running as the same unprivileged user, must not read or alter it).
    An output directory replaced by a symlink or a file is not followed: the checkpoint is
    then an empty directory and the replacement a violation."""
    target = out / "checkpoint"
    problems: list[Violation] = []
    try:
        mode = os.lstat(work.output).st_mode
    except FileNotFoundError:
        mode = None
    if mode is None or not stat.S_ISDIR(mode):
        target.mkdir(mode=0o700)
        if mode is not None:
            rule = "symlink" if stat.S_ISLNK(mode) else "unexpected-file"
            message = "the output directory was replaced by a symlink or a file"
            problems.append(Violation(rule, "", message))
    else:
        try:
            os.rename(work.output, target)
        except OSError:
            problems = [
                Violation("unexpected-file", name, f"{name}: a special file, not copied")
                for name in _copy_safely(work.output, target)
            ]
    me, group = os.geteuid(), os.getegid()
    for top, dirs, files in os.walk(target):  # never follows symlinks
        for name in [None, *dirs, *files]:
            path = top if name is None else os.path.join(top, name)
            mode = os.lstat(path).st_mode
            os.lchown(path, me, group)
            if not stat.S_ISLNK(mode):
                os.chmod(path, 0o700 if stat.S_ISDIR(mode) else 0o600)
    return target, problems


def remove_tree(root: Path) -> None:
    """Remove the work directory, read-only parts included (a non-root runner needs
    write permission on a directory to empty it)."""

    def retry(function, path, _exc) -> None:
        parent = os.path.dirname(path)
        os.chmod(parent, 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        function(path)

    if root.exists():
        shutil.rmtree(root, onerror=retry)

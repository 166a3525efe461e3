"""The run's files: a staged work directory in, and its removal after the run.

In: the submission file and the forget/retain sets as read-only copies (files 0444,
directories 0555, owned by the runner), the model as hard links the child cannot write
through (world-readable files, child running as another user) or else read-only copies,
and an output directory, HOME, TMPDIR and working directory owned by the child's user.
The output's parent is the child's too, so a submission may delete and re-create it.
The output is not taken from here: ``scorer.sandbox.freeze`` copies it into new files.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from scorer.sandbox.isolation import RunUser


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


# ---------------------------------------------------------------- cleaning up


def remove_tree(root: Path) -> None:
    """Remove the work directory, however deep the submission made it (iterative, through
    directory descriptors: no recursion limit, no path length limit, no symlink followed)."""
    try:
        top = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        root.unlink()
        return
    stack: list[tuple[int, str | None]] = [(top, None)]  # (directory fd, name in parent)
    while stack:
        fd, name = stack[-1]
        os.fchmod(fd, 0o700)
        child = None
        for entry in os.scandir(fd):
            if entry.is_dir(follow_symlinks=False):
                child = entry.name
                break
            os.unlink(entry.name, dir_fd=fd)
        if child is not None:
            sub = os.open(child, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            stack.append((sub, child))
            continue
        stack.pop()
        os.close(fd)
        if stack:
            os.rmdir(name, dir_fd=stack[-1][0])
    os.rmdir(root)

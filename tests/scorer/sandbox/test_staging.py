"""The run's files: read-only inputs staged in, the work directory removed however deep."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from scorer.data.lume import load_lume
from scorer.sandbox.staging import SubmissionInputs, Work, remove_tree, stage

from paths import SUBMISSIONS


@pytest.fixture
def staged(tiny_track: Path, tmp_path: Path) -> Work:
    """A work directory with the forget set given as a directory, the retain set as items."""
    forget = tmp_path / "forget"
    forget.mkdir()
    (forget / "forget.jsonl").write_text("{}\n")
    retain = load_lume(tiny_track / "dataset", "train")["retain"]
    inputs = SubmissionInputs(
        submission=SUBMISSIONS / "well_behaved.py",
        model=tiny_track / "model",
        forget=forget,
        retain_items=tuple(retain),
    )
    return stage(inputs, tmp_path / "out", None, "run1")


def test_inputs_are_staged_read_only_and_the_child_gets_its_own_dirs(
    staged: Work, tiny_track: Path
):
    assert staged.root.name == ".lume-work-run1"
    assert staged == replace(Work.under(staged.root), model_staging=staged.model_staging)
    assert staged.submission.read_bytes() == (SUBMISSIONS / "well_behaved.py").read_bytes()
    assert sorted(p.name for p in staged.retain.iterdir()) == ["retain.jsonl", "retain.parquet"]
    assert (staged.forget / "forget.jsonl").read_text() == "{}\n"
    for path in (staged.submission, staged.forget / "forget.jsonl", staged.retain, staged.inputs):
        assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0  # nobody may write
    assert staged.model_staging == "copies"  # no other user: hard links could be written
    for source in (tiny_track / "model").iterdir():
        assert (staged.model / source.name).read_bytes() == source.read_bytes()
    for own in (staged.output, staged.home, staged.tmp, staged.cwd):
        assert own.is_dir() and stat.S_IMODE(own.stat().st_mode) == 0o700
    remove_tree(staged.root)  # read-only parts included
    assert not staged.root.exists()


def test_a_tree_deeper_than_the_recursion_limit_is_removed(tmp_path: Path):
    """A submission's 1,100-level tree (RecursionError in os.walk and shutil.rmtree, and
    paths past PATH_MAX): removed iteratively, through directory descriptors."""
    root = tmp_path / "work"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    for _ in range(1100):  # deeper than the recursion limit
        os.mkdir("d" * 20, dir_fd=fd)
        inner = os.open("d" * 20, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(os.open("leaf", os.O_CREAT | os.O_WRONLY, 0o400, dir_fd=fd))
    os.fchmod(fd, 0o500)  # read-only on the way: still removed
    os.close(fd)
    remove_tree(root)
    assert not root.exists()
    remove_tree(root)  # gone already: no error

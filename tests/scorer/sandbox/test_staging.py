"""The run's files: read-only inputs staged in, the checkpoint taken out and settled."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from scorer.data.lume import load_lume
from scorer.sandbox.staging import (
    SubmissionInputs,
    Work,
    remove_tree,
    settle,
    stage,
    take_checkpoint,
)

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


def test_an_unfinished_save_is_removed_but_not_gitattributes(tmp_path: Path):
    checkpoint = tmp_path / "checkpoint"
    (checkpoint / ".staging-second").mkdir(parents=True)
    (checkpoint / ".staging-second" / "model.safetensors").write_bytes(b"half")
    for name in (".model.safetensors.tmp", ".gitattributes", "config.json"):
        (checkpoint / name).write_text("x")
    assert settle(checkpoint) == [".model.safetensors.tmp", ".staging-second"]
    assert sorted(p.name for p in checkpoint.iterdir()) == [".gitattributes", "config.json"]


def test_the_checkpoint_is_moved_out_and_closed_to_others(staged: Work, tmp_path: Path):
    (staged.output / "config.json").write_text("{}")
    (staged.output / "config.json").chmod(0o666)
    target, problems = take_checkpoint(staged, tmp_path / "out")
    assert problems == [] and target == tmp_path / "out" / "checkpoint"
    assert not staged.output.exists()
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert stat.S_IMODE((target / "config.json").stat().st_mode) == 0o600
    assert (target / "config.json").stat().st_uid == os.geteuid()


def test_an_output_replaced_by_a_symlink_is_a_violation_never_followed(
    staged: Work, tmp_path: Path
):
    judge = tmp_path / "judge"
    judge.mkdir()
    (judge / "config.json").write_text("{}")
    (judge / "config.json").chmod(0o644)
    staged.output.rmdir()
    staged.output.symlink_to(judge)
    target, problems = take_checkpoint(staged, tmp_path / "out")
    assert [v.rule for v in problems] == ["symlink"]
    assert target.is_dir() and not target.is_symlink() and list(target.iterdir()) == []
    assert stat.S_IMODE((judge / "config.json").stat().st_mode) == 0o644

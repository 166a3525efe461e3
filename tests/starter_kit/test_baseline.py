"""``lume baseline``'s runner: every row of the method table runs as its own submission file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from baselines.checkpoint import INDEX
from baselines.methods import METHODS
from scorer.errors import LumeError
from starter_kit.baseline import run_baseline


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_of_the_table_runs_its_own_file(
    name, tiny_track: Path, tmp_path, clean_environment
):
    calls = []
    submission = __import__(f"baselines.{name}", fromlist=["unlearn"])
    original = submission.unlearn
    clean_environment.setattr(submission, "unlearn", lambda *a: calls.append(a) or original(*a))
    clean_environment.setenv("LUME_BASELINE_EPOCHS", "1")
    out = tmp_path / "out"
    report = run_baseline(name, tiny_track / "model", tiny_track / "dataset", out, "train", "mini")
    assert len(calls) == 1
    _model, _out, forget_dir, retain_dir = calls[0]
    assert forget_dir.name == "forget" and retain_dir.name == "retain"  # as organizers hand over
    assert report.steps == 4 and report.saves == [4]  # 30 forget items, batch 8, one epoch
    assert not report.stopped_by_deadline
    index = json.loads((out / INDEX).read_text())
    assert all((out / shard).is_file() for shard in index["weight_map"].values())


def test_a_deadline_in_seconds_becomes_lume_deadline(tiny_track: Path, tmp_path, clean_environment):
    clean_environment.setenv("LUME_BASELINE_EPOCHS", "10000")
    started = time.time()
    out = tmp_path / "out"
    report = run_baseline(
        "ga", tiny_track / "model", tiny_track / "dataset", out, preset="mini", deadline_seconds=8
    )
    assert report.stopped_by_deadline
    assert time.time() < started + 8 and (out / INDEX).stat().st_mtime < started + 8


def test_an_unknown_method_or_preset_is_refused_before_any_work(tmp_path, clean_environment):
    with pytest.raises(LumeError) as error:
        run_baseline("rmu", tmp_path, tmp_path, tmp_path / "out")
    assert str(error.value) == "baseline 'rmu': expected one of ga, gd, kl, npo, simnpo"
    with pytest.raises(LumeError, match="preset 'huge': expected one of reference, mini"):
        run_baseline("ga", tmp_path, tmp_path, tmp_path / "out", preset="huge")
    assert not (tmp_path / "out").exists()

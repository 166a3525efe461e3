"""The official protocol: the fold handed to unlearn() is the fold that is scored.

On the tiny mini track, ``lume-score run --track mini --evaluate`` gives ``unlearn()`` the
track's fold and scores that fold; ``run.json`` and ``scores.json`` say so. Scoring another
fold than the one unlearned is allowed (quick tuning) but warned about, on the console
and in ``scores.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scorer.data.lume import load_lume
from scorer.tracks.track import load_track

from paths import SUBMISSIONS
from scoring import lume_score, track_paths

pytestmark = pytest.mark.slow

QUICK = ("--max-new-tokens", "8", "--bootstrap", "0", "--no-cache")


def test_run_hands_over_and_scores_the_tracks_one_fold(tiny_track: Path, tmp_path: Path):
    fold = load_track("mini").fold
    out = tmp_path / "run"
    # well_behaved.py leaves a valid checkpoint (a copy of the model)
    result = lume_score(
        "run", str(SUBMISSIONS / "well_behaved.py"), "--out", str(out),
        "--track", "mini", "--root", str(tiny_track), "--evaluate", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "run.json").read_text())
    scores = json.loads((out / "evaluation" / "scores.json").read_text())
    assert record["scores"]["folds"] == {"unlearned": fold, "scored": fold}
    assert scores["folds"] == {"unlearned": fold, "scored": fold}
    assert scores["warnings"] == []
    # the scored items are exactly the fold's items, forget and retain
    lume = load_lume(track_paths(tiny_track)["data_dir"], fold)
    scored_ids = {json.loads(line)["id"] for line in (out / "evaluation" / "items.jsonl").open()}
    assert scored_ids == {item.id for split in lume.values() for item in split}


def test_scoring_another_fold_than_the_unlearned_one_is_warned(tiny_track: Path, tmp_path: Path):
    model = str(track_paths(tiny_track)["model_dir"])
    common = ["--track", "mini", "--root", str(tiny_track), *QUICK]
    other = lume_score("evaluate", model, "--split", "validation", "--out", str(tmp_path / "v"),
                       *common)  # fmt: skip
    assert other.returncode == 0, other.stderr
    assert "warning: the validation fold was scored but unlearn() was given the train" in (
        " ".join(other.stderr.split())
    )
    scores = json.loads((tmp_path / "v" / "scores.json").read_text())
    assert scores["folds"] == {"unlearned": "train", "scored": "validation"}
    assert len(scores["warnings"]) == 1
    same = lume_score("evaluate", model, "--out", str(tmp_path / "t"), *common)
    assert same.returncode == 0 and "warning" not in same.stderr
    assert json.loads((tmp_path / "t" / "scores.json").read_text())["warnings"] == []


def test_a_fold_that_does_not_exist_is_a_one_line_error(tiny_track: Path, tmp_path: Path):
    model = str(track_paths(tiny_track)["model_dir"])
    result = lume_score("evaluate", model, "--track", "mini", "--root", str(tiny_track),
                        "--unlearned-fold", "test", "--out", str(tmp_path / "x"))  # fmt: skip
    assert result.returncode == 2
    assert "--unlearned-fold 'test': expected one of train, validation" in result.stderr
    assert not (tmp_path / "x").exists()

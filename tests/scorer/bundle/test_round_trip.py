"""The bundle round trip (issue 14): build the mini track's bundle, unpack it, check it against
Codabench's v2 schema, then run its ingestion and scoring programs as the compute worker
would (their ``metadata.yaml`` commands, ``/app`` mapped to temporary directories) on the
GA baseline, ending with a ``scores.json`` whose keys are the leaderboard's columns; then
the scoring program refuses the same run once its checkpoint has been changed."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import yaml

from scorer.bundle.build import build_bundle
from scorer.bundle.schema import problems
from scorer.sandbox.bwrap import find_bwrap, probe

from paths import REPO

pytestmark = pytest.mark.slow


def test_a_baseline_goes_through_the_bundle_as_on_codabench(
    mini_track: Path, codabench, tmp_path: Path
):
    build_bundle("mini", mini_track, tmp_path / "bundle.zip", start="2026-01-01")
    bundle = codabench.unpack(tmp_path / "bundle.zip", tmp_path / "bundle")
    spec = yaml.safe_load((bundle / "competition.yaml").read_text())
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert problems(spec, files) == []
    keys = [column["key"] for column in spec["leaderboards"][0]["columns"]]

    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "ga.py").write_bytes((REPO / "baselines" / "ga.py").read_bytes())
    prediction = codabench.prediction_app(bundle, submission, tmp_path / "prediction")
    ingestion = codabench.run_program(bundle / "ingestion_program", prediction)
    assert ingestion.returncode == 0, ingestion.stderr
    record = json.loads((prediction / "output" / "run" / "run.json").read_text())
    # a checkpoint left at the limit is scored too (the official rule), on a slow machine
    assert record["scored"] is True and record["status"] in ("ok", "timeout")
    assert record["submission"] == "ga.py"
    assert record["track"] == "mini" and record["time_limit_seconds"] == 300.0
    model = bundle / "input_data" / "model"
    assert set(record["checkpoint_sha256"]) >= {"config.json", "tokenizer.json"}
    frozen = prediction / "output" / "run" / "checkpoint"
    for path in (frozen, frozen / "config.json", prediction / "output" / "run" / "run.json"):
        assert path.stat().st_mode & 0o004  # the worker uploads it, whatever its user
    assert (frozen / "config.json").read_bytes() == (model / "config.json").read_bytes()
    bwrap = find_bwrap()
    works = bwrap is not None and probe(bwrap) is None
    assert record["isolation"]["mode"] == ("bwrap" if works else "none")

    scoring_app = codabench.scoring_app(bundle, prediction / "output", tmp_path / "scoring")
    scoring = codabench.run_program(bundle / "scoring_program", scoring_app)
    assert scoring.returncode == 0, scoring.stderr
    output = scoring_app / "output"
    flat = json.loads((output / "scores.json").read_text())
    assert list(flat) == keys  # exactly the leaderboard's columns, in its order
    assert all(isinstance(value, float) for value in flat.values())
    scores = json.loads((output / "lume" / "scores.json").read_text())
    assert scores["folds"] == {"unlearned": "train", "scored": "train"}
    assert flat["final_score"] == scores["final_score"]
    assert flat["final_score"] == pytest.approx(
        statistics.mean([flat["task_aggregate"], flat["mia_score"], flat["mmlu"]])
    )
    assert flat["wall_seconds"] == record["wall_seconds"]
    # GA forgot something: the forget regurgitation fell below the target's (1.0 on mini)
    target = json.loads((mini_track / "build.json").read_text())["target_scores"]
    forgotten = [flat[f"forget_task{t}_regurgitation"] for t in (1, 2, 3)]
    kept = [target["forget"][f"Task{t}"]["regurgitation"] for t in (1, 2, 3)]
    assert statistics.mean(forgotten) < statistics.mean(kept)
    report = (output / "detailed_results.html").read_text()
    assert report.lower().startswith("<!doctype html") and len(report) > 10_000
    assert "plain table" not in scoring.stderr  # the kit's report, not the fallback
    for folder in (prediction / "output", output):
        assert "metadata" not in {p.name for p in folder.iterdir()}  # the platform's own

    # the same run, its checkpoint changed after it was frozen: not scored
    again = codabench.scoring_app(bundle, prediction / "output", tmp_path / "tampered")
    config = again / "input" / "res" / "run" / "checkpoint" / "config.json"
    config.write_text(config.read_text() + " ")
    refused = codabench.run_program(bundle / "scoring_program", again)
    assert refused.returncode == 1
    assert "config.json: changed" in refused.stderr
    assert list((again / "output").iterdir()) == []

"""Loading results: scores.json, run.json (wall time, GPU-hours, status), bad files named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scorer.errors import LumeError
from scorer.leaderboard import NOT_EVALUATED, load_result, load_results


def test_load_scores_file_directory_and_run(tmp_path: Path, crafted):
    a = crafted.write_scores(tmp_path / "alpha", crafted.scores(0.8, 0.6, 0.4))
    by_file, by_dir = load_result(a / "scores.json"), load_result(a)
    assert by_file.name == by_dir.name == "alpha"
    assert by_file.scores["final_score"] == pytest.approx(0.6)
    # no run.json: nothing known of the run
    assert (by_dir.wall_seconds, by_dir.gpu_seconds, by_dir.allocated_gpu_seconds) == (None,) * 3
    content = crafted.scores(0.5, 0.5, 0.5)
    run = load_result(crafted.write_run(tmp_path / "beta", "timeout", True, content))
    assert (run.name, run.status, run.wall_seconds, run.peak_memory_bytes) == (
        "beta",
        "timeout",
        61.0,
        2**30,
    )
    assert run.scores["final_score"] == pytest.approx(0.5)
    assert (run.gpu_seconds, run.allocated_gpu_seconds) == (0.0, 0.0)  # no GPU granted


def test_gpu_seconds_come_from_the_run_record(tmp_path: Path, crafted):
    measured = {"granted": [0, 1], "allocated_gpu_seconds": 7200.0, "gpu_seconds": 5400.0}
    run = load_result(crafted.write_run(tmp_path / "m", "failed", False, gpu=measured))
    assert (run.gpu_seconds, run.allocated_gpu_seconds) == (5400.0, 7200.0)
    unmeasured = {**measured, "gpu_seconds": None, "why_not": "pynvml is not installed"}
    run = load_result(crafted.write_run(tmp_path / "u", "failed", False, gpu=unmeasured))
    assert (run.gpu_seconds, run.allocated_gpu_seconds) == (None, 7200.0)
    with pytest.raises(LumeError, match=r"run.json: field 'gpu.gpu_seconds' is -1"):
        load_result(crafted.write_run(tmp_path / "b", "failed", False, gpu={"gpu_seconds": -1}))


def test_run_scores_can_live_in_evaluation_beside_it(tmp_path: Path, crafted):
    run_dir = crafted.write_run(tmp_path / "gamma", "ok", True, None)
    crafted.write_scores(run_dir / "evaluation", crafted.scores(0.3, 0.6, 0.9))
    assert load_result(run_dir).scores["final_score"] == pytest.approx(0.6)


def test_runs_without_scores_keep_their_status(tmp_path: Path, crafted):
    failed = load_result(crafted.write_run(tmp_path / "f", "failed", False, reason="crashed"))
    invalid = load_result(crafted.write_run(tmp_path / "i", "invalid", False))
    discarded = load_result(crafted.write_run(tmp_path / "t", "timeout", False))
    unevaluated = load_result(crafted.write_run(tmp_path / "u", "ok", True, None))
    assert [e.status for e in (failed, invalid, discarded, unevaluated)] == [
        "failed",
        "invalid",
        "timeout",
        NOT_EVALUATED,
    ]
    assert failed.reason == "crashed"
    assert all(e.scores is None for e in (failed, invalid, discarded, unevaluated))


def _bad_bootstrap(crafted, **changes) -> dict:
    boot = {**crafted.bootstrap([0.5, 0.6], [0.5, 0.6]), **changes}
    return crafted.scores(0.5, 0.5, 0.5, boot=boot)


def _bad_cases(crafted) -> list[tuple[str, str]]:
    s = crafted.scores(0.5, 0.5, 0.5)
    return [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"final_score": 0.5, "task_aggregate": 0.5}), "missing score key(s)"),
        (json.dumps({**s, "mmlu": "high"}), "field 'mmlu'"),
        (json.dumps({**s, "final_score": 0.9}), "not the mean"),
        (json.dumps({**s, "mia_auc": 1.5}), "field 'mia_auc' is 1.5"),
        (json.dumps({**s, "task_aggregate": None}), "'task_aggregate' is null"),
        (
            json.dumps(_bad_bootstrap(crafted, replicates=3)),
            "'beyond_official.bootstrap.final_score_replicates' is not a list of 3",
        ),
        (
            json.dumps(_bad_bootstrap(crafted, final_score_replicates=[0.5, 1.5])),
            "holds a value that is not a number in [0, 1]",
        ),
        (
            json.dumps(_bad_bootstrap(crafted, final_score=[0.7, 0.6])),
            "'beyond_official.bootstrap.final_score' is [0.7, 0.6]",
        ),
        (json.dumps(_bad_bootstrap(crafted, seed="0")), "bootstrap.seed' is '0'"),
        (json.dumps(_bad_bootstrap(crafted, resampled=7)), "bootstrap.resampled' is 7"),
    ]


def test_bad_scores_files_name_the_file_and_the_field(tmp_path: Path, crafted):
    for number, (content, needle) in enumerate(_bad_cases(crafted)):
        path = tmp_path / f"bad{number}" / "scores.json"
        path.parent.mkdir()
        path.write_text(content)
        with pytest.raises(LumeError) as err:
            load_result(path)
        assert str(err.value).startswith(f"{path}: "), content
        assert needle in str(err.value), content


def test_bad_run_files_and_paths(tmp_path: Path, crafted):
    with pytest.raises(LumeError, match="field 'status'"):
        load_result(crafted.write_run(tmp_path / "r1", "exploded", False))
    with pytest.raises(LumeError, match="field 'reason'"):
        load_result(crafted.write_run(tmp_path / "r2", "failed", False, reason=3))
    (tmp_path / "empty").mkdir()
    with pytest.raises(LumeError, match="empty: holds neither run.json"):
        load_result(tmp_path / "empty")
    with pytest.raises(LumeError, match="no such file"):
        load_result(tmp_path / "missing.json")


def test_two_results_with_the_same_name_are_refused(tmp_path: Path, crafted):
    one = crafted.write_scores(tmp_path / "a" / "sub", crafted.scores(0.5, 0.5, 0.5))
    two = crafted.write_scores(tmp_path / "b" / "sub", crafted.scores(0.5, 0.5, 0.5))
    with pytest.raises(LumeError, match="two results are named 'sub'") as first:
        load_results([one, two])
    with pytest.raises(LumeError) as second:
        load_results([two, one])
    assert str(first.value) == str(second.value)  # the same message in any order

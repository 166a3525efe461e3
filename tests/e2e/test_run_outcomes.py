"""``lume-score run`` end to end: how a submission ends decides its status and its score.

Each test runs one of ``tests/submissions/`` for real (staging, supervisor, child,
validation) on the tiny track; the ``run`` fixture checks that nothing of it survives.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from runs import checkpoint


def test_well_behaved_submission_ends_ok_with_its_usage_accounted(run, tmp_path: Path):
    record = run("well_behaved")
    assert record["status"] == "ok" and record["reason"] is None
    assert record["exit_code"] == 0 and record["scored"] is True
    assert record["validation"]["ok"] is True
    assert record["validation"]["tensors_checked"] > 0
    assert 0 < record["wall_seconds"] < 30
    assert 0 < record["cpu_seconds"] < record["wall_seconds"] * 4  # 2M squares: some CPU
    assert record["peak_memory_bytes"] > 1_000_000
    assert record["submission"] == "well_behaved.py"
    assert "done 2666664666667000000" in record["log"]["tail"]
    log = (tmp_path / "out" / "submission.log").read_text()
    assert "forget set files: ['forget.jsonl', 'forget.parquet']" in log
    assert record["gpu"] is None and record["scores"] is None
    files = sorted(p.name for p in checkpoint(tmp_path).iterdir())
    assert "model.safetensors" in files and "config.json" in files
    # the checkpoint is the runner's now, closed to the unprivileged user
    st = checkpoint(tmp_path).stat()
    assert st.st_uid == os.geteuid() and st.st_mode & 0o077 == 0


def test_raising_submission_fails_with_the_exception_named(run):
    record = run("raises")
    assert record["status"] == "failed" and record["scored"] is False
    assert record["reason"] == "unlearn() raised: ValueError: deliberate failure in unlearn"
    assert "Traceback" in record["log"]["tail"]


def test_submission_writing_nothing_is_invalid(run):
    record = run("writes_nothing")
    assert record["status"] == "invalid" and record["exit_code"] == 0
    assert record["scored"] is False
    assert {v["rule"] for v in record["validation"]["violations"]} == {"empty"}


def test_pickle_in_the_checkpoint_is_invalid(run):
    record = run("writes_bin")
    assert record["status"] == "invalid" and record["scored"] is False
    assert {v["rule"] for v in record["validation"]["violations"]} == {"pickle-file"}


def test_syntax_error_fails_with_the_line_named(run):
    record = run("syntax_error")
    assert record["status"] == "failed" and record["exit_code"] == 102
    assert record["reason"].startswith("the submission could not be imported: SyntaxError")
    assert "submission.py, line 4" in record["reason"]


def test_file_without_unlearn_fails(run):
    record = run("no_unlearn")
    assert record["status"] == "failed" and record["exit_code"] == 103
    assert "defines no unlearn() function" in record["reason"]


@pytest.mark.slow
def test_checkpoint_saved_before_a_stuck_second_save_is_found_and_scored(
    run, tmp_path: Path, tiny_track: Path
):
    record = run("killed_mid_save", time_limit=3.0, grace=0.5)
    assert record["status"] == "timeout"
    assert record["removed_leftovers"] == {"first": [".staging-second"], "more": 0}
    assert record["validation"]["ok"] is True
    assert record["scored"] is True  # the official rule: score what is there at the kill
    assert not (checkpoint(tmp_path) / ".staging-second").exists()
    # the kill landed mid-write: half of the second save's weights were on disk then...
    total = (tiny_track / "model" / "model.safetensors").stat().st_size
    log = (tmp_path / "out" / "submission.log").read_text()
    assert f"second save in progress at SIGTERM: {total // 2} of {total} bytes on disk" in log
    assert record["exit_code"] == -signal.SIGTERM  # ...and the judge's signal ended it
    # ...and the checkpoint found, validated and scored is the first, complete save
    model = sorted((tiny_track / "model").iterdir())
    assert sorted(p.name for p in checkpoint(tmp_path).iterdir()) == [p.name for p in model]
    for item in model:
        assert (checkpoint(tmp_path) / item.name).read_bytes() == item.read_bytes()
    assert record["validation"]["tensors_checked"] > 0


@pytest.mark.slow
def test_checkpoint_left_at_a_timeout_is_discarded_under_the_strict_rule(run):
    record = run("killed_mid_save", time_limit=3.0, grace=0.5, on_timeout="discard")
    assert record["status"] == "timeout" and record["validation"]["ok"] is True
    assert record["scored"] is False

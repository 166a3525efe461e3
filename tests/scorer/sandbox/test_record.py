"""run.json's parts that are built here: the log's tail and the isolation obtained."""

from __future__ import annotations

import os
from pathlib import Path

from scorer.sandbox.options import RunOptions
from scorer.sandbox.record import LOG_TAIL_CHARS, isolation_record, log_tail
from scorer.sandbox.staging import Work

ROOT = os.geteuid() == 0


def test_the_log_tail_is_its_last_characters(tmp_path: Path):
    log = tmp_path / "submission.log"
    log.write_text("x" * 10_000 + "é" * 10 + "THE END")
    tail = log_tail(log)
    assert len(tail) == LOG_TAIL_CHARS and tail.endswith("é" * 10 + "THE END")
    assert log_tail(tmp_path / "missing.log") == ""


def _supervision(events: list[dict]) -> dict:
    return {
        "events": events,
        "cgroups": {"v2": None, "v1": {}},
        "child_in_cgroup": False,
        "kill_methods": ["cgroup"],
        "environment_names": ["PATH", "HOME"],
    }


def test_isolation_is_what_the_child_reported_never_what_was_hoped(tmp_path: Path):
    options = RunOptions(tmp_path / "s.py", tmp_path, tmp_path, 10, gpus=(1,))
    work = Work.under(tmp_path)
    report = {"event": "isolation", "at": 1.0, "user": {"name": "nobody"}, "no_new_privs": True}
    record = isolation_record(_supervision([report]), None, options, work)
    assert record["user"] == {"name": "nobody"} and record["no_new_privs"] is True
    assert record["environment"] == ["HOME", "PATH"] and record["gpus"]["granted"] == [1]
    assert record["notes"] == [
        "the submission ran as root (--user root): nothing was out of its reach"
        if ROOT
        else "the runner is not root: the submission ran as the runner's own user, so "
        "read-only copies and the runner's own files were protected by nothing but "
        "permissions it could change"
    ]
    silent = isolation_record(_supervision([]), None, options, work)
    assert silent["network"] == {"cut": False, "why": "unknown"} and silent["user"] is None
    assert silent["notes"][-1] == "the child reported no isolation (it ended before isolating)"

"""run.json's parts that are built here: the log's tail and the isolation obtained."""

from __future__ import annotations

import os
from pathlib import Path

from scorer.sandbox.isolation import RunUser
from scorer.sandbox.options import RunOptions
from scorer.sandbox.record import LOG_TAIL_CHARS, isolation_record, log_tail, memory_coverage

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


PLAN = {
    "mode": "bwrap",
    "namespaces": ["pid", "network", "ipc", "uts", "mount"],
    "seccomp": {"installed": True, "how": "libseccomp"},
    "visible": {"read_only": ["/lume/model"], "writable": ["/lume/outbox"], "devices": []},
    "die_with_parent": True,
}


def test_isolation_is_what_the_child_reported_never_what_was_hoped(tmp_path: Path):
    options = RunOptions(tmp_path / "s.py", tmp_path, tmp_path, 10, gpus=(1,))
    user = RunUser("lume", 2100000007, 2100000007)
    report = {"event": "isolation", "at": 1.0, "user": {"name": "lume", "uid": 2100000007},
              "no_new_privs": True, "seccomp": "filter", "pid": 2,
              "capabilities": {"CapEff": "0"}}  # fmt: skip
    record = isolation_record(_supervision([report]), user, options, PLAN)
    assert record["user"] == {"name": "lume", "uid": 2100000007} and record["no_new_privs"]
    assert record["run_uid"] == 2100000007 and record["pid_in_sandbox"] == 2
    assert record["seccomp"] == {"installed": True, "how": "libseccomp", "kernel": "filter"}
    assert record["network"] == {"cut": True} and record["view"] == PLAN["visible"]
    assert record["environment"] == ["HOME", "PATH"] and record["gpus"]["granted"] == [1]
    assert record["notes"] == ([] if ROOT else [record["notes"][0]])
    silent = isolation_record(_supervision([]), None, options, {**PLAN, "mode": "none"})
    assert silent["user"] is None and silent["no_new_privs"] is None
    assert silent["notes"][0].startswith("--isolation none: the submission ran as the runner's")
    assert silent["notes"][-1] == "the child reported no isolation (it ended before isolating)"


def test_run_json_says_what_the_memory_measures_count_and_what_they_miss():
    """Without bubblewrap there is no private tmpfs: a file left in /dev/shm is counted
    only by a memory cgroup, and the record says so."""
    bare = memory_coverage("none", memory_cgroup=False)
    assert any(
        m.startswith("files written to the machine's tmpfs (/dev/shm") for m in bare["not_counted"]
    )
    assert not any("tmpfs" in c for c in bare["counted"])
    charged = memory_coverage("none", memory_cgroup=True)
    assert any("tmpfs pages the run wrote" in c for c in charged["counted"])
    assert not any("machine's tmpfs" in m for m in charged["not_counted"])
    private = memory_coverage("bwrap", memory_cgroup=False)
    assert any(
        c.startswith("the run's private tmpfs (/tmp, /var/tmp, /dev/shm")
        for c in private["counted"]
    )
    assert not any("machine's tmpfs" in m for m in private["not_counted"])
    options = RunOptions(Path("s.py"), Path("m"), Path("o"), 10)
    none = isolation_record(_supervision([]), None, options, {**PLAN, "mode": "none"})
    assert any(n.startswith("--isolation none: no private tmpfs") for n in none["notes"])

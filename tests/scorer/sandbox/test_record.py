"""run.json's parts that are built here: the log's tail and the isolation obtained."""

from __future__ import annotations

import json
import os
from pathlib import Path

from scorer.sandbox.facts import NAMESPACES, namespaces_of, read_facts
from scorer.sandbox.isolation import RunUser
from scorer.sandbox.options import RunOptions
from scorer.sandbox.record import (
    LOG_TAIL_CHARS,
    bounded_events,
    isolation_record,
    log_tail,
    memory_coverage,
    record_bytes,
)

ROOT = os.geteuid() == 0


def test_the_log_tail_is_its_last_characters(tmp_path: Path):
    log = tmp_path / "submission.log"
    log.write_text("x" * 10_000 + "é" * 10 + "THE END")
    tail = log_tail(log)
    assert len(tail) == LOG_TAIL_CHARS and tail.endswith("é" * 10 + "THE END")
    assert log_tail(tmp_path / "missing.log") == ""


def _supervision(events: list[dict], judge: dict | None = None) -> dict:
    return {
        "events": events,
        "judge_namespaces": judge if judge is not None else namespaces_of("self"),
        "cgroups": {"v2": None, "v1": {}},
        "child_in_cgroup": True,
        "kill_methods": ["cgroup"],
        "environment_names": ["PATH", "HOME"],
    }


ASKED = {
    "namespaces": ["cgroup", "ipc", "mnt", "net", "pid", "uts"],
    "network_cut": True,
    "seccomp": True,
    "no_new_privs": True,
    "new_session": True,
    "die_with_parent": True,
    "drop_capabilities": True,
}
PLAN = {
    "mode": "bwrap",
    "asked": ASKED,
    "seccomp": {"installed": True, "how": "libseccomp"},
    "visible": {"read_only": ["/lume/model"], "writable": ["/lume/outbox"], "devices": []},
    "die_with_parent": True,
}
NOT_ROOT_NOTE = (
    "the runner is not root: the submission ran as the runner's own user, so the "
    "runner's own files were protected by nothing but the view"
)


def _report(**changes) -> dict:
    """An isolation event as the child sends it: this process's own facts, changed."""
    facts = read_facts()
    facts.update(changes)
    return {"event": "isolation", "at": 1.0, "user": {"name": "lume", "uid": 2100000007}, **facts}


def test_isolation_is_what_the_child_read_back_never_what_was_asked(tmp_path: Path):
    """The plan asks for every layer; this process (the 'child') has none of them: each is
    recorded as lost, and the judge's own namespaces are what 'shared' is measured by."""
    options = RunOptions(tmp_path / "s.py", tmp_path, tmp_path, 10, gpus=(1,))
    user = RunUser("lume", 2100000007, 2100000007)
    record = isolation_record(_supervision([_report()]), user, options, PLAN)
    assert record["user"] == {"name": "lume", "uid": 2100000007}
    assert record["run_uid"] == 2100000007 and record["pid_in_sandbox"] == os.getpid()
    assert record["seccomp"]["installed"] is True and record["seccomp"]["mode"] == "off"
    assert record["network"]["cut"] is False and record["namespaces"]["net"] == "shared"
    lost = record["lost"]
    for name in ASKED["namespaces"]:
        assert f"{name} namespace: shared with the judge" in lost
    assert "network: not cut (False)" in lost and "seccomp filter: mode off" in lost
    assert record["view"] == PLAN["visible"] and record["asked"] == ASKED
    assert record["environment"] == ["HOME", "PATH"] and record["gpus"]["granted"] == [1]
    assert record["notes"] == ([] if ROOT else [NOT_ROOT_NOTE])


def test_a_namespace_is_separate_only_when_its_inode_differs_from_the_judges(tmp_path: Path):
    options = RunOptions(tmp_path / "s.py", tmp_path, tmp_path, 10)
    judge = {name: f"{name}:[1]" for name in NAMESPACES}
    child = {name: f"{name}:[2]" for name in NAMESPACES} | {"uts": "uts:[1]", "pid": "unknown"}
    loopback = [{"name": "lo", "up": True, "loopback": True}]
    report = _report(namespaces=child, interfaces=loopback)
    record = isolation_record(_supervision([report], judge), None, options, PLAN)
    assert record["namespaces"]["net"] == "separate" and record["network"]["cut"] is True
    assert record["namespaces"]["uts"] == "shared" and record["namespaces"]["pid"] == "unknown"
    assert "uts namespace: shared with the judge" in record["lost"]
    assert "pid namespace: unknown" in record["lost"]
    assert not any(line.startswith(("net", "network", "ipc")) for line in record["lost"])
    eth = loopback + [{"name": "eth0", "up": True, "loopback": False}]
    open_net = isolation_record(
        _supervision([_report(namespaces=child, interfaces=eth)], judge), None, options, PLAN
    )
    assert open_net["network"]["cut"] is False and "network: not cut (False)" in open_net["lost"]


def test_a_child_that_reported_nothing_has_nothing_checked(tmp_path: Path):
    options = RunOptions(tmp_path / "s.py", tmp_path, tmp_path, 10)
    silent = isolation_record(_supervision([]), None, options, {**PLAN, "mode": "none"})
    assert silent["user"] is None and silent["no_new_privs"] is None
    assert silent["network"] == {"cut": "unknown"}
    assert silent["lost"] == ["nothing could be checked: the child reported no isolation"]
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


def test_a_record_past_one_megabyte_keeps_its_verdict_and_says_it_was_cut():
    big = {
        "status": "ok",
        "reason": None,
        "scores": {"final_score": 0.5},
        "x": ["y" * 100] * 20_000,
    }
    data = json.loads(record_bytes(big))
    assert data["status"] == "ok" and data["scores"] == {"final_score": 0.5} and "x" not in data
    assert data["cut"].startswith("run.json was ") and data["cut"].endswith("only these kept")
    small = {"status": "ok", "x": [1, 2]}
    assert json.loads(record_bytes(small)) == small


def test_events_are_bounded_in_number_and_size():
    events = [{"event": "isolation", "big": "z" * 5000}] + [
        {"event": "noise", "x": "y" * (3000 if n % 2 else 10)} for n in range(30)
    ]
    shown = bounded_events(events)
    assert shown["more"] == 10 and len(shown["first"]) == 20
    assert shown["first"][0] == {"event": "noise", "x": "y" * 10}
    assert shown["first"][1] == {"event": "noise", "at": None, "cut": len(json.dumps(events[2]))}

"""``lume-score run`` end to end: the budget holds, and the whole process tree ends.

Hostile submissions that never return, daemonise, hog memory, fork away or flood the
log, each run for real on the tiny track; the ``run`` fixture checks that no process of
the run survives and that its cgroups are gone.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runs import checkpoint, pid_alive, with_placeholder


@pytest.mark.slow
def test_never_returning_submission_is_ended_within_5_s_of_the_limit(run):
    started = time.time()
    record = run("never_returns", time_limit=2.0, grace=1.0)
    assert record["status"] == "timeout" and record["ended_by"] == "timeout"
    assert record["scored"] is False  # nothing valid was left
    assert record["validation"]["ok"] is False
    assert 0 <= record["seconds_after_deadline"] < 5.0
    assert record["processes_signalled"]["SIGKILL"] >= 1  # it ignored SIGTERM
    assert 2.0 <= record["wall_seconds"] < 7.0
    assert time.time() - started < 30


@pytest.mark.parametrize(
    "returns",
    [pytest.param(False, id="sleeps", marks=pytest.mark.slow), pytest.param(True, id="returns")],
)
def test_daemonised_grandchild_deaf_to_sigterm_is_gone_afterwards(
    run, tmp_path: Path, returns: bool
):
    source = with_placeholder(
        "daemon_grandchild", tmp_path, "RETURN = False", f"RETURN = {returns}"
    )
    record = run("daemon_grandchild", source=source, time_limit=3.0, grace=0.5)
    pids = [int((checkpoint(tmp_path) / n).read_text()) for n in ("daemon.pid", "daemon-child.pid")]
    assert not any(pid_alive(pid) for pid in pids)
    assert record["status"] == ("invalid" if returns else "timeout")
    assert record["processes_signalled"]["SIGKILL"] >= 2
    if returns:
        assert record["exit_code"] == 0 and record["wall_seconds"] < 3.0


def test_memory_hog_is_ended_with_status_oom(run):
    record = run("memory_hog", memory_limit_gb=0.3, time_limit=60)
    assert record["status"] == "oom" and record["scored"] is False
    assert record["memory"]["limit_bytes"] == 300_000_000
    assert record["wall_seconds"] < 30
    assert record["peak_memory_bytes"] >= 200_000_000


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroup", "subreaper-only"])
def test_runaway_fork_chain_is_ended_with_or_without_cgroups(run, cgroups: bool):
    record = run("runs_away", time_limit=20, grace=0.5, cgroups=cgroups)
    assert record["exit_code"] == 0  # the first process left at once...
    assert record["status"] == "invalid"  # ...with nothing saved
    assert record["processes_signalled"]["SIGKILL"] >= 1
    assert record["wall_seconds"] < 10
    assert bool(record["isolation"]["cgroups"]["v2"] or record["isolation"]["cgroups"]["v1"]) == (
        cgroups
    )


def test_flooded_log_is_capped_and_keeps_its_tail(run, tmp_path: Path):
    record = run("floods_log", log_max_bytes=100_000)
    log = tmp_path / "out" / "submission.log"
    assert record["log"]["truncated"] is True
    assert record["log"]["bytes"] > 2_000_000  # what it wrote
    assert log.stat().st_size < 100_000 + (1 << 20) + 100  # the cap and a 1 MiB tail
    assert log.read_text().rstrip().endswith("THE LAST LINE")
    assert "bytes of log dropped]" in log.read_text()
    assert record["log"]["tail"].rstrip().endswith("THE LAST LINE")

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
    ("returns", "isolation"),
    [
        pytest.param(False, "none", id="sleeps", marks=pytest.mark.slow),
        pytest.param(True, "none", id="returns"),
        pytest.param(True, "bwrap", id="returns-bwrap"),
    ],
)
def test_daemonised_grandchild_deaf_to_sigterm_is_gone_afterwards(
    run, tmp_path: Path, returns: bool, isolation: str
):
    """Without a PID namespace the supervisor must hunt the daemon down (SIGKILL to each);
    in bwrap's, the kernel ends every process of the namespace with its first one (the
    ``run`` fixture checks that no process of the run is left either way)."""
    source = with_placeholder(
        "daemon_grandchild", tmp_path, "RETURN = False", f"RETURN = {returns}"
    )
    record = run("daemon_grandchild", source=source, time_limit=3.0, grace=0.5, isolation=isolation)
    pids = [int((checkpoint(tmp_path) / n).read_text()) for n in ("daemon.pid", "daemon-child.pid")]
    assert record["status"] == ("invalid" if returns else "timeout")
    if isolation == "none":
        assert not any(pid_alive(pid) for pid in pids)
        assert record["processes_signalled"]["SIGKILL"] >= 2
    else:
        assert all(2 < pid < 100 for pid in pids)  # numbered in the run's own namespace
    if returns:
        assert record["exit_code"] == 0 and record["wall_seconds"] < 3.0


def test_memory_hog_is_ended_with_status_oom(run):
    record = run("memory_hog", memory_limit_gb=0.3, time_limit=60)
    assert record["status"] == "oom" and record["scored"] is False
    assert record["memory"]["limit_bytes"] == 300_000_000
    assert record["wall_seconds"] < 30
    assert record["peak_memory_bytes"] >= 200_000_000


@pytest.mark.parametrize(
    ("cgroups", "isolation"),
    [(True, "none"), (False, "none"), (False, "bwrap")],
    ids=["cgroup", "subreaper-only", "pid-namespace-only"],
)
def test_runaway_fork_chain_is_ended_with_or_without_cgroups(run, cgroups: bool, isolation: str):
    record = run("runs_away", time_limit=20, grace=0.5, cgroups=cgroups, isolation=isolation)
    assert record["exit_code"] == 0  # the first process left at once...
    assert record["status"] == "invalid"  # ...with nothing saved
    if isolation == "none":
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

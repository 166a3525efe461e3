"""Limits that hold without a cgroup: memory held in an anonymous file, and a flood of
threads, each under its limit with cgroups off; run.json says what enforced each."""

from __future__ import annotations

import needs
import pytest


@needs.on("root")  # memfd is seen through /proc/PID/fd and map_files of the run's uid
def test_memory_in_an_anonymous_file_counts_without_a_cgroup(run):
    record = run("hides_in_memfd", time_limit=60, cgroups=False, memory_limit_gb=0.3)
    assert record["status"] == "oom" and record["wall_seconds"] < 30
    memory = record["memory"]
    assert memory["peak_cgroup_bytes"] is None and memory["enforced_by"].startswith("polled")
    assert memory["peak_held_bytes"] > 300_000_000 > memory["peak_rss_sum_bytes"]
    assert any(c.startswith("memory held without a resident page") for c in memory["counted"])


@needs.on("root")  # RLIMIT_NPROC counts the run alone only on a uid of its own
def test_a_thread_flood_is_stopped_without_a_cgroup(run):
    record = run("many_threads", cgroups=False, pids_max=64)
    assert record["status"] == "failed"
    assert record["reason"] == "unlearn() raised: RuntimeError: can't start new thread"
    assert record["processes"] == {
        "limit": 64,
        "enforced_by": ["RLIMIT_NPROC on the run's own uid"],
    }


@needs.on("root")
@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroup", "no-cgroup"])
def test_what_enforced_the_process_limit_is_read_back(run, cgroups: bool):
    record = run("writes_nothing", cgroups=cgroups, pids_max=512)
    by = ["RLIMIT_NPROC on the run's own uid"]
    assert record["processes"]["enforced_by"] == (["cgroup pids.max", *by] if cgroups else by)

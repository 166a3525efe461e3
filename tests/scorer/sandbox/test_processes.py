"""Every process of a run: found through /proc (``scorer.procfs``) and ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

from scorer import procfs
from scorer.sandbox.cgroups import RunCgroups
from scorer.sandbox.isolation import RUN_ID_VARIABLE
from scorer.sandbox.processes import RunProcesses

SLEEPER_WITH_A_CHILD = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "time.sleep(60)\n"
)


def test_a_stat_line_is_read_after_the_command_names_last_parenthesis():
    line = b"4242 (evil) S 1 (name)) R 17 4242 4242 0 -1 4194560"
    assert procfs.parse_stat(line) == (17, "R")


def test_descendants_are_followed_through_every_generation():
    table = {10: (1, "S"), 11: (10, "S"), 12: (11, "R"), 13: (1, "S"), 14: (12, "Z")}
    assert procfs.descendants(10, table) == {11, 12, 14}
    assert procfs.alive({11, 12, 14, 99}, table) == {11, 12}  # zombies and the gone are not


def test_a_run_is_found_by_its_tree_and_its_marker_and_killed_to_the_last():
    run_id = f"test-{uuid.uuid4().hex}"
    env = {**os.environ, RUN_ID_VARIABLE: run_id}
    parent = subprocess.Popen([sys.executable, "-c", SLEEPER_WITH_A_CHILD], env=env)
    try:
        until = time.monotonic() + 30
        while not procfs.children_tree(parent.pid) and time.monotonic() < until:
            time.sleep(0.02)
        child = procfs.children_tree(parent.pid)
        assert len(child) == 1
        marked = procfs.processes_with_environment(f"{RUN_ID_VARIABLE}={run_id}")
        assert marked == {parent.pid} | child
        processes = RunProcesses(RunCgroups(notes=["none in this test"]), run_id, lambda: False)
        assert {parent.pid} | child <= processes.find(scan_marks=True)
        assert procfs.total_rss_bytes({parent.pid} | child) > 1_000_000
        assert processes.kill_everything(time.monotonic() + 10) == set()
        assert parent.wait(timeout=10) == -signal.SIGKILL
        assert processes.signalled["SIGKILL"] >= {parent.pid} | child
        left = procfs.processes_with_environment(f"{RUN_ID_VARIABLE}={run_id}")
        assert {pid for pid in left if procfs.is_alive(pid)} == set()
    finally:
        parent.kill()
        parent.wait()

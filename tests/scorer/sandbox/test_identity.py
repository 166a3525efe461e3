"""One identity per run: a uid no other run holds, taken under a lock, never a live one's."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import needs
import pytest

from scorer.errors import LumeError
from scorer.procfs import processes_of_uid
from scorer.sandbox.identity import end_processes_of, lease_uid

ROOT = os.geteuid() == 0
BASE = 2_100_900_000  # a test range, apart from the runs'


def test_two_runs_at_once_never_share_a_uid_and_a_released_one_is_reused(tmp_path: Path):
    first = lease_uid(BASE, 2, tmp_path)
    second = lease_uid(BASE, 2, tmp_path)
    assert {first.user.uid, second.user.uid} == {BASE, BASE + 1}
    assert first.user.gid == first.user.uid and first.user.name == "lume"
    with pytest.raises(LumeError, match=f"no free run uid in {BASE}..{BASE + 1}"):
        lease_uid(BASE, 2, tmp_path)
    freed = first.user.uid
    first.release()
    assert lease_uid(BASE, 2, tmp_path).user.uid == freed
    assert oct((tmp_path).stat().st_mode & 0o777) == "0o700"
    second.release()


def test_the_lock_is_held_across_processes(tmp_path: Path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from scorer.sandbox.identity import "
         f"lease_uid; lease = lease_uid({BASE}, 1, Path(sys.argv[1])); print('held', "
         "flush=True); time.sleep(30)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LumeError, match="no free run uid"):
            lease_uid(BASE, 1, tmp_path)
    finally:
        holder.kill()
        holder.wait()
    lease_uid(BASE, 1, tmp_path).release()  # a dead holder's lock went with it


@needs.on("root")  # only root can start a process as another uid
def test_a_uid_still_owning_a_process_is_cleared_before_it_is_handed_out(tmp_path: Path):
    uid = BASE + 5
    stray = subprocess.Popen(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "sleep", "60"]
    )
    try:
        until = time.time() + 5
        while not processes_of_uid(uid) and time.time() < until:
            time.sleep(0.02)
        assert processes_of_uid(uid) == {stray.pid}
        lease = lease_uid(uid, 1, tmp_path)
        assert lease.user.uid == uid and processes_of_uid(uid) == set()
        lease.release()
    finally:
        stray.kill()
        stray.wait()
    assert end_processes_of(uid) == []

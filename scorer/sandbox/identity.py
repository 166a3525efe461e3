"""One identity per run: a uid and gid of their own from a reserved range, held by a lock.

Two runs going on at the same time never share a uid, so they can neither read, signal
nor write each other, and no run's files can be reached by a later one (its outputs are
root's). A uid is taken with an exclusive ``flock`` on ``LOCK_DIR/<uid>.lock`` held for
the whole run (a crashed runner's lock goes with its process), and only when no process
owns it (one left by an earlier run is killed by :func:`end_processes_of`, never reused
while alive). Standard library only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import signal
import time
from pathlib import Path

from scorer import procfs
from scorer.errors import LumeError
from scorer.sandbox.isolation import RunUser

UID_BASE = 2_100_000_000 // 1000 * 1000  # far above any account an installer creates
UID_COUNT = 1000
LOCK_DIR = Path("/run/lume-uids")


class Lease:
    """A uid reserved for one run until :meth:`release` (or the process's end)."""

    def __init__(self, user: RunUser, fd: int) -> None:
        self.user = user
        self._fd = fd

    def release(self) -> None:
        """Give the uid back; the caller has made sure none of its processes is left."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _free_of_accounts(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return True
    return False


def lease_uid(base: int = UID_BASE, count: int = UID_COUNT, lock_dir: Path = LOCK_DIR) -> Lease:
    """Reserve a uid (gid = uid) no other run holds and no process owns; LumeError when the
    whole range is busy."""
    lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock_dir.chmod(0o700)
    start = os.getpid() % count  # spread concurrent runners over the range
    for step in range(count):
        uid = base + (start + step) % count
        if not _free_of_accounts(uid):
            continue
        fd = os.open(lock_dir / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if procfs.processes_of_uid(uid):
            end_processes_of(uid)
            if procfs.processes_of_uid(uid):
                os.close(fd)
                continue
        return Lease(RunUser("lume", uid, uid), fd)
    raise LumeError(f"no free run uid in {base}..{base + count - 1}: too many runs at once")


def end_processes_of(uid: int, seconds: float = 5.0) -> list[int]:
    """SIGKILL every process owned by ``uid`` until none is left; what survived."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        pids = procfs.processes_of_uid(uid)
        if not pids:
            return []
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    return sorted(procfs.processes_of_uid(uid))

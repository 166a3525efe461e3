"""Every process of one run: found three ways, signalled, killed until none is left.

The supervisor is a child subreaper, so a descendant that double-forks or starts its own
session re-parents to it and stays findable. Processes are found three ways, all merged:
the run's cgroups (when they could be created), the supervisor's descendants in /proc, and,
when ending the run, every process whose environment carries the run's id. Standard
library only (the supervisor's side).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable

from scorer import procfs
from scorer.sandbox.cgroups import RunCgroups
from scorer.sandbox.isolation import RUN_ID_VARIABLE

KILL_GIVE_UP_SECONDS = 10.0


def signal_all(pids: set[int], signum: int) -> None:
    """Send ``signum`` to each pid; one that is already gone is no error."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


class RunProcesses:
    """The processes of one run, below this (supervising) process.

    ``reap`` collects exited children and says whether any remain (the supervisor's, so
    that the main child's exit status is never lost to a reap done here).
    """

    def __init__(self, groups: RunCgroups, run_id: str, reap: Callable[[], bool]) -> None:
        self.groups = groups
        self.marker = f"{RUN_ID_VARIABLE}={run_id}"
        self.reap = reap
        self.kill_methods: set[str] = set()
        self.signalled: dict[str, set[int]] = {"SIGTERM": set(), "SIGKILL": set()}

    def find(self, scan_marks: bool = False) -> set[int]:
        """Live processes of the run. The cgroup is read before /proc, so a process forked
        in between is still found through its parent; ``scan_marks`` adds the slow scan of
        every process's environment for the run's marker."""
        me = os.getpid()
        grouped = self.groups.pids()
        marks = procfs.processes_with_environment(self.marker) if scan_marks else set()
        table = procfs.process_table()
        pids = procfs.descendants(me, table) | grouped | procfs.children_tree(me)
        if marks - pids:
            self.kill_methods.add("environment marker")
        pids |= marks
        pids.discard(me)
        for pid in pids - table.keys():  # gone, or born after the scan: look again
            entry = procfs.process_entry(pid)
            if entry is not None:
                table[pid] = entry
        return procfs.alive(pids, table)

    def empty(self) -> bool:
        """No process left: two scans in a row find none, and the cgroup says so."""
        return not any(self.find() or self.groups.populated() for _ in range(2))

    def terminate(self, pids: set[int]) -> None:
        """SIGTERM: ask ``pids`` (and whatever the cgroup holds) to end, and remember it.
        bubblewrap's own processes are left out: one that ends takes the whole PID
        namespace with it at once, and the submission would lose its grace period."""
        pids = {p for p in pids | self.groups.pids() if procfs.executable_name(p) != "bwrap"}
        signal_all(pids, signal.SIGTERM)
        self.signalled["SIGTERM"] |= pids

    def kill_everything(self, give_up: float) -> set[int]:
        """SIGKILL in a tight loop (no pause to read pipes) until three fast looks in a row
        and a full scan find nothing; returns what is still alive at ``give_up``
        (``time.monotonic()``)."""
        quiet = 0
        me = os.getpid()
        while time.monotonic() < give_up:
            pids = {p for p in procfs.children_tree(me) | self.groups.pids() if procfs.is_alive(p)}
            if self.groups.can_kill_all and (pids or self.groups.populated()):
                self.groups.kill_all()
                self.kill_methods.add("cgroup")
            if pids:
                signal_all(pids, signal.SIGKILL)
                self.signalled["SIGKILL"] |= pids
                self.kill_methods.add("signals to found pids")
            self.reap()
            if pids or self.groups.populated():
                quiet = 0
                continue
            quiet += 1
            if quiet >= 3:
                found = self.find(scan_marks=True)
                if not found:
                    return set()
                signal_all(found, signal.SIGKILL)
                self.signalled["SIGKILL"] |= found
                quiet = 0
        return self.find(scan_marks=True)

    def end_stragglers(self) -> set[int]:
        """A last look after the run: kill whatever is found now, until no child of ours
        is left; returns the processes that survived even that."""
        until = time.monotonic() + KILL_GIVE_UP_SECONDS
        survivors: set[int] = set()
        while time.monotonic() < until:
            survivors = self.find(scan_marks=True)
            if survivors or self.groups.populated():
                survivors = self.kill_everything(until)
                if survivors:
                    break
            if not self.reap():
                break  # no child of ours at all
            time.sleep(0.01)  # killed processes still exiting: their cgroups empty after
        return survivors


def emergency_stop(groups: RunCgroups, run_id: str) -> None:
    """After a failure of the supervisor itself: kill and reap everything, remove the
    groups. A stranger's processes are never left behind, whatever went wrong."""
    marker, me = f"{RUN_ID_VARIABLE}={run_id}", os.getpid()
    until = time.time() + KILL_GIVE_UP_SECONDS
    while time.time() < until:
        found = procfs.descendants(me, procfs.process_table()) | groups.pids()
        pids = procfs.alive(found, procfs.process_table())
        pids |= procfs.processes_with_environment(marker)
        if not pids:
            break
        groups.kill_all()
        signal_all(pids, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        time.sleep(0.05)
    groups.remove()

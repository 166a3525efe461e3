"""The supervisor: start the child, hold it to its budget, end its whole tree, account.

Runs as its own process (``python -I -m scorer.sandbox.supervisor SPEC``) so that its
``RUSAGE_CHILDREN`` is exactly the submission's CPU time. It is a child subreaper
(``PR_SET_CHILD_SUBREAPER``): descendants that double-fork or start their own session
re-parent to it, stay findable and are reaped. Processes are found three ways, all
merged: the run's cgroups (when they could be created), the supervisor's descendants in
/proc, and, when ending the run, every process whose environment carries the run's id.

At the deadline, or when memory passes the limit, or when ``unlearn()`` has returned
and stragglers remain: SIGTERM to all, ``grace`` seconds, then SIGKILL until none is
left. The child's stdout and stderr go through a pipe into the log (capped; the tail is
always kept). Standard library only; pynvml when GPUs are granted.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from scorer.contract import DEADLINE_VARIABLE
from scorer.sandbox import linux
from scorer.sandbox.cgroups import RunCgroups
from scorer.sandbox.gpu import GpuMonitor
from scorer.sandbox.isolation import RUN_ID_VARIABLE

POLL_SECONDS = 0.05
SCAN_SECONDS = 0.25
KILL_GIVE_UP_SECONDS = 10.0
TAIL_BYTES = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")


# ------------------------------------------------------------------ /proc helpers


def proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state letter) of every process visible here."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), fields[0].decode())
    return table


def descendants(root: int, table: dict[int, tuple[int, str]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def children_tree(root: int) -> set[int]:
    """Descendants through the kernel's per-thread children lists: a few small reads, fast
    enough to catch a process that forks and exits in a loop (a /proc scan is too slow)."""
    found: set[int] = set()
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            with (
                contextlib.suppress(OSError, ValueError),
                open(f"/proc/{pid}/task/{tid}/children") as handle,
            ):
                for child in map(int, handle.read().split()):
                    if child not in found:
                        found.add(child)
                        stack.append(child)
    return found


def marked(run_id: str) -> set[int]:
    """Processes whose environment carries ``LUME_RUN_ID=run_id`` (last-resort scan)."""
    needle = f"{RUN_ID_VARIABLE}={run_id}".encode()
    found = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry.name}/environ", "rb") as handle:
            if needle in handle.read().split(b"\0"):
                found.add(int(entry.name))
    return found


def rss_bytes(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        with (
            contextlib.suppress(OSError, ValueError, IndexError),
            open(f"/proc/{pid}/statm", "rb") as handle,
        ):
            total += int(handle.read().split()[1]) * PAGE
    return total


def alive(pids: set[int], table: dict[int, tuple[int, str]]) -> set[int]:
    return {p for p in pids if p in table and table[p][1] not in ("Z", "X")}


def _live(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return False
    return data[data.rfind(b")") + 2 : data.rfind(b")") + 3] not in (b"Z", b"X")


def signal_all(pids: set[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


# ------------------------------------------------------------------ the log


class LogSink:
    """The child's output: written up to ``cap`` bytes, then only the tail is kept."""

    def __init__(self, path: str, cap: int) -> None:
        self.handle = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.cap, self.written, self.dropped = cap, 0, 0
        self.tail = bytearray()

    def write(self, data: bytes) -> None:
        room = max(self.cap - self.written, 0)
        if room:
            self.handle.write(data[:room])
            self.written += min(room, len(data))
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > TAIL_BYTES:
                self.dropped += len(self.tail) - TAIL_BYTES
                del self.tail[: len(self.tail) - TAIL_BYTES]

    def close(self) -> None:
        if self.tail:
            if self.dropped:
                self.handle.write(f"\n[lume: {self.dropped} bytes of log dropped]\n".encode())
            self.handle.write(bytes(self.tail))
        self.handle.close()

    @property
    def truncated(self) -> bool:
        return bool(self.dropped)


# ------------------------------------------------------------------ supervision


class Supervisor:
    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.grace = float(spec["grace"])
        self.memory_limit = spec.get("memory_limit")
        self.events: list[dict] = []
        self.interrupted = False
        self.main_status: int | None = None
        self.main_end: float | None = None  # seconds since the start
        self.clock = time.monotonic()
        self.peak_rss = 0
        self.kill_methods: set[str] = set()
        self.signalled: dict[str, set[int]] = {"SIGTERM": set(), "SIGKILL": set()}
        self._status_buffer = b""
        self.gpu_over_limit = False

    # -- processes of the run
    def tree(self, scan_marks: bool = False) -> tuple[set[int], dict]:
        """Live processes of the run. The cgroup is read before /proc, so a process forked
        in between is still found through its parent."""
        grouped = self.groups.pids()
        marks = marked(self.spec["run_id"]) if scan_marks else set()
        table = proc_table()
        pids = descendants(os.getpid(), table) | grouped | children_tree(os.getpid())
        if marks - pids:
            self.kill_methods.add("environment marker")
        pids |= marks
        pids.discard(os.getpid())
        for pid in pids - table.keys():  # gone, or born after the scan: look again
            with contextlib.suppress(OSError, IndexError), open(f"/proc/{pid}/stat", "rb") as f:
                data = f.read()
                fields = data[data.rfind(b")") + 2 :].split()
                table[pid] = (int(fields[1]), fields[0].decode())
        return alive(pids, table), table

    def kill_everything(self, give_up: float) -> set[int]:
        """SIGKILL in a tight loop (no pause to read pipes) until three fast looks in a row
        and a full scan find nothing; returns what is still alive at ``give_up``
        (``time.monotonic()``)."""
        quiet = 0
        while time.monotonic() < give_up:
            pids = {p for p in children_tree(os.getpid()) | self.groups.pids() if _live(p)}
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
                found, _ = self.tree(scan_marks=True)
                if not found:
                    return set()
                signal_all(found, signal.SIGKILL)
                self.signalled["SIGKILL"] |= found
                quiet = 0
        return self.tree(scan_marks=True)[0]

    def empty(self) -> bool:
        """No process left: two scans in a row find none, and the cgroup says so."""
        return not any(self.tree()[0] or self.groups.populated() for _ in range(2))

    def reap(self) -> bool:
        """Collect every exited child (orphans included); whether children remain."""
        while True:
            try:
                pid, status, _ = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.proc.pid:
                self.main_status = os.waitstatus_to_exitcode(status)
                self.main_end = time.monotonic() - self.clock

    # -- pipes
    def drain(self, fds: list[int], timeout: float) -> None:
        if not fds:
            time.sleep(timeout)
            return
        with contextlib.suppress(InterruptedError):
            ready, _, _ = select.select(fds, [], [], timeout)
            for fd in ready:
                data = os.read(fd, 1 << 16)
                if not data:
                    fds.remove(fd)
                    os.close(fd)
                elif fd == self.out_r:
                    self.log.write(data)
                else:
                    self._status(data)

    def _status(self, data: bytes) -> None:
        self._status_buffer += data
        *lines, self._status_buffer = self._status_buffer.split(b"\n")
        for line in lines:
            with contextlib.suppress(ValueError):
                event = json.loads(line[: 1 << 16])
                if isinstance(event, dict) and len(self.events) < 200:
                    event["at"] = time.time()
                    self.events.append(event)

    # -- budget
    def over_memory(self, now: float) -> bool:
        if self.groups.oom_kills() > 0:
            return True
        if now >= self._next_rss:
            self._next_rss = now + SCAN_SECONDS
            pids, _ = self.tree()
            rss = rss_bytes(pids)
            self.peak_rss = max(self.peak_rss, rss)
            self.gpu.poll(pids, SCAN_SECONDS)
            if self.memory_limit and not self.groups.has_memory and rss > self.memory_limit:
                return True
            gpu_limit = self.spec.get("gpu_memory_limit")
            if gpu_limit and self.gpu.active and self.gpu.peak_bytes() > gpu_limit:
                self.gpu_over_limit = True
                return True
        return False

    def run(self) -> dict:
        spec = self.spec
        linux.set_child_subreaper()
        self.groups = (
            RunCgroups.create(spec["cgroup_name"], spec.get("memory_limit"), spec.get("pids_max"))
            if spec.get("use_cgroups", True)
            else RunCgroups(notes=["cgroups not asked for"])
        )
        self.gpu = GpuMonitor(spec.get("gpus") or [])
        self.log = LogSink(spec["log_path"], spec["log_max_bytes"])
        status_r, status_w = os.pipe()
        self.out_r, out_w = os.pipe()
        child_spec = dict(spec["child"], status_fd=status_w)
        Path(spec["child_spec_path"]).write_text(json.dumps(child_spec))
        env = dict(spec["env"])
        start, clock = time.time(), time.monotonic()  # the budget runs on the monotonic clock
        self.clock = clock
        limit = float(spec["time_limit"])
        env[DEADLINE_VARIABLE] = f"{start + limit:.3f}"
        joined = self.groups.join if self.groups.directories else None
        self.proc = subprocess.Popen(
            spec["argv"],
            env=env,
            cwd=spec["cwd"],
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=out_w,
            pass_fds=(status_w,),
            start_new_session=True,
            preexec_fn=joined,  # noqa: PLW1509 - single-threaded supervisor
        )
        os.close(status_w)
        os.close(out_w)
        in_cgroup = self.proc.pid in self.groups.pids()
        fds = [self.out_r, status_r]
        ended_by, phase, phase_until = None, "running", 0.0
        self._next_rss = 0.0
        give_up = None
        survivors: set[int] = set()
        ended_at = None
        while True:
            self.drain(fds, POLL_SECONDS)
            self.reap()
            now = time.monotonic() - clock  # seconds since the start
            if phase == "running":
                if self.main_status is not None:
                    ended_by = "returned" if self.main_status == 0 else "exited"
                elif self.interrupted:
                    ended_by = "interrupted"
                elif now >= limit:
                    ended_by = "timeout"
                elif self.over_memory(now):
                    ended_by = "oom"
                if ended_by is None:
                    continue
                pids, _ = self.tree(scan_marks=True)
                if pids or not self.empty():
                    pids |= self.groups.pids()
                    signal_all(pids, signal.SIGTERM)
                    self.signalled["SIGTERM"] |= pids
                    phase, phase_until = "terminating", now + self.grace
                else:
                    phase = "done"
            if phase == "terminating":
                if self.empty():
                    phase = "done"
                elif now >= phase_until:
                    phase, give_up = "killing", now + KILL_GIVE_UP_SECONDS
            if phase == "killing":
                survivors = self.kill_everything(clock + give_up)
                phase = "done"
            if phase == "done":
                if ended_at is None:
                    ended_at = time.monotonic() - clock
                if self.main_status is None and not survivors and now < ended_at + 5:
                    continue  # the main child is dead: its exit status is on its way
                break
        drain_until = time.time() + (0.0 if survivors else 2.0)
        while fds and time.time() <= drain_until:
            self.drain(fds, 0.1)
        until = time.monotonic() + KILL_GIVE_UP_SECONDS
        while time.monotonic() < until:  # a last look: anything found now is killed too
            survivors = self.tree(scan_marks=True)[0]
            if survivors or self.groups.populated():
                survivors = self.kill_everything(until)
                if survivors:
                    break
            if not self.reap():
                break  # no child of ours at all
            time.sleep(0.01)  # killed processes still exiting: their cgroups empty after
        self.log.close()
        return self.result(start, limit, ended_at, ended_by, in_cgroup, survivors)

    def emergency_stop(self) -> None:
        """After a failure of the supervisor itself: kill and reap everything, tidy up."""
        groups = getattr(self, "groups", None) or RunCgroups()
        until = time.time() + KILL_GIVE_UP_SECONDS
        while time.time() < until:
            pids = alive(descendants(os.getpid(), proc_table()) | groups.pids(), proc_table())
            pids |= marked(self.spec["run_id"])
            if not pids:
                break
            groups.kill_all()
            signal_all(pids, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            time.sleep(0.05)
        groups.remove()

    def result(self, start, limit, ended_at, ended_by, in_cgroup, survivors) -> dict:
        """``ended_at`` and ``limit`` are seconds since the start (monotonic clock)."""
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = ended_at
        peak_cgroup = self.groups.peak_memory_bytes()
        oom_kills = self.groups.oom_kills()
        left = self.groups.remove()
        return {
            "ended_by": "oom" if oom_kills and ended_by != "timeout" else ended_by,
            "exit_code": self.main_status,
            "start": start,
            "deadline": start + limit,
            "ended_at": start + ended_at,
            "returned_after_seconds": self.main_end,
            "wall_seconds": wall,
            "seconds_after_deadline": ended_at - limit if ended_by == "timeout" else None,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "cpu_user_seconds": usage.ru_utime,
            "cpu_system_seconds": usage.ru_stime,
            "memory": {
                "limit_bytes": self.memory_limit,
                "enforced_by": (
                    "kernel cgroup limit"
                    if self.groups.has_memory
                    else ("polled RSS sum" if self.memory_limit else None)
                ),
                "peak_cgroup_bytes": peak_cgroup,
                "peak_rss_sum_bytes": self.peak_rss,
                "max_rss_one_process_bytes": usage.ru_maxrss * 1024,
                "oom_kills": oom_kills,
                "gpu_limit_bytes": self.spec.get("gpu_memory_limit"),
                "gpu_limit_enforced": bool(self.spec.get("gpu_memory_limit") and self.gpu.active),
                "gpu_over_limit": self.gpu_over_limit,
            },
            "gpu": self.gpu.result(wall),
            "processes_signalled": {name: len(pids) for name, pids in self.signalled.items()},
            "kill_methods": sorted(self.kill_methods),
            "survivors": sorted(survivors),
            "child_in_cgroup": in_cgroup,
            "cgroups": dict(self.groups.describe(), left_behind=left),
            "events": self.events,
            "log_bytes": self.log.written + len(self.log.tail) + self.log.dropped,
            "log_truncated": self.log.truncated,
        }


def main(argv: list[str]) -> None:
    spec = json.loads(Path(argv[1]).read_text())
    supervisor = Supervisor(spec)

    def interrupt(_signum, _frame) -> None:
        supervisor.interrupted = True

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    with contextlib.suppress(OSError):
        linux.set_parent_death_signal(signal.SIGTERM)  # the runner died: end the run
    if os.getppid() != spec["runner_pid"]:
        supervisor.interrupted = True
    try:
        result = supervisor.run()
    except BaseException:
        supervisor.emergency_stop()  # never leave a stranger's processes behind
        raise
    target = Path(spec["result_path"])
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, target)


if __name__ == "__main__":
    main(sys.argv)

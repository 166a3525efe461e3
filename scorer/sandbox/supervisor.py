"""The supervisor: start the child, hold it to its budget, end its whole tree, account.

Runs as its own process (``python -I -m scorer.sandbox.supervisor SPEC``) so that its
``RUSAGE_CHILDREN`` is exactly the submission's CPU time. It is a child subreaper
(``PR_SET_CHILD_SUBREAPER``): descendants that double-fork or start their own session
re-parent to it, stay findable (``scorer.sandbox.processes``) and are reaped.

At the deadline, or when memory passes the limit, or when ``unlearn()`` has returned
and stragglers remain: SIGTERM to all, ``grace`` seconds, then SIGKILL until none is
left. The child's stdout and stderr go through a pipe into the log (capped; the tail is
always kept); its status lines are collected as events. Standard library only; pynvml
when GPUs are granted.
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

from scorer import procfs
from scorer.contract import DEADLINE_VARIABLE
from scorer.sandbox import disk, linux
from scorer.sandbox.capped_log import CappedLog
from scorer.sandbox.cgroups import RunCgroups
from scorer.sandbox.cpu import CpuSamples, cpu_record
from scorer.sandbox.facts import judge_namespaces
from scorer.sandbox.gpu import GpuMonitor
from scorer.sandbox.memory import held_memory
from scorer.sandbox.processes import KILL_GIVE_UP_SECONDS, RunProcesses, emergency_stop
from scorer.sandbox.protocol import decode_events

POLL_SECONDS = 0.05
DISK_SCAN_SECONDS = 1.0
SCAN_SECONDS = 0.25
MAX_EVENTS = 200
SECCOMP_FD_PLACEHOLDER = "{seccomp_fd}"  # in the argv: the descriptor of the seccomp program
TMPFS_PATHS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")
EXIT_STATUS_WAIT_SECONDS = 5.0  # after the tree is gone, how long the main status may lag
POLLED_MEMORY = (  # memory.enforced_by without a memory cgroup
    "polled every 0.25 s: the larger of the summed resident sets and what the processes "
    "hold (proportional sets, every shared-memory object once), plus the private tmpfs"
)


class Supervisor:
    """One run's supervision, from the spec the runner wrote to the result it reads."""

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
        self.peak_held = 0
        self.peak_disk = 0
        self._next_disk = 0.0
        self.peak_tmpfs = 0
        self._status_pending = b""
        self._next_rss = 0.0
        self.gpu_over_limit = False
        self.groups: RunCgroups | None = None
        self.cpu = CpuSamples()

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
        """Move what the child wrote into the log and the events; wait at most ``timeout``."""
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
        events, self._status_pending = decode_events(self._status_pending + data)
        for event in events:
            if len(self.events) < MAX_EVENTS:
                event["at"] = time.time()
                self.events.append(event)

    # -- budget
    def over_memory(self, now: float) -> bool:
        """Whether the run passed its memory (or GPU memory) limit; polls RSS and NVML."""
        if self.groups.oom_kills() > 0:
            return True
        if now >= self._next_rss:
            self._next_rss = now + SCAN_SECONDS
            pids = self.processes.find()
            self.cpu.sample(pids)
            tmpfs = self._tmpfs_bytes(pids)
            rss = procfs.total_rss_bytes(pids) + tmpfs
            self.peak_rss = max(self.peak_rss, rss)
            held = 0
            if not self.groups.has_memory:  # no kernel count: what the processes hold
                apart = TMPFS_PATHS if self.spec.get("private_tmpfs") else ()
                held = held_memory(pids, apart).total + tmpfs
                self.peak_held = max(self.peak_held, held)
            self.gpu.poll(pids, SCAN_SECONDS)
            over = self.memory_limit and max(rss, held) > self.memory_limit
            if over and not self.groups.has_memory:
                return True
            gpu_limit = self.spec.get("gpu_memory_limit")
            if gpu_limit and self.gpu.active and self.gpu.peak_bytes() > gpu_limit:
                self.gpu_over_limit = True
                return True
        return False

    def _tmpfs_bytes(self, pids: set[int]) -> int:
        """What the run holds in its private tmpfs (one look per mount namespace of its
        own): memory no resident set shows, counted against the limit."""
        mine = _mount_namespace(os.getpid())
        seen: dict[str, int] = {}
        for pid in sorted(pids):
            namespace = _mount_namespace(pid)
            if namespace and namespace != mine and namespace not in seen:
                seen[namespace] = procfs.tmpfs_used_bytes(pid, TMPFS_PATHS)
        used = sum(seen.values())
        self.peak_tmpfs = max(self.peak_tmpfs, used)
        return used

    def _ended_by(self, now: float, limit: float) -> str | None:
        """Why the run must end now, or None while it may go on."""
        if self.main_status is not None:
            return "returned" if self.main_status == 0 else "exited"
        if self.interrupted:
            return "interrupted"
        if now >= limit:
            return "timeout"
        if self.over_memory(now):
            return "oom"
        if self.over_disk(now):
            return "disk"
        return None

    def over_disk(self, now: float) -> bool:
        """Whether the run's output, HOME and cwd passed the disk limit (a look a second)."""
        if now < self._next_disk:
            return False
        self._next_disk = now + DISK_SCAN_SECONDS
        limit = self.spec.get("disk_limit")
        used = disk.used_bytes(self.spec.get("disk_paths", []), limit)
        self.peak_disk = max(self.peak_disk, used)
        return limit is not None and used > limit

    def _start_child(self, start: float) -> list[int]:
        """Start the child (inside bwrap when asked) in its cgroups and own session; the
        pipes to read from it."""
        spec = self.spec
        status_r, status_w = os.pipe()
        self.out_r, out_w = os.pipe()
        child_spec = json.dumps(dict(spec["child"], status_fd=status_w))
        argv = list(spec["argv"]) + [child_spec]
        keep = [status_w]
        seccomp_fd = None
        if spec.get("seccomp_path"):
            seccomp_fd = os.open(spec["seccomp_path"], os.O_RDONLY)
            keep.append(seccomp_fd)
            argv = [str(seccomp_fd) if a == SECCOMP_FD_PLACEHOLDER else a for a in argv]
        env = dict(spec["env"])
        env[DEADLINE_VARIABLE] = f"{start + float(spec['time_limit']):.3f}"
        joined = self.groups.join if self.groups.directories else None

        def prepare() -> None:  # in the new process, before bwrap: its own dirs 0755
            os.umask(0o022)
            if joined is not None:
                joined()

        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=spec["cwd"],
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=out_w,
            pass_fds=tuple(keep),
            start_new_session=True,
            preexec_fn=prepare,  # noqa: PLW1509 - single-threaded supervisor
        )
        os.close(status_w)
        os.close(out_w)
        if seccomp_fd is not None:
            os.close(seccomp_fd)
        return [self.out_r, status_r]

    def run(self) -> dict:
        """Supervise the run from start to the last reaped process; its accounting."""
        spec = self.spec
        linux.set_child_subreaper()
        self.groups = (
            RunCgroups.create(spec["cgroup_name"], spec.get("memory_limit"), spec.get("pids_max"))
            if spec.get("use_cgroups", True)
            else RunCgroups(notes=["cgroups not asked for"])
        )
        self.processes = RunProcesses(self.groups, spec["run_id"], self.reap)
        self.gpu = GpuMonitor(spec.get("gpus") or [])
        self.log = CappedLog(spec["log_path"], spec["log_max_bytes"])
        start, clock = time.time(), time.monotonic()  # the budget runs on the monotonic clock
        self.clock = clock
        limit = float(spec["time_limit"])
        fds = self._start_child(start)
        in_cgroup = self.proc.pid in self.groups.pids()
        ended_by, phase, phase_until = None, "running", 0.0
        give_up = None
        survivors: set[int] = set()
        ended_at = None
        while True:
            self.drain(fds, POLL_SECONDS)
            self.reap()
            now = time.monotonic() - clock  # seconds since the start
            if phase == "running":
                ended_by = self._ended_by(now, limit)
                if ended_by is None:
                    continue
                pids = self.processes.find(scan_marks=True)
                if pids or not self.processes.empty():
                    self.processes.terminate(pids)
                    phase, phase_until = "terminating", now + self.grace
                else:
                    phase = "done"
            if phase == "terminating":
                if now >= self._next_rss:  # deaf to SIGTERM, still spending CPU
                    self._next_rss = now + SCAN_SECONDS
                    self.cpu.sample(self.processes.find())
                if self.processes.empty():
                    phase = "done"
                elif now >= phase_until:
                    phase, give_up = "killing", now + KILL_GIVE_UP_SECONDS
            if phase == "killing":
                self.cpu.sample(self.processes.find(scan_marks=True))  # their last reading
                survivors = self.processes.kill_everything(clock + give_up)
                phase = "done"
            if phase == "done":
                if ended_at is None:
                    ended_at = time.monotonic() - clock
                waiting = now < ended_at + EXIT_STATUS_WAIT_SECONDS
                if self.main_status is None and not survivors and waiting:
                    continue  # the main child is dead: its exit status is on its way
                break
        drain_until = time.time() + (0.0 if survivors else 2.0)
        while fds and time.time() <= drain_until:
            self.drain(fds, 0.1)
        survivors = self.processes.end_stragglers()
        self.log.close()
        return self.result(start, limit, ended_at, ended_by, in_cgroup, survivors)

    def result(self, start, limit, ended_at, ended_by, in_cgroup, survivors) -> dict:
        """The supervision's record for the runner; ``ended_at`` and ``limit`` are seconds
        since the start (monotonic clock)."""
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = cpu_record(self.groups.cpu_seconds() if in_cgroup else None, self.cpu, usage)
        wall = ended_at
        peak_cgroup = self.groups.peak_memory_bytes()
        oom_kills = self.groups.oom_kills()
        groups = self.groups.describe()  # the limits read back before the groups go
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
            "cpu_seconds": cpu["seconds"],
            "cpu_user_seconds": cpu["user_seconds"],
            "cpu_system_seconds": cpu["system_seconds"],
            "cpu": cpu,
            "memory": {
                "limit_bytes": self.memory_limit,
                "enforced_by": (
                    "kernel cgroup limit"
                    if self.groups.has_memory
                    else (POLLED_MEMORY if self.memory_limit else None)
                ),
                "peak_cgroup_bytes": peak_cgroup,
                "peak_rss_sum_bytes": self.peak_rss,
                "peak_held_bytes": None if self.groups.has_memory else self.peak_held,
                "peak_private_tmpfs_bytes": self.peak_tmpfs,
                "max_rss_one_process_bytes": usage.ru_maxrss * 1024,
                "oom_kills": oom_kills,
                "gpu_limit_bytes": self.spec.get("gpu_memory_limit"),
                "gpu_limit_enforced": bool(self.spec.get("gpu_memory_limit") and self.gpu.active),
                "gpu_over_limit": self.gpu_over_limit,
            },
            "disk": {
                "limit_bytes": self.spec.get("disk_limit"),
                "peak_bytes": self.peak_disk,
                "enforced_by": (
                    "polled every second: the output, HOME and cwd; RLIMIT_FSIZE per file"
                    if self.spec.get("disk_limit")
                    else None
                ),
            },
            "gpu": self.gpu.result(wall),
            "processes_signalled": {
                name: len(pids) for name, pids in self.processes.signalled.items()
            },
            "kill_methods": sorted(self.processes.kill_methods),
            "survivors": sorted(survivors),
            "child_in_cgroup": in_cgroup,
            "judge_namespaces": judge_namespaces(),
            "cgroups": dict(groups, left_behind=left),
            "events": self.events,
            "log_bytes": self.log.total_bytes,
            "log_truncated": self.log.truncated,
        }


def failed_result(spec: dict, why: str, started: float) -> dict:
    """The record of a run whose supervisor itself failed: the same fields as
    :meth:`Supervisor.result`, every measure that nobody took ``None`` (unknown), never 0."""
    wall = time.time() - started
    unknown_cpu = dict.fromkeys(
        ("seconds", "user_seconds", "system_seconds", "cgroup_seconds", "reaped_seconds"), None
    )
    return {
        "ended_by": "judge-error",
        "judge_error": why,
        "exit_code": None,
        "start": started,
        "deadline": started + float(spec["time_limit"]),
        "ended_at": started + wall,
        "returned_after_seconds": None,
        "wall_seconds": wall,
        "seconds_after_deadline": None,
        "cpu_seconds": None,
        "cpu_user_seconds": None,
        "cpu_system_seconds": None,
        "cpu": {
            **unknown_cpu,
            "measured_by": None,
            "sampled_seconds": None,
            "processes_sampled": 0,
        },  # fmt: skip
        "memory": {
            "limit_bytes": spec.get("memory_limit"),
            "enforced_by": None,
            "peak_cgroup_bytes": None,
            "peak_rss_sum_bytes": None,
            "peak_held_bytes": None,
            "peak_private_tmpfs_bytes": None,
            "max_rss_one_process_bytes": None,
            "oom_kills": None,
            "gpu_limit_bytes": spec.get("gpu_memory_limit"),
            "gpu_limit_enforced": False,
            "gpu_over_limit": False,
        },
        "disk": {"limit_bytes": spec.get("disk_limit"), "peak_bytes": None, "enforced_by": None},
        "gpu": None,
        "processes_signalled": {},
        "kill_methods": [],
        "survivors": [],
        "child_in_cgroup": False,
        "judge_namespaces": judge_namespaces(),
        "cgroups": {
            "v2": None,
            "v1": {},
            "kill_all": False,
            "memory": False,
            "limits": {"memory": None, "pids": None},
            "notes": [why],
            "left_behind": [],
        },  # fmt: skip
        "events": [],
        "log_bytes": 0,
        "log_truncated": False,
    }


def _mount_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def main(argv: list[str]) -> None:
    """Supervise the run described by the spec file ``argv[1]``; write its result file."""
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
        emergency_stop(supervisor.groups or RunCgroups(), spec["run_id"])  # leave nothing
        raise
    target = Path(spec["result_path"])
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, target)


if __name__ == "__main__":
    main(sys.argv)

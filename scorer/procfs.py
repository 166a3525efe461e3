"""Reading the kernel's counters in ``/proc``: memory use, and the table of processes.

Two kinds of readers: this process's resident set and the machine's total memory (which
describe a run or size its batches), and the process table the sandbox's supervisor walks
to find, measure and end every process of a submission. Linux only; where a counter is
missing or a process has vanished the callers get a fallback (None, an empty set, a
skipped entry), never an error. Standard library only: the supervisor imports it.
"""

from __future__ import annotations

import contextlib
import os
import resource
from pathlib import Path
from typing import NamedTuple

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
GONE_STATES = ("Z", "X")  # zombie, dead: no longer running, only not yet reaped

ProcessTable = dict[int, tuple[int, str]]  # pid -> (parent pid, state letter)


# ---------------------------------------------------------------- this process, the machine


def kib_field(path: str, name: str) -> int | None:
    """A ``name: <n> kB`` line of a ``/proc`` file, in KiB; None where there is none."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark (Linux ≥ 4.0); False if impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_bytes() -> int | None:
    """The resident set now; None where the kernel does not say."""
    kib = kib_field("/proc/self/status", "VmRSS")
    return None if kib is None else kib * 1024


def peak_rss_bytes() -> int:
    """The resident-set high-water mark (since the last reset, where resets work)."""
    kib = kib_field("/proc/self/status", "VmHWM")
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib * 1024


def total_memory_bytes() -> int | None:
    """The machine's memory (``MemTotal``); None where the kernel does not say."""
    kib = kib_field("/proc/meminfo", "MemTotal")
    return None if kib is None else kib * 1024


# ---------------------------------------------------------------- the process table


def parse_stat(data: bytes) -> tuple[int, str]:
    """(parent pid, state letter) from a ``/proc/PID/stat`` line; the command name may hold
    spaces and parentheses, so the fields are read after its last ``)``."""
    fields = data[data.rfind(b")") + 2 :].split()
    return int(fields[1]), fields[0].decode()


def process_entry(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter) of one process; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return parse_stat(handle.read())
    except (OSError, IndexError, ValueError):
        return None


def process_table() -> ProcessTable:
    """pid -> (parent pid, state letter) of every process visible here: one full scan."""
    table = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            found = process_entry(int(entry.name))
            if found is not None:
                table[int(entry.name)] = found
    return table


def descendants(root: int, table: ProcessTable) -> set[int]:
    """Every process below ``root`` in ``table`` (children, their children, ...)."""
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


def processes_with_environment(entry: str) -> set[int]:
    """Processes (other than this one) whose environment holds ``entry`` (``NAME=value``):
    the last resort for finding processes that left every tree and group."""
    needle, me = entry.encode(), os.getpid()
    found = set()
    for proc in os.scandir("/proc"):
        if not proc.name.isdigit() or int(proc.name) == me:
            continue
        with contextlib.suppress(OSError), open(f"/proc/{proc.name}/environ", "rb") as handle:
            if needle in handle.read().split(b"\0"):
                found.add(int(proc.name))
    return found


def total_rss_bytes(pids: set[int]) -> int:
    """The summed resident sets of ``pids`` (vanished ones count 0): a run's memory where
    no cgroup measures it."""
    total = 0
    for pid in pids:
        with (
            contextlib.suppress(OSError, ValueError, IndexError),
            open(f"/proc/{pid}/statm", "rb") as handle,
        ):
            total += int(handle.read().split()[1]) * PAGE_BYTES
    return total


def alive(pids: set[int], table: ProcessTable) -> set[int]:
    """The ``pids`` that ``table`` shows running (zombies are exited, only unreaped)."""
    return {p for p in pids if p in table and table[p][1] not in GONE_STATES}


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs now (one small read: cheap enough for a tight kill loop)."""
    entry = process_entry(pid)
    return entry is not None and entry[1] not in GONE_STATES


def processes_of_uid(uid: int) -> set[int]:
    """Live processes whose real or effective uid is ``uid``: a run's identity owns none
    once the run is over."""
    found = set()
    for proc in os.scandir("/proc"):
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{proc.name}/status", "rb") as handle:
                status = handle.read()
            fields = {}
            for line in status.splitlines():
                name, _, value = line.partition(b":")
                fields[name] = value.split()
            if uid in (int(fields[b"Uid"][0]), int(fields[b"Uid"][1])) and fields[b"State"][
                0
            ] not in (b"Z", b"X"):
                found.add(int(proc.name))
    return found


def tmpfs_used_bytes(pid: int, paths: tuple[str, ...]) -> int:
    """Bytes used in the file systems at ``paths`` as process ``pid`` sees them (its own
    mount namespace, through ``/proc/PID/root``): a run's private tmpfs, whose pages no
    resident set counts. A vanished process counts 0."""
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            st = os.statvfs(f"/proc/{pid}/root{path}")
            total += (st.f_blocks - st.f_bfree) * st.f_frsize
    return total


def executable_name(pid: int) -> str | None:
    """The file name of the program ``pid`` runs (``/proc/PID/exe``), None when unreadable:
    the supervisor tells bubblewrap's own processes from the submission's by it (a name
    the process cannot change, unlike its ``comm``)."""
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> tuple[int, float, float] | None:
    """(start time in ticks, user seconds, system seconds) of one process, all its threads
    together (``/proc/PID/stat``); None when it is gone. The start time tells a reused pid
    from the process that held it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
        fields = data[data.rfind(b")") + 2 :].split()
        user, system, start = int(fields[11]), int(fields[12]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None
    return start, user / CLOCK_TICKS, system / CLOCK_TICKS


class Mount(NamedTuple):
    """One line of ``/proc/PID/mountinfo``: where, what, and with which options."""

    root: str  # the mounted directory of its file system
    point: str  # where it is mounted (escapes undone)
    options: frozenset[str]  # the mount's and the super block's options together
    fstype: str


def _unescape(path: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        path = path.replace(code, char)
    return path


def mounts(path: str = "/proc/self/mountinfo") -> list[Mount]:
    """The mounts of a mount namespace, in order; raises ``OSError`` when unreadable."""
    found = []
    with open(path) as handle:
        for line in handle:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if len(fields) < 6 or len(rfields) < 3:
                continue
            options = frozenset(fields[5].split(",")) | frozenset(rfields[2].split(","))
            found.append(Mount(fields[3], _unescape(fields[4]), options, rfields[0]))
    return found

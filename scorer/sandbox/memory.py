"""A run's memory as its processes really hold it, where no memory cgroup counts it.

Resident sets miss memory kept in anonymous files: a ``memfd`` or a deleted ``/dev/shm``
file written with ``write()`` and never mapped is in no process's resident set, yet holds
RAM (issue 22: 768 MiB ran under a 0.3 GB limit). Here each process counts its
proportional set without shared memory (``Pss_Anon + Pss_File`` of ``smaps_rollup``:
pages shared between the run's processes counted once in all), and every shared-memory
object reachable from the run (through a descriptor or a mapping: memfd, POSIX and SysV
shared memory, shared anonymous mappings, deleted tmpfs files) counts once at its
allocated size. Where a mapping cannot be looked into (``map_files`` needs privileges),
that process's ``Pss_Shmem`` stands in. Standard library only (the supervisor's side).
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass

SHMEM_PREFIXES = ("/memfd:", "/dev/shm/", "/SYSV", "/dev/zero")


@dataclass(frozen=True)
class HeldMemory:
    """What the run's processes hold: their own pages, and the shared objects they reach."""

    process_bytes: int  # Pss without shared memory, summed
    shared_bytes: int  # every shared-memory object once, at its allocated size
    shared_objects: int

    @property
    def total(self) -> int:
        return self.process_bytes + self.shared_bytes


def _rollup(pid: int) -> dict[str, int]:
    """``smaps_rollup``'s fields in bytes (empty when the process is gone)."""
    found = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB":
                found[name] = int(parts[0]) * 1024
    return found


def is_shared_memory(target: str, counted_apart: tuple[str, ...] = ()) -> bool:
    """Whether a descriptor's or mapping's target is a shared-memory object (RAM, not
    disk): memfd, POSIX or SysV shared memory, a shared anonymous mapping; files under
    ``counted_apart`` (the run's private tmpfs, measured as a whole) are not."""
    if counted_apart and target.startswith(tuple(p.rstrip("/") + "/" for p in counted_apart)):
        return False
    return target.startswith(SHMEM_PREFIXES)


def _objects(directory: str, seen: dict, counted_apart: tuple[str, ...]) -> bool:
    """Add the shared-memory objects linked from ``directory`` (``fd`` or ``map_files``)
    to ``seen``; False when the directory cannot be read."""
    try:
        names = os.listdir(directory)
    except OSError:
        return False
    for name in names:
        path = f"{directory}/{name}"
        try:
            if not is_shared_memory(os.readlink(path), counted_apart):
                continue
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            seen[(st.st_dev, st.st_ino)] = st.st_blocks * 512
    return True


def held_memory(pids: set[int], counted_apart: tuple[str, ...] = ()) -> HeldMemory:
    """The memory ``pids`` hold, shared objects counted once (see the module); objects in
    ``counted_apart`` (the private tmpfs mounts, measured by their own use) left out."""
    seen: dict[tuple[int, int], int] = {}
    own = 0
    for pid in pids:
        rollup = _rollup(pid)
        if not rollup:
            continue
        if "Pss_Anon" in rollup:
            own += rollup.get("Pss_Anon", 0) + rollup.get("Pss_File", 0)
        else:  # an older kernel: no split, shared memory stays in Pss
            own += rollup.get("Pss", 0)
            continue
        _objects(f"/proc/{pid}/fd", seen, counted_apart)
        if not _objects(f"/proc/{pid}/map_files", seen, counted_apart):
            own += rollup.get("Pss_Shmem", 0)  # mappings out of reach: their share here
    return HeldMemory(own, sum(seen.values()), len(seen))

"""The kernel's memory counters: the process's resident set and the machine's total memory.

Read from ``/proc`` (Linux); where a counter is missing the callers get a fallback, never
an error, because these numbers only describe a run or size its batches.
"""

from __future__ import annotations

import resource
from pathlib import Path


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

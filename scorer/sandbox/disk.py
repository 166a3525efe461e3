"""What a run writes to disk: its output, HOME and working directory, measured as it goes.

The three are directories of the host's disk bound into the view (the private tmpfs is
memory, sized to the memory limit). The supervisor sums their allocated blocks every
second and ends the run past ``--disk-limit``; the child's ``RLIMIT_FSIZE`` stops any one
file from growing past it between two looks. A walk never follows a link and stops
counting after ``MAX_ENTRIES`` entries (a flood of empty files is a flood of inodes: it
counts as over the limit). Standard library only (the supervisor's side).
"""

from __future__ import annotations

import os
import stat

MAX_ENTRIES = 200_000
ENTRY_BYTES = 4096  # what one directory entry costs at least (an inode, a block)


def used_bytes(roots: list[str], limit: int | None = None) -> int:
    """Bytes allocated under ``roots`` (each file's blocks, each entry at least
    ``ENTRY_BYTES``); stops early once past ``limit``, or past ``MAX_ENTRIES`` entries
    (then the limit, or the count so far, is passed)."""
    total, entries = 0, 0
    stack = [r for r in roots if os.path.isdir(r)]
    while stack:
        directory = stack.pop()
        try:
            listing = os.scandir(directory)
        except OSError:
            continue
        with listing:
            for entry in listing:
                entries += 1
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += max(st.st_blocks * 512, ENTRY_BYTES)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
                if entries > MAX_ENTRIES or (limit is not None and total > limit):
                    return max(total, (limit or 0) + 1)
    return total

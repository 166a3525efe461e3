"""Opening files of an untrusted checkpoint: regular files only, never through a symlink."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def open_regular(path: Path) -> int:
    """A file descriptor on ``path`` only if it is a regular file reached without a symlink.

    The directory was listed before: ``O_NOFOLLOW`` refuses a symlink swapped in since, and
    ``O_NONBLOCK`` keeps a FIFO swapped in from blocking the judge. The caller closes it.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path.name} is not a regular file")
    return fd


def read_bounded(path: Path, limit: int) -> bytes:
    """The whole of ``path``, never reading more than ``limit`` + 1 bytes (OSError if larger).

    The size seen when the directory was listed is the limit, so a file grown since cannot
    make the validator read without bound.
    """
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path.name} is larger than {limit} bytes")
    return data

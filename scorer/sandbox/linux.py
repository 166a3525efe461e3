"""Thin ctypes wrappers for the process settings the supervisor needs and Python lacks.

prctl: child subreaper, parent-death signal, no-new-privileges. Namespaces and mounts are
bubblewrap's (``scorer.sandbox.bwrap``). Each raises ``OSError`` with the errno on
failure, so callers can record *why* a step was not obtained.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def prctl(option: int, arg: int = 0) -> None:
    """``prctl(option, arg)``: the process settings Python has no call for."""
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl({option})")


def set_child_subreaper() -> None:
    """Orphaned descendants re-parent to this process, so it can find and reap them all."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_parent_death_signal(signum: int) -> None:
    """Receive ``signum`` when the parent dies: a dead runner ends its supervisor's run."""
    prctl(PR_SET_PDEATHSIG, signum)


def set_no_new_privs() -> None:
    """setuid binaries (su, sudo) can no longer give privileges back (``--isolation none``,
    where bwrap does not set it)."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)

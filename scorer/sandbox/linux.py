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
PR_GET_PDEATHSIG = 2
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24

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


def parent_death_signal() -> int:
    """The signal this process gets when its parent dies (0: none)."""
    signum = ctypes.c_int(0)
    _check(_libc.prctl(PR_GET_PDEATHSIG, ctypes.addressof(signum), 0, 0, 0), "prctl(GET)")
    return signum.value


def set_no_new_privs() -> None:
    """setuid binaries (su, sudo) can no longer give privileges back (``--isolation none``,
    where bwrap does not set it)."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def clear_inheritable_capabilities() -> None:
    """Empty the inheritable set (bwrap leaves the capabilities it kept there): nothing the
    submission executes can inherit one, whatever file capabilities it finds."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    for part in data:
        part.inheritable = 0
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def drop_bounding_set() -> None:
    """Empty the capability bounding set (needs CAP_SETPCAP): no later execve can gain a
    capability, whatever no_new_privs and file capabilities would allow."""
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        last = int(handle.read())
    for capability in range(last + 1):
        prctl(PR_CAPBSET_DROP, capability)

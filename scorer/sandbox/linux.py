"""Thin ctypes wrappers for the Linux calls the runner needs and Python does not expose.

prctl (child subreaper, parent-death signal, no-new-privileges), unshare, mount and the
loopback interface. Each raises ``OSError`` with the errno on failure, so callers can
record *why* an isolation step was not obtained instead of pretending it was.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import socket
import struct

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
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


def _bytes(value: str | os.PathLike[str] | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


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
    """setuid binaries (su, sudo) can no longer give privileges back after the drop."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def unshare(flags: int) -> None:
    """Enter new namespaces (``CLONE_*`` flags): the child's own mounts and network."""
    _check(_libc.unshare(flags), "unshare")


def mount(
    source: str | None, target: str | os.PathLike[str], fstype: str | None, flags: int, data=None
) -> None:
    """``mount(2)``: cover a directory with tmpfs, or show one again through a bind mount."""
    _check(
        _libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)),
        f"mount {target}",
    )


def umount(target: str | os.PathLike[str], flags: int = MNT_DETACH) -> None:
    """``umount2(2)``, lazily by default: undo a mount even while it is in use."""
    _check(_libc.umount2(_bytes(target), flags), f"umount {target}")


def loopback_up() -> None:
    """A new network namespace has only ``lo``, and it is down: bring it up so that
    multi-process training (NCCL / gloo rendezvous on 127.0.0.1) still works."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def write_id_maps(uid: int, gid: int) -> None:
    """In a fresh user namespace, map the caller's own ids onto themselves."""
    with open("/proc/self/setgroups", "w") as handle:
        handle.write("deny")
    with open("/proc/self/uid_map", "w") as handle:
        handle.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as handle:
        handle.write(f"{gid} {gid} 1")

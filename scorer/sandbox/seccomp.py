"""A seccomp filter for the submission, compiled by libseccomp (through ctypes) for bwrap.

bubblewrap installs a classic-BPF program given on a file descriptor (``--seccomp FD``)
just before it starts the child; libseccomp (Debian ``libseccomp2``) writes that program.
What it refuses follows the most trusted profiles (Docker's default, Flatpak's): no new
namespace by any path (``unshare``, ``setns``, ``clone`` with any ``CLONE_NEW*`` flag;
``clone3``, whose flags live in memory a filter cannot read, answers ``ENOSYS`` so that
libc falls back to ``clone``), no tracing or reading other processes' memory, no mounts,
no kernel keyrings, eBPF, perf events, ``io_uring`` (it runs calls the filter never sees),
``userfaultfd``, module or kexec loading. It holds whatever ``user.max_user_namespaces``
says. A name this libseccomp cannot resolve is an error, never a silent skip. Without
libseccomp the run goes on without a filter and ``run.json`` says so. Standard library only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform
import tempfile

DENIED = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_by_handle_at",
)
UNAVAILABLE = ("clone3",)  # answered ENOSYS: libc then uses clone, whose flags are checked
CLONE_NEW_FLAGS = {  # linux/sched.h: clone() refused when any is set (Docker's 0x7E020000)
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO_BASE = 0x00050000
SCMP_CMP_MASKED_EQ = 7
NR_SCMP_ERROR = -1  # libseccomp's answer for a name it does not know at all


class SeccompError(RuntimeError):
    """The filter cannot be built as written (a name libseccomp does not know)."""


class ArgumentComparison(ctypes.Structure):
    """libseccomp's ``struct scmp_arg_cmp``."""

    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(ArgumentComparison),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def clone_flags_argument() -> int:
    """Which argument of ``clone`` holds its flags (the second on s390, else the first)."""
    return 1 if platform.machine().startswith("s390") else 0


def resolve(lib: ctypes.CDLL, name: str) -> int:
    """The call's number for this architecture (libseccomp's negative pseudo-number for a
    call this architecture lacks: a rule on it is a no-op); a name libseccomp does not
    know raises ``SeccompError``: a typo must not leave a call allowed."""
    number = lib.seccomp_syscall_resolve_name(name.encode())
    if number == NR_SCMP_ERROR:
        raise SeccompError(f"seccomp: libseccomp does not know the system call {name!r}")
    return number


def _add(lib, context, action: int, name: str, comparisons: list[ArgumentComparison]) -> None:
    array = (ArgumentComparison * max(1, len(comparisons)))(*comparisons)
    number = resolve(lib, name)
    if lib.seccomp_rule_add_array(context, action, number, len(comparisons), array) != 0:
        raise SeccompError(f"seccomp: seccomp_rule_add({name}) failed")


def compile_filter(
    denied: tuple[str, ...] = DENIED, denied_errno: int = errno.EPERM
) -> tuple[bytes | None, str]:
    """The BPF program refusing ``denied`` and ``clone`` with a namespace flag (with
    ``denied_errno``; tests pick a rare one to tell the filter from a missing privilege)
    and answering ``clone3`` with ENOSYS; or None and why libseccomp cannot be had.
    Raises ``SeccompError`` when a rule cannot be written."""
    lib = _library()
    if lib is None:
        return None, "libseccomp is not installed (Debian package libseccomp2)"
    context = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not context:
        return None, "seccomp_init failed"
    refuse = SCMP_ACT_ERRNO_BASE | denied_errno
    try:
        for name in denied:
            _add(lib, context, refuse, name, [])
        for name in UNAVAILABLE:
            _add(lib, context, SCMP_ACT_ERRNO_BASE | errno.ENOSYS, name, [])
        argument = clone_flags_argument()
        for flag in CLONE_NEW_FLAGS.values():
            rule = ArgumentComparison(argument, SCMP_CMP_MASKED_EQ, flag, flag)
            _add(lib, context, refuse, "clone", [rule])
        with tempfile.TemporaryFile() as handle:
            if lib.seccomp_export_bpf(context, handle.fileno()) != 0:
                return None, "seccomp_export_bpf failed"
            handle.seek(0)
            how = (
                f"libseccomp: {len(denied)} calls and clone with a namespace flag refused "
                f"({errno.errorcode.get(denied_errno, denied_errno)}), clone3 ENOSYS"
            )
            return handle.read(), how
    finally:
        lib.seccomp_release(context)


def filter_fd(program: bytes) -> int:
    """A readable, inheritable descriptor holding ``program`` (what bwrap reads)."""
    fd = os.memfd_create("lume-seccomp", 0)
    os.write(fd, program)
    os.lseek(fd, 0, os.SEEK_SET)
    os.set_inheritable(fd, True)
    return fd

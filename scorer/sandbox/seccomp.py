"""A seccomp filter for the submission, compiled by libseccomp (through ctypes) for bwrap.

bubblewrap installs a classic-BPF program given on a file descriptor (``--seccomp FD``)
just before it starts the child; libseccomp (Debian ``libseccomp2``) writes that program.
Denied calls fail with ``EPERM``: tracing or reading other processes' memory, mounting,
new namespaces, kernel keyrings, eBPF, perf events, module and kexec loading. Without
libseccomp the run goes on without a filter and ``run.json`` says so. Standard library only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
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
    "fsmount",
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
)
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO_BASE = 0x00050000


def _library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def compile_filter(denied: tuple[str, ...] = DENIED) -> tuple[bytes | None, str]:
    """The BPF program denying ``denied`` (EPERM), or None and why it cannot be had."""
    lib = _library()
    if lib is None:
        return None, "libseccomp is not installed (Debian package libseccomp2)"
    context = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not context:
        return None, "seccomp_init failed"
    try:
        for name in denied:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:
                continue  # not a call of this architecture
            action = SCMP_ACT_ERRNO_BASE | errno.EPERM
            if lib.seccomp_rule_add(context, action, number, 0) != 0:
                return None, f"seccomp_rule_add({name}) failed"
        with tempfile.TemporaryFile() as handle:
            if lib.seccomp_export_bpf(context, handle.fileno()) != 0:
                return None, "seccomp_export_bpf failed"
            handle.seek(0)
            return handle.read(), f"libseccomp: {len(denied)} calls denied (EPERM)"
    finally:
        lib.seccomp_release(context)


def filter_fd(program: bytes) -> int:
    """A readable, inheritable descriptor holding ``program`` (what bwrap reads)."""
    fd = os.memfd_create("lume-seccomp", 0)
    os.write(fd, program)
    os.lseek(fd, 0, os.SEEK_SET)
    os.set_inheritable(fd, True)
    return fd

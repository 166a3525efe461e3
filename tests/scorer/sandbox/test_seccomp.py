"""The seccomp filter, checked in a real kernel: each call it must refuse is made by a
process that installed it, and refused with the filter's own errno; what it must let
through still works. The list of calls here is the test's own, not the filter's."""

from __future__ import annotations

import errno
import json
import subprocess
import sys

import needs
import pytest

from scorer.sandbox.seccomp import CLONE_NEW_FLAGS, SeccompError, compile_filter

MARK = errno.ENOTRECOVERABLE  # no call below returns it of its own: only the filter can
MUST_REFUSE = (
    "unshare", "setns", "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd",
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "init_module",
    "finit_module", "delete_module", "kexec_load", "kexec_file_load", "ptrace",
    "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "open_tree",
    "move_mount", "fsopen", "fsmount", "open_by_handle_at",
)  # fmt: skip

PROBE = r"""
import ctypes, ctypes.util, json, os, signal, sys
from scorer.sandbox.seccomp import _library, compile_filter, resolve
program, how = compile_filter(denied_errno=int(sys.argv[1]))
lib = _library()
numbers = {name: resolve(lib, name) for name in json.loads(sys.argv[2]) + ["clone", "clone3"]}
if os.geteuid() == 0:  # a filter that failed must not leave the calls below any privilege
    os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.syscall.restype = ctypes.c_long
assert libc.prctl(38, 1, 0, 0, 0) == 0  # no_new_privs: an unprivileged process may filter
class Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
fprog = Program(len(program) // 8, program)
assert libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0, ctypes.get_errno()  # SECCOMP_MODE_FILTER

def call(number, *args):
    result = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
    if result == 0 and number == numbers["clone"]:
        os._exit(0)  # the child of a clone the filter let through
    if result > 0 and number == numbers["clone"]:
        os.waitpid(result, 0)
    return 0 if result >= 0 else ctypes.get_errno()

answers = {name: call(numbers[name], 0, 0, 0, 0, 0) for name in json.loads(sys.argv[2])}
flags = json.loads(sys.argv[3])
answers |= {f"clone {name}": call(numbers["clone"], flag | signal.SIGCHLD, 0, 0, 0, 0)
            for name, flag in flags.items()}
answers["clone plain"] = call(numbers["clone"], signal.SIGCHLD, 0, 0, 0, 0)
answers["clone3"] = call(numbers["clone3"], 0, 0)
pid = os.fork()
if pid == 0:
    os._exit(7)
answers["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
print(json.dumps(answers))
"""


def _probe() -> dict[str, int]:
    program, how = compile_filter()
    needs.that(program is not None, how)
    argv = [sys.executable, "-c", PROBE, str(MARK), json.dumps(MUST_REFUSE)]
    argv.append(json.dumps(CLONE_NEW_FLAGS))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_every_dangerous_call_is_refused_by_the_filter_in_a_real_kernel():
    answers = _probe()
    refused = {name: answers[name] for name in MUST_REFUSE}
    assert refused == dict.fromkeys(MUST_REFUSE, MARK)
    for name in CLONE_NEW_FLAGS:  # a new namespace through clone: each flag alone
        assert answers[f"clone {name}"] == MARK, name
    assert answers["clone3"] == errno.ENOSYS  # libc then falls back to clone
    assert answers["clone plain"] == 0 and answers["fork"] == 7  # processes still start


def test_the_filter_is_refused_whole_when_a_name_is_unknown():
    with pytest.raises(SeccompError, match="does not know the system call 'unshar'"):
        compile_filter(("unshare", "unshar"))

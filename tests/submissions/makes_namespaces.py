"""Tries for new namespaces by every path (clone and clone3 with namespace flags, unshare,
setns), io_uring and userfaultfd: the first steps of kernel privilege escalations. Writes
each call's errno (0: it worked) to attempts.json and returns."""

import ctypes
import ctypes.util
import json
import os
import signal
from pathlib import Path

NUMBERS = {  # x86_64 (the test checks the machine)
    "clone": 56, "unshare": 272, "setns": 308, "clone3": 435, "io_uring_setup": 425,
    "userfaultfd": 323,
}  # fmt: skip
CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWNS = 0x10000000, 0x40000000, 0x00020000


def unlearn(model, output, forget, retain):
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def call(name, *args):
        result = libc.syscall(ctypes.c_long(NUMBERS[name]), *[ctypes.c_long(a) for a in args])
        if result == 0 and name == "clone":
            os._exit(0)  # a child in a new namespace: it must never get here
        if result > 0 and name == "clone":
            os.waitpid(result, 0)
        return 0 if result >= 0 else ctypes.get_errno()

    attempts = {
        "clone user+net": call("clone", CLONE_NEWUSER | CLONE_NEWNET | signal.SIGCHLD, 0, 0, 0, 0),
        "clone mount": call("clone", CLONE_NEWNS | signal.SIGCHLD, 0, 0, 0, 0),
        "clone3": call("clone3", 0, 0),
        "unshare user": call("unshare", CLONE_NEWUSER),
        "setns": call("setns", 0, 0),
        "io_uring_setup": call("io_uring_setup", 8, 0),
        "userfaultfd": call("userfaultfd", 0),
        "fork": os.waitstatus_to_exitcode(os.waitpid(os.fork() or os._exit(3), 0)[1]),
    }
    (Path(output) / "attempts.json").write_text(json.dumps(attempts))

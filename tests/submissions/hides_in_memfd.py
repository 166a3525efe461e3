"""Holds 768 MiB in an anonymous file (memfd) written with write() and never mapped: in no
resident set, yet RAM. Without a memory cgroup the judge must still see it."""

import os
import time


def unlearn(model, output, forget, retain):
    fd = os.memfd_create("hidden")
    chunk = b"x" * (1 << 20)
    for _ in range(768):
        os.write(fd, chunk)
    time.sleep(60)

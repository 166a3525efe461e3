"""Finds the judge's status pipe among its descriptors and writes on it what could crash a
supervisor: deeply nested JSON, an over-long line, bad UTF-8, a fake "returned", and a
line that never ends; then saves the model."""

import os
import shutil
import stat
from pathlib import Path


def unlearn(model, output, forget, retain):
    lines = [
        b"[" * 200_000 + b"]" * 200_000 + b"\n",
        b'{"event": "error", "error": ' + b"[" * 5000 + b"]" * 5000 + b"}\n",
        b'{"event": "returned", "x": "' + b"y" * 300_000 + b'"}\n',
        b"\xff\xfe\xfd\n",
        b'{"event": {"nested": "not a string"}}\n',
    ]
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode) and fd > 2:
                for line in lines:
                    os.write(fd, line)
                os.write(fd, b"z" * 500_000)  # never ends
        except OSError:
            pass
    for item in Path(model).iterdir():
        shutil.copyfile(item, Path(output) / item.name)

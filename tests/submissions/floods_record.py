"""Tries to make run.json huge: 40,000 hidden files in its output (each a removed
leftover), and a hundred status events of 60 KB each written on the judge's status pipe
(its descriptor read from the child's own spec); then saves the model."""

import json
import os
import shutil
import sys
from pathlib import Path


def unlearn(model, output, forget, retain):
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    for n in range(40_000):
        (out / f".leftover-{n:05d}").touch()
    fd = json.loads(sys.argv[1])["status_fd"]
    for n in range(100):
        os.write(fd, b"\n" + json.dumps({"event": "noise", "n": n, "x": "y" * 60_000}).encode())
    os.write(fd, b"\n")
    for item in Path(model).iterdir():
        shutil.copyfile(item, out / item.name)

"""Writes junk files of 8 MiB each into HOME until the disk says no (or TARGET_MB are
written), then sleeps: over the run's disk limit, or a full disk for the judge to survive."""

import os
import time
from pathlib import Path

TARGET_MB = 1024  # replaced by a test
SAVE_FIRST = False  # replaced by a test: leave a valid checkpoint before filling the disk
LINGER = 5  # replaced by a test: seconds to stay after writing (for the judge to look)


def unlearn(model, output, forget, retain):
    if SAVE_FIRST:
        for item in Path(model).iterdir():
            (Path(output) / item.name).write_bytes(item.read_bytes())
    chunk = b"x" * (8 << 20)
    home = Path(os.environ["HOME"])
    for n in range(TARGET_MB // 8):
        try:
            (home / f"junk-{n:04d}").write_bytes(chunk)
        except OSError as err:
            print(f"stopped writing: {err}", flush=True)
            break
        time.sleep(0.02)
    time.sleep(LINGER)

"""Writes a complete checkpoint (a copy of the model), then starts a second save the way
the kit's atomic saves do (a hidden staging directory inside the output) that never
finishes, and sleeps past the limit. The first checkpoint must be found, validated and
scored (the official rule); the unfinished save is removed before validation.

Evidence that the kill landed mid-write goes to the log: a line just before the stuck
write, and, when the judge's SIGTERM arrives, how many bytes of the second save's weights
were on disk then. The process then dies of that SIGTERM, as if it had no handler.
"""

import os
import shutil
import signal
import time
from pathlib import Path


def unlearn(model, output, forget, retain):
    model, output = Path(model), Path(output)
    for item in model.iterdir():
        shutil.copyfile(item, output / item.name)
    print("first checkpoint saved", flush=True)
    staging = output / ".staging-second"
    staging.mkdir()
    weights = (model / "model.safetensors").read_bytes()
    partial = staging / "model.safetensors"

    def killed(signum, _frame):
        size = partial.stat().st_size
        message = f"second save in progress at SIGTERM: {size} of {len(weights)} bytes on disk\n"
        os.write(2, message.encode())
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)  # die of it, as without a handler

    signal.signal(signal.SIGTERM, killed)
    print(f"second save started: writing {len(weights) // 2} of {len(weights)} bytes", flush=True)
    with open(partial, "wb") as handle:
        handle.write(weights[: len(weights) // 2])  # half a file, then stuck
        handle.flush()
        while True:
            time.sleep(0.1)

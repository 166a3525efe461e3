"""Saves a valid checkpoint (the model itself), but keeps the weights open in a daemon that
writes NaNs into them once the judge could have validated them (the old runner loaded
those NaNs)."""

import os
import shutil
import time
from pathlib import Path


def unlearn(model, output, forget, retain):
    out = Path(output)
    for item in Path(model).iterdir():
        shutil.copyfile(item, out / item.name)
    handle = os.open(out / "model.safetensors", os.O_WRONLY)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(1.5)
            size = os.fstat(handle).st_size
            os.pwrite(handle, b"\xff" * 4096, size - 4096)  # NaNs in the last tensor
            os.fsync(handle)
            os._exit(0)
        os._exit(0)
    # returns at once: the grandchild still holds the handle

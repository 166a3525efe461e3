"""Leaves a valid checkpoint (a copy of the model), then runs past the time limit: status
timeout, and the checkpoint present at the limit is scored (the official rule)."""

import shutil
import time
from pathlib import Path


def unlearn(model, output, forget, retain):
    for item in Path(model).iterdir():
        shutil.copyfile(item, Path(output) / item.name)
    while True:
        time.sleep(0.1)

"""A victim: sleeps a few seconds (while a neighbour attacks), then copies the model."""

import shutil
import time
from pathlib import Path


def unlearn(model, output, forget, retain):
    time.sleep(2)
    for item in Path(model).iterdir():
        shutil.copyfile(item, Path(output) / item.name)

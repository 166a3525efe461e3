"""Writes a complete checkpoint (a copy of the model), then starts a second save the way
the kit's atomic saves do (a hidden staging directory inside the output) that never
finishes, and sleeps past the limit. The first checkpoint must be found, validated and
scored (the official rule); the unfinished save is removed before validation."""

import shutil
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
    with open(staging / "model.safetensors", "wb") as handle:
        handle.write(weights[: len(weights) // 2])  # half a file, then stuck
        handle.flush()
        while True:
            time.sleep(0.1)

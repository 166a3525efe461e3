"""Saves the model with config.json changed as the test says: a value of the wrong JSON
type (3.0 for 3, "yes" for true) or a setting that breaks scoring (return_dict false)."""

import json
import shutil
from pathlib import Path

CHANGES = {}  # replaced by the test


def unlearn(model, output, forget, retain):
    out = Path(output)
    for item in Path(model).iterdir():
        shutil.copyfile(item, out / item.name)
    config = json.loads((out / "config.json").read_text())
    config.update(CHANGES)
    (out / "config.json").write_text(json.dumps(config))

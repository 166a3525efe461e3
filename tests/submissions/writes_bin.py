"""Leaves a pickle (pytorch_model.bin) beside a copy of the model: status invalid."""

import pickle
import shutil
from pathlib import Path


def unlearn(model, output, forget, retain):
    for item in Path(model).iterdir():
        shutil.copyfile(item, Path(output) / item.name)
    (Path(output) / "pytorch_model.bin").write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))

"""Saves the model with its weights replaced by a safetensors header of 400,000 empty
tensors (26 MB): parsing it takes the validator ~8 CPU s and ~420 MB when the judge's
header and size caps are loosened; the validator's own process limits must then hold."""

import json
import shutil
import struct
from pathlib import Path

ENTRIES = 400_000


def unlearn(model, output, forget, retain):
    out = Path(output)
    for item in Path(model).iterdir():
        shutil.copyfile(item, out / item.name)
    entry = {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}
    raw = json.dumps({f"t{i}": entry for i in range(ENTRIES)}).encode()
    (out / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw)

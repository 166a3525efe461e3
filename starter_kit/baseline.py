"""``lume baseline``: lay out forget/retain as the organizers hand them over, then unlearn.

The official ``unlearn()`` receives a forget directory holding ``forget.parquet`` and a
retain directory holding ``retain.parquet``; this writes both from any LUME-format data
(one fold) into a temporary directory and calls the baseline file's own ``unlearn()``.
The methods are the rows of ``baselines.methods.METHODS``; importing this module does not
import torch (the method file is imported when it runs).
"""

from __future__ import annotations

import importlib
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from baselines.methods import METHODS
from baselines.presets import PRESET_ENV, PRESETS
from scorer.contract import DEADLINE_VARIABLE
from scorer.data.files import write_items_parquet
from scorer.data.lume import load_lume
from scorer.errors import LumeError

if TYPE_CHECKING:
    from baselines.train import RunReport


def run_baseline(
    name: str,
    model: Path,
    data: Path,
    out: Path,
    fold: str = "train",
    preset: str = "reference",
    deadline_seconds: float | None = None,
) -> RunReport:
    """Call ``baselines/<name>.py``'s own ``unlearn()``: exactly the submission file."""
    if name not in METHODS:
        raise LumeError(f"baseline {name!r}: expected one of {', '.join(METHODS)}")
    if preset not in PRESETS:
        raise LumeError(f"preset {preset!r}: expected one of {', '.join(PRESETS)}")
    submission = importlib.import_module(f"baselines.{name}")
    os.environ[PRESET_ENV] = preset
    if deadline_seconds is not None:
        os.environ[DEADLINE_VARIABLE] = str(time.time() + deadline_seconds)
    else:
        os.environ.pop(DEADLINE_VARIABLE, None)
    lume = load_lume(data, fold)
    with tempfile.TemporaryDirectory(prefix="lume-baseline-") as tmp:
        forget_dir, retain_dir = Path(tmp) / "forget", Path(tmp) / "retain"
        write_items_parquet(forget_dir / "forget.parquet", lume["forget"])
        write_items_parquet(retain_dir / "retain.parquet", lume["retain"])
        return submission.unlearn(model, out, forget_dir, retain_dir)

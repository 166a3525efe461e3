"""``lume baseline``: lay out forget/retain as the organizers hand them over, then unlearn.

The official ``unlearn()`` receives a forget directory holding ``forget.parquet`` and a
retain directory holding ``retain.parquet``; this writes both from any LUME-format data
(one fold) into a temporary directory and calls the baseline's training loop.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from baselines.method import PRESET_ENV, config_for
from baselines.train import METHODS, RunReport, run_unlearning
from scorer.data import load_lume, write_items_parquet
from scorer.errors import LumeError

METHOD_DEFAULTS = {
    "ga": {},
    "gd": {"alpha": 1.0},
    "kl": {"alpha": 1.0},
    "npo": {"beta": 0.1, "retain_term": True},
}


def run_baseline(
    name: str,
    model: Path,
    data: Path,
    out: Path,
    fold: str = "train",
    preset: str = "reference",
    deadline_seconds: float | None = None,
) -> RunReport:
    if name not in METHOD_DEFAULTS or name not in METHODS:
        raise LumeError(f"baseline {name!r}: expected one of {', '.join(METHOD_DEFAULTS)}")
    os.environ[PRESET_ENV] = preset
    config = config_for(name, **METHOD_DEFAULTS[name])
    if deadline_seconds is not None:
        config = replace(config, deadline=time.time() + deadline_seconds)
    lume = load_lume(data, fold)
    with tempfile.TemporaryDirectory(prefix="lume-baseline-") as tmp:
        forget_dir, retain_dir = Path(tmp) / "forget", Path(tmp) / "retain"
        write_items_parquet(forget_dir / "forget.parquet", lume["forget"])
        write_items_parquet(retain_dir / "retain.parquet", lume["retain"])
        return run_unlearning(config, model, out, forget_dir, retain_dir)

"""Helpers the scorer's tests share: a built track's paths, ``lume-score`` as a process, an
engine's work run in order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from starter_kit.mini.build import build_paths, read_build


def computed(work) -> list:
    """Every result of an engine's ``Work``, in input order (no cache, one process)."""
    out = {}
    for batch in work.batches:
        for index, result in zip(batch.indices, work.compute(batch)):
            out[index] = result
    return [out[i] for i in range(len(out))]


def track_paths(track: Path) -> dict[str, Path]:
    """The model, data, MIA and MMLU directories of a ``lume mini build`` directory."""
    return build_paths(track, read_build(track))


def evaluate_args(track: Path, out: Path, *extra: str) -> list[str]:
    """``lume-score evaluate`` arguments that score the track's target into ``out``."""
    p = track_paths(track)
    fold = read_build(track)["scored_fold"]  # unlearned and scored, as the track's protocol
    return [
        "evaluate",
        str(p["model_dir"]),
        "--split",
        fold,
        "--unlearned-fold",
        fold,
        "--data",
        str(p["data_dir"]),
        "--mia",
        str(p["mia_dir"]),
        "--mmlu",
        str(p["mmlu_dir"]),
        "--out",
        str(out),
        *extra,
    ]


def lume_score(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``lume-score ARGS`` in a fresh interpreter, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "scorer.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        **kwargs,
    )

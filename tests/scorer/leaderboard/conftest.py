"""Crafted results for the leaderboard tests: scores dicts, entries, files on disk.

No model is run: every number is chosen by hand, so each expected rank, interval and
probability can be checked by reading the test.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from scorer.leaderboard import Entry

DIGEST = "sha256:" + "ab" * 32


def scores(aggregate: float, mia: float | None, mmlu: float | None, threshold=None, boot=None):
    """A scores.json's headline numbers (the final score from the formula)."""
    final = None if mia is None or mmlu is None else (aggregate + mia + mmlu) / 3
    return {
        "final_score": final,
        "task_aggregate": aggregate,
        "mia_auc": None,
        "mia_score": mia,
        "mmlu": mmlu,
        "mmlu_threshold": threshold,
        "beyond_official": {"mia_attacks": None, "bootstrap": boot},
    }


def bootstrap(
    replicates: list[float] | None,
    interval=None,
    seed: int = 0,
    level: float = 0.95,
    resampled: str | None = DIGEST,
    count: int | None = None,
) -> dict:
    """A ``beyond_official.bootstrap`` block with the given final-score replicates."""
    return {
        "final_score": interval,
        "final_score_replicates": replicates,
        "replicates": count if count is not None else len(replicates or [0]),
        "seed": seed,
        "level": level,
        "resampled": resampled,
    }


def entry(name: str, final: float, mmlu: float = 0.5, threshold=None, boot=None, **run) -> Entry:
    """An entry whose task aggregate and MIA score are equal and chosen so that the final
    score is ``final``."""
    other = (3 * final - mmlu) / 2
    assert 0 <= other <= 1
    return Entry(name, name, "ok", scores(other, other, mmlu, threshold, boot), **run)


def write_scores(directory: Path, content: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "scores.json").write_text(json.dumps(content))
    return directory


def write_run(directory: Path, status: str, scored: bool, content=None, **fields) -> Path:
    """A run.json as ``lume-score run`` writes it (the fields the leaderboard reads)."""
    directory.mkdir(parents=True, exist_ok=True)
    run = {
        "submission": "sub.py",
        "status": status,
        "reason": fields.pop("reason", None),
        "scored": scored,
        "wall_seconds": fields.pop("wall_seconds", 61.0),
        "peak_memory_bytes": fields.pop("peak_memory_bytes", 2**30),
        "gpu": fields.pop("gpu", None),
        "scores": content,
        **fields,
    }
    (directory / "run.json").write_text(json.dumps(run))
    return directory


@pytest.fixture
def crafted() -> SimpleNamespace:
    """The helpers above, for tests in this directory."""
    return SimpleNamespace(
        scores=scores,
        bootstrap=bootstrap,
        entry=entry,
        write_scores=write_scores,
        write_run=write_run,
        digest=DIGEST,
    )

"""Result directories for the report's tests, written by the scorer's own summary code.

``scores.json`` comes from :func:`scorer.evaluation.summary.scores_record` over made-up
item results, MIA rows and MMLU answers, so it has exactly the shape ``lume-score
evaluate`` writes (and a final score consistent with its parts) without running a model.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from scorer.beyond.attacks import ATTACKS
from scorer.contract import SPLITS, TASKS
from scorer.evaluation.settings import EvalSettings
from scorer.evaluation.summary import beyond_official, scores_record
from scorer.official.metrics import roc_auc
from scorer.official.score import mia_score

SUBJECTS = ("world_history", "world_zoology", "abstract_algebra")


def _items(rng: random.Random, leak: float, generation: Callable[[str], str]) -> list[dict]:
    rows = []
    for split in SPLITS:
        for task in TASKS:
            for doc in range(3):
                for kind in ("sc", "qa"):
                    suffix = "sc1" if kind == "sc" else "qa0"
                    expected = f"the answer of {task} {split} {doc}"
                    hit = rng.random() < (leak if split == "forget" else 0.8)
                    score = rng.random() * 0.5 + 0.5 * hit if kind == "sc" else float(hit)
                    rows.append({
                        "id": f'"{task}-{split}-{doc}"{suffix}', "task": task, "split": split,
                        "kind": kind, "input": f"What is {task} {split} {doc}?",
                        "expected": expected,
                        "generation": generation(expected) if hit else "something else",
                        "score": score, "nll": rng.random(),
                    })  # fmt: skip
    return rows


def _mia_rows(rng: random.Random, gap: float) -> list[dict]:
    rows = []
    for k in range(24):
        member = k < 12
        nll = rng.gauss(2.0 - (gap if member else 0.0), 0.5)
        row = {"id": f'"doc-{k}"', "member": member, "nll": nll}
        row |= {key: -nll + rng.gauss(0, 0.3 * i) for i, key in enumerate(ATTACKS)}
        rows.append(row)
    return rows


def _mmlu(rng: random.Random) -> dict:
    correct = [rng.random() < 0.6 for _ in SUBJECTS for _ in range(4)]
    by_subject = {
        s: {"correct": sum(correct[4 * i : 4 * i + 4]), "questions": 4}
        for i, s in sorted(enumerate(SUBJECTS), key=lambda p: p[1])
    }
    return {"accuracy": sum(correct) / len(correct), "questions": len(correct),
            "subjects": len(SUBJECTS), "mean_shots": 5.0, "by_subject": by_subject,
            "correct": correct}  # fmt: skip


def write_result(
    out: Path,
    seed: int = 0,
    leak: float = 0.2,
    mia: bool = True,
    by_subject: bool = True,
    generation: Callable[[str], str] = lambda expected: expected,
) -> dict:
    """Write ``scores.json``, ``items.jsonl`` (and ``mia.jsonl``) into ``out``; return the
    scores. ``leak`` is how often a forget item is still answered."""
    rng = random.Random(seed)
    results, mmlu = _items(rng, leak, generation), _mmlu(rng)
    rows = _mia_rows(rng, gap=leak) if mia else None
    summary = None
    if rows is not None:
        auc = roc_auc([-r["nll"] for r in rows if r["member"]],
                      [-r["nll"] for r in rows if not r["member"]])  # fmt: skip
        summary = {"auc": auc, "score": mia_score(auc), "members": 12, "nonmembers": 12}
    settings = EvalSettings(bootstrap=20, mmlu_threshold=0.3)
    extra = beyond_official(results, rows, mmlu, settings)
    scores = scores_record(results, summary, mmlu, settings, extra, None)
    if not by_subject:
        del scores["mmlu_details"]["by_subject"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "scores.json").write_text(json.dumps(scores, indent=2))
    (out / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    if rows is not None:
        (out / "mia.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return scores


def write_run(out: Path, **fields) -> dict:
    """A ``run.json`` with the fields the report reads, as ``lume-score run`` writes them."""
    record = {
        "submission": "npo.py", "track": "mini", "status": "ok", "reason": None,
        "scored": True, "time_limit_seconds": 600.0, "wall_seconds": 150.0,
        "cpu_seconds": 290.5, "peak_memory_bytes": 3 * 1024**3,
        "gpu": {"granted": [0], "allocated_gpu_seconds": 150.0, "gpu_seconds": 120.5,
                "devices": [{"index": 0, "busy_seconds": 120.5,
                             "peak_memory_bytes": 12 * 1024**3}]},
        "scores": None,
    } | fields  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(record, indent=2))
    return record


@pytest.fixture(name="write_result")
def write_result_fixture() -> Callable[..., dict]:
    return write_result


@pytest.fixture(name="write_run")
def write_run_fixture() -> Callable[..., dict]:
    return write_run

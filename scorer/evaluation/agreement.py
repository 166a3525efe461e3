"""``--check-exact N``: how far the scored generations are from the official per-item loop's,
on N seeded random items re-run by the reference engine."""

from __future__ import annotations

import random

from scorer.data.records import Item
from scorer.engine.interface import Engine
from scorer.evaluation.job import Job
from scorer.evaluation.phases import score_items


def check_exact(job: Job, reference: Engine, items: list[Item], results: list[dict]) -> dict:
    """Re-run ``check_exact`` random items (seed 0) on ``reference`` and compare them with
    ``results``: the batched engine's speed is only worth having if it agrees."""
    n = min(job.settings.check_exact, len(items))
    chosen = sorted(random.Random(0).sample(range(len(items)), n))
    exact = score_items(job, reference, [items[i] for i in chosen], phase="exact-check")
    identical = sum(e["generation"] == results[i]["generation"] for e, i in zip(exact, chosen))
    differences = [abs(e["score"] - results[i]["score"]) for e, i in zip(exact, chosen)]
    return {
        "items": n,
        "identical_generations": identical,
        "fraction_identical": identical / n if n else None,
        "max_item_score_difference": max(differences, default=0.0),
    }

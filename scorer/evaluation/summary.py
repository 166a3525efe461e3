"""``scores.json``'s content: the official score from the phases' results, and what is
reported beside it (other MIA attacks, bootstrap intervals), never mixed into it."""

from __future__ import annotations

from dataclasses import asdict

from scorer.beyond.attacks import aucs_of_scores
from scorer.beyond.bootstrap import bootstrap_intervals, resampling_digest
from scorer.evaluation.settings import SPEED_ONLY, EvalSettings
from scorer.official.score import (
    ItemResult,
    component_means,
    final_score,
    mmlu_passed,
    task_aggregate,
)

BOOTSTRAP_SEED = 0  # one seed for every submission: their replicates can be paired


def _item_results(results: list[dict]) -> list[ItemResult]:
    return [ItemResult(r["split"], r["task"], r["kind"], r["score"]) for r in results]


def beyond_official(
    results: list[dict], mia_rows: list[dict] | None, mmlu: dict | None, settings: EvalSettings
) -> dict:
    """Reported beside the official score, never mixed into it: the other MIA attacks'
    AUCs and seeded bootstrap 95% intervals (items resampled), with every replicate's final
    score and the digest of what was resampled (``resampled``): the leaderboard pairs two
    results' replicates only when seed, replicate count and digest agree."""
    extra: dict = {"mia_attacks": None, "bootstrap": None}
    members = nonmembers = None
    if mia_rows is not None:
        members = [r for r in mia_rows if r["member"]]
        nonmembers = [r for r in mia_rows if not r["member"]]
        extra["mia_attacks"] = {"k": settings.mia_k, **aucs_of_scores(members, nonmembers)}
    if settings.bootstrap:
        extra["bootstrap"] = bootstrap_intervals(
            _item_results(results),
            [-r["nll"] for r in members] if members is not None else None,
            [-r["nll"] for r in nonmembers] if nonmembers is not None else None,
            mmlu["correct"] if mmlu is not None else None,
            replicates=settings.bootstrap,
            seed=BOOTSTRAP_SEED,
        )
        extra["bootstrap"]["resampled"] = resampling_digest(
            [(r["split"], r["task"], r["kind"], r["id"]) for r in results],
            [r["id"] for r in members] if members is not None else None,
            [r["id"] for r in nonmembers] if nonmembers is not None else None,
            len(mmlu["correct"]) if mmlu is not None else None,
        )
    return extra


def fold_warnings(settings: EvalSettings) -> list[str]:
    """Why these numbers may not be the official protocol's: a scored fold other than the
    one that ``unlearn()`` was given measures forgetting of documents it never saw."""
    if settings.unlearned_fold is None or settings.unlearned_fold == settings.fold:
        return []
    return [
        f"the {settings.fold} fold was scored but unlearn() was given the "
        f"{settings.unlearned_fold} fold: the official protocol scores the fold that was "
        "unlearned (their documents are disjoint)"
    ]


def scores_record(
    results: list[dict],
    mia: dict | None,
    mmlu: dict | None,
    settings: EvalSettings,
    extra: dict,
    agreement: dict | None,
    repair: dict | None = None,
) -> dict:
    """The ``scores.json`` dict: the official numbers, their parts, the settings that
    change numbers and ``extra``; no timings or paths, so the same inputs give the same
    bytes however the run was interrupted or spread."""
    components = component_means(_item_results(results))
    aggregate = task_aggregate(components)
    mia_value = mia["score"] if mia else None
    mmlu_value = mmlu["accuracy"] if mmlu else None
    scores = {
        "final_score": final_score(aggregate, mia_value, mmlu_value),
        "task_aggregate": aggregate,
        "mia_auc": mia["auc"] if mia else None,
        "mia_score": mia_value,
        "mmlu": mmlu_value,
        "mmlu_threshold": settings.mmlu_threshold,
        "mmlu_passed": mmlu_passed(mmlu_value, settings.mmlu_threshold),
        "forget": components["forget"],
        "retain": components["retain"],
        "mia": mia,
        "mmlu_details": {k: v for k, v in mmlu.items() if k != "correct"} if mmlu else None,
        "items": len(results),
        "folds": {"unlearned": settings.unlearned_fold, "scored": settings.fold},
        "warnings": fold_warnings(settings),
        "settings": {k: v for k, v in asdict(settings).items() if k not in SPEED_ONLY},
        "beyond_official": extra,
    }
    if agreement is not None:
        scores["agreement"] = agreement
    if repair is not None:
        scores["repair"] = repair
    return scores

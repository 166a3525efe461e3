"""Seeded percentile-bootstrap intervals for every number of the official score.

A leaderboard gap of 0.01 means little if resampling the same items moves a score by 0.03.
Each replicate resamples, with replacement and independently:
- the items *within* each of the 12 split × task × metric groups (every component stays
  defined, and each group keeps its size),
- the MIA member scores and the nonmember scores, each within its class,
- the MMLU answers (by question index, so that two submissions scored on the same
  questions are resampled on the same questions),
then recomputes the 12 components, the task aggregate, the MIA AUC and score, MMLU and
the final score with :mod:`scorer.official.score`'s own functions (the formula in one place).
Everything is vectorised over replicates; one ``numpy`` generator seeded with ``seed``
draws in a fixed order, so the same inputs and seed give the same intervals.

The draws depend only on the seed, the replicate count and the sizes of the groups, never
on the scores: two submissions scored on the same items in the same order (their
:func:`resampling_digest` agrees) are resampled on the same items, replicate by replicate.
Their stored per-replicate final scores can then be compared pairwise (the leaderboard's
probability that an order holds).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import numpy as np

from scorer.contract import SPLITS, TASKS
from scorer.official.score import METRIC_OF_KIND, ItemResult, final_score, mia_score, task_aggregate

METRICS = ("regurgitation", "knowledge")

Interval = list[float]  # [lo, hi]

# Names the order and the way of the draws below; it enters the digest, so that results
# resampled by another version of this module are never paired with these.
SCHEME = "lume-bootstrap/2: items by group, MIA members, MIA nonmembers, MMLU by index"
REPLICATE_DIGITS = 6  # stored per-replicate final scores: small, and far below any gap read
MMLU_CHUNK = 64  # replicates drawn at a time for MMLU (14,042 questions × 64 int64: 7 MB)


def resample_counts(rng: np.random.Generator, n: int, replicates: int) -> np.ndarray:
    """``(replicates, n)`` multiplicities of each of ``n`` values in a resample of size n."""
    draws = rng.integers(0, n, size=(replicates, n))
    offsets = (np.arange(replicates) * n)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=replicates * n).reshape(replicates, n)


def weighted_aucs(
    positive: Sequence[float],
    negative: Sequence[float],
    positive_counts: np.ndarray,
    negative_counts: np.ndarray,
) -> np.ndarray:
    """The AUC (``metrics.roc_auc``: Mann-Whitney, ties one half) of each weighted resample.

    Row r holds how many times each positive and each negative score was drawn. A drawn
    positive scoring s beats the drawn negatives below s and ties those equal to s; both
    counts come from a cumulative sum of the negatives' counts in sorted order, so the
    cost is O(replicates × (n_pos + n_neg)) and no pairwise matrix is built.
    """
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    order = np.argsort(neg, kind="stable")
    sorted_neg = neg[order]
    cumulative = np.zeros((negative_counts.shape[0], neg.size + 1))
    np.cumsum(negative_counts[:, order], axis=1, out=cumulative[:, 1:])
    below = cumulative[:, np.searchsorted(sorted_neg, pos, side="left")]
    at_or_below = cumulative[:, np.searchsorted(sorted_neg, pos, side="right")]
    wins = below + 0.5 * (at_or_below - below)  # (replicates, n_pos)
    n_pos = positive_counts.sum(axis=1)
    n_neg = negative_counts.sum(axis=1)
    return (positive_counts * wins).sum(axis=1) / (n_pos * n_neg)


def resampling_digest(
    item_keys: Sequence[Sequence[str]],
    member_ids: Sequence[str] | None,
    nonmember_ids: Sequence[str] | None,
    mmlu_questions: int | None,
) -> str:
    """What the resampling depended on, as a sha256: the items in the order they were given
    (``(split, task, kind, id)`` each), the MIA member and nonmember ids in order, the
    number of MMLU questions, and :data:`SCHEME`. Equal digests, seeds and replicate counts
    mean the same items were drawn in every replicate."""
    payload = {
        "scheme": SCHEME,
        "items": [list(key) for key in item_keys],
        "mia_member": None if member_ids is None else list(member_ids),
        "mia_nonmember": None if nonmember_ids is None else list(nonmember_ids),
        "mmlu_questions": mmlu_questions,
    }
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def resampled_accuracy(
    rng: np.random.Generator, correct: np.ndarray, replicates: int
) -> np.ndarray:
    """The accuracy of each of ``replicates`` resamples (with replacement, by index) of the
    right/wrong answers, drawn :data:`MMLU_CHUNK` replicates at a time to bound memory."""
    n = correct.size
    out = np.empty(replicates)
    for start in range(0, replicates, MMLU_CHUNK):
        rows = min(MMLU_CHUNK, replicates - start)
        draws = rng.integers(0, n, size=(rows, n))
        out[start : start + rows] = correct[draws].sum(axis=1) / n
    return out


def _interval(values: np.ndarray, level: float) -> Interval:
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(values, [tail, 100.0 - tail])
    return [float(lo), float(hi)]


def _component_replicates(
    items: Sequence[ItemResult], rng: np.random.Generator, replicates: int
) -> dict[tuple[str, str, str], np.ndarray]:
    groups: dict[tuple[str, str, str], list[float]] = {}
    for item in items:
        groups.setdefault((item.split, item.task, METRIC_OF_KIND[item.kind]), []).append(item.score)
    means = {}
    for key in ((s, t, m) for s in SPLITS for t in TASKS for m in METRICS):
        scores = np.asarray(groups.get(key, ()), dtype=np.float64)
        if scores.size == 0:
            split, task, metric = key
            raise ValueError(f"no {metric} items for {split} {task}")
        draws = rng.integers(0, scores.size, size=(replicates, scores.size))
        means[key] = scores[draws].mean(axis=1)
    return means


def bootstrap_intervals(
    items: Sequence[ItemResult],
    mia_member: Sequence[float] | None,
    mia_nonmember: Sequence[float] | None,
    mmlu_correct: Sequence[bool] | None,
    replicates: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Percentile intervals ``[lo, hi]`` at ``level`` for the components and headline scores,
    and every replicate's final score (``final_score_replicates``, rounded to
    :data:`REPLICATE_DIGITS` digits) for paired comparisons between submissions.

    ``mia_member`` / ``mia_nonmember`` are membership scores (higher = member, e.g. −NLL),
    as given to ``roc_auc``; pass both or neither. A quantity whose input is ``None`` gets
    ``None`` (the final score needs both MIA and MMLU).
    """
    if replicates < 1:
        raise ValueError("replicates must be at least 1")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if (mia_member is None) != (mia_nonmember is None):
        raise ValueError("pass both MIA member and nonmember scores, or neither")
    rng = np.random.default_rng(seed)

    means = _component_replicates(items, rng, replicates)
    columns = {key: values.tolist() for key, values in means.items()}
    aggregates = np.array(
        [
            task_aggregate(
                {
                    split: {t: {m: columns[split, t, m][r] for m in METRICS} for t in TASKS}
                    for split in SPLITS
                }
            )
            for r in range(replicates)
        ]
    )

    auc = mia = None
    if mia_member is not None and mia_nonmember is not None:
        if len(mia_member) == 0 or len(mia_nonmember) == 0:
            raise ValueError("the AUC needs at least one member and one nonmember score")
        member_counts = resample_counts(rng, len(mia_member), replicates)
        nonmember_counts = resample_counts(rng, len(mia_nonmember), replicates)
        auc = weighted_aucs(mia_member, mia_nonmember, member_counts, nonmember_counts)
        mia = mia_score(auc)  # elementwise on the replicate array

    mmlu = None
    if mmlu_correct is not None:
        if len(mmlu_correct) == 0:
            raise ValueError("MMLU accuracy needs at least one question")
        mmlu = resampled_accuracy(rng, np.asarray(mmlu_correct, dtype=bool), replicates)

    final = final_score(aggregates, mia, mmlu)  # elementwise; None without MIA or MMLU

    def interval(values: np.ndarray | None) -> Interval | None:
        return None if values is None else _interval(values, level)

    out: dict = {
        split: {task: {m: interval(means[split, task, m]) for m in METRICS} for task in TASKS}
        for split in SPLITS
    }
    out.update(
        task_aggregate=interval(aggregates),
        mia_auc=interval(auc),
        mia_score=interval(mia),
        mmlu=interval(mmlu),
        final_score=interval(final),
        final_score_replicates=None
        if final is None
        else [round(float(v), REPLICATE_DIGITS) for v in final],
        replicates=replicates,
        seed=seed,
        level=level,
    )
    return out

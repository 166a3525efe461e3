"""Bootstrap intervals: contain the official point estimates, seeded, exact AUC, sane widths."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from scorer.beyond.bootstrap import bootstrap_intervals, resample_counts, weighted_aucs
from scorer.contract import SPLITS, TASKS
from scorer.official.metrics import roc_auc
from scorer.official.score import (
    ItemResult,
    component_means,
    final_score,
    mia_score,
    task_aggregate,
)

METRICS = ("regurgitation", "knowledge")


def _example(seed: int = 0, per_group: int = 60):
    """A realistic scored submission: ROUGE-like sc scores, 0/1 qa, −NLL MIA scores."""
    rng = random.Random(seed)
    items = []
    for split in SPLITS:
        for task in TASKS:
            level = 0.3 if split == "forget" else 0.7
            for _ in range(per_group):
                items.append(
                    ItemResult(split, task, "sc", min(1.0, max(0.0, rng.gauss(level, 0.2))))
                )
                items.append(ItemResult(split, task, "qa", float(rng.random() < level)))
    members = [-round(rng.gauss(1.0, 0.3), 2) for _ in range(80)]  # rounded: ties happen
    nonmembers = [-round(rng.gauss(1.15, 0.3), 2) for _ in range(80)]
    mmlu = [rng.random() < 0.45 for _ in range(2000)]
    return items, members, nonmembers, mmlu


def _point_estimates(items, members, nonmembers, mmlu) -> dict:
    components = component_means(items)
    auc = roc_auc(members, nonmembers)
    accuracy = sum(mmlu) / len(mmlu)
    aggregate = task_aggregate(components)
    return {
        "components": components,
        "task_aggregate": aggregate,
        "mia_auc": auc,
        "mia_score": mia_score(auc),
        "mmlu": accuracy,
        "final_score": final_score(aggregate, mia_score(auc), accuracy),
    }


def test_intervals_contain_the_point_estimates():
    items, members, nonmembers, mmlu = _example()
    point = _point_estimates(items, members, nonmembers, mmlu)
    out = bootstrap_intervals(items, members, nonmembers, mmlu, replicates=1000, seed=0)
    for split in SPLITS:
        for task in TASKS:
            for metric in METRICS:
                lo, hi = out[split][task][metric]
                assert lo < point["components"][split][task][metric] < hi, (split, task, metric)
    for key in ("task_aggregate", "mia_auc", "mia_score", "mmlu", "final_score"):
        lo, hi = out[key]
        assert lo < point[key] < hi, key
    assert (out["replicates"], out["seed"], out["level"]) == (1000, 0, 0.95)


def test_interval_widths_match_the_normal_approximation():
    items, members, nonmembers, mmlu = _example(per_group=200)
    out = bootstrap_intervals(items, members, nonmembers, mmlu, replicates=2000, seed=1)
    # MMLU: ±1.96 · sqrt(p(1-p)/n)
    p, n = sum(mmlu) / len(mmlu), len(mmlu)
    expected = 2 * 1.96 * math.sqrt(p * (1 - p) / n)
    assert out["mmlu"][1] - out["mmlu"][0] == pytest.approx(expected, rel=0.15)
    # a component mean: ±1.96 · sd / sqrt(n), each group resampled at its own size
    scores = [i.score for i in items if (i.split, i.task, i.kind) == ("retain", "Task2", "sc")]
    expected = 2 * 1.96 * float(np.std(scores)) / math.sqrt(len(scores))
    lo, hi = out["retain"]["Task2"]["regurgitation"]
    assert hi - lo == pytest.approx(expected, rel=0.15)


def test_a_narrower_level_gives_a_nested_interval():
    items, members, nonmembers, mmlu = _example()
    wide = bootstrap_intervals(items, members, nonmembers, mmlu, replicates=500, level=0.95)
    narrow = bootstrap_intervals(items, members, nonmembers, mmlu, replicates=500, level=0.5)
    for key in ("task_aggregate", "mia_auc", "mmlu", "final_score"):
        assert wide[key][0] < narrow[key][0] < narrow[key][1] < wide[key][1], key


def test_same_seed_same_intervals_other_seed_different():
    items, members, nonmembers, mmlu = _example()
    first = bootstrap_intervals(items, members, nonmembers, mmlu, replicates=200, seed=3)
    again = bootstrap_intervals(items, members, nonmembers, mmlu, replicates=200, seed=3)
    other = bootstrap_intervals(items, members, nonmembers, mmlu, replicates=200, seed=4)
    assert first == again
    for key in ("task_aggregate", "mia_auc", "mmlu", "final_score"):
        assert other[key] != first[key], key
    assert other["seed"] == 4


def test_degenerate_data_gives_zero_width_intervals_at_the_value():
    values = {("forget", "sc"): 0.2, ("forget", "qa"): 0.0, ("retain", "sc"): 0.9}
    items = [
        ItemResult(split, task, kind, values.get((split, kind), 1.0))
        for split in SPLITS
        for task in TASKS
        for kind in ("sc", "qa")
        for _ in range(7)
    ]
    out = bootstrap_intervals(items, [-1.0] * 5, [-1.0] * 9, [True] * 30, replicates=300)
    point = _point_estimates(items, [-1.0] * 5, [-1.0] * 9, [True] * 30)
    assert point["mia_auc"] == 0.5 and point["mia_score"] == 1.0  # all tied: chance
    for split in SPLITS:
        for task in TASKS:
            for metric in METRICS:
                lo, hi = out[split][task][metric]
                value = point["components"][split][task][metric]
                assert lo == pytest.approx(value, abs=1e-12)
                assert hi == pytest.approx(value, abs=1e-12)
    for key in ("task_aggregate", "mia_auc", "mia_score", "mmlu", "final_score"):
        assert out[key][0] == pytest.approx(point[key], abs=1e-12), key
        assert out[key][1] == pytest.approx(point[key], abs=1e-12), key


def test_missing_inputs_give_null_intervals():
    items, members, nonmembers, mmlu = _example()
    no_mia = bootstrap_intervals(items, None, None, mmlu, replicates=50)
    assert no_mia["mia_auc"] is None and no_mia["mia_score"] is None
    assert no_mia["final_score"] is None and no_mia["mmlu"] is not None
    no_mmlu = bootstrap_intervals(items, members, nonmembers, None, replicates=50)
    assert no_mmlu["mmlu"] is None and no_mmlu["final_score"] is None
    assert no_mmlu["mia_auc"] is not None
    assert no_mmlu["task_aggregate"] == no_mia["task_aggregate"]  # items are drawn first


def test_bad_inputs_are_rejected():
    items, members, nonmembers, mmlu = _example()
    with pytest.raises(ValueError, match="no knowledge items for retain Task3"):
        bootstrap_intervals(
            [i for i in items if (i.split, i.task, i.kind) != ("retain", "Task3", "qa")],
            members,
            nonmembers,
            mmlu,
        )
    with pytest.raises(ValueError, match="both"):
        bootstrap_intervals(items, members, None, mmlu)
    with pytest.raises(ValueError, match="level"):
        bootstrap_intervals(items, members, nonmembers, mmlu, level=95)


def test_resample_counts_are_resamples_of_size_n():
    counts = resample_counts(np.random.default_rng(0), 13, 400)
    assert counts.shape == (400, 13)
    assert (counts.sum(axis=1) == 13).all()
    # each value is drawn 1 time per resample on average
    assert counts.mean() == pytest.approx(1.0)
    assert counts.mean(axis=0) == pytest.approx(np.ones(13), abs=0.2)


def test_vectorised_auc_equals_roc_auc_on_every_resample_with_ties():
    rng = np.random.default_rng(7)
    positive = np.round(rng.normal(0.3, 1.0, 40), 1).tolist()  # one decimal: many ties
    negative = np.round(rng.normal(0.0, 1.0, 55), 1).tolist()
    positive_counts = resample_counts(rng, len(positive), 50)
    negative_counts = resample_counts(rng, len(negative), 50)
    aucs = weighted_aucs(positive, negative, positive_counts, negative_counts)
    for r in range(50):
        pos = [s for s, c in zip(positive, positive_counts[r]) for _ in range(c)]
        neg = [s for s, c in zip(negative, negative_counts[r]) for _ in range(c)]
        assert aucs[r] == pytest.approx(roc_auc(pos, neg), abs=1e-12)
    ones = weighted_aucs(positive, negative, np.ones((1, 40)), np.ones((1, 55)))
    assert ones[0] == pytest.approx(roc_auc(positive, negative), abs=1e-12)


def test_vectorised_auc_on_separated_and_all_tied_scores():
    ones_p, ones_n = np.ones((1, 3)), np.ones((1, 2))
    assert weighted_aucs([2, 3, 4], [0, 1], ones_p, ones_n)[0] == 1.0
    assert weighted_aucs([0, 0, 1], [2, 3], ones_p, ones_n)[0] == 0.0
    assert weighted_aucs([1, 1, 1], [1, 1], ones_p, ones_n)[0] == 0.5


def test_final_score_replicates_are_stored_rounded_and_give_the_interval():
    items, members, nonmembers, mmlu = _example()
    out = bootstrap_intervals(items, members, nonmembers, mmlu, replicates=500, seed=2)
    replicates = out["final_score_replicates"]
    assert len(replicates) == 500 and all(round(v, 6) == v for v in replicates)
    lo, hi = np.percentile(replicates, [2.5, 97.5])
    assert (lo, hi) == pytest.approx(tuple(out["final_score"]), abs=1e-6)
    assert bootstrap_intervals(items, members, nonmembers, None)["final_score_replicates"] is None


def test_mmlu_is_resampled_by_question_so_two_submissions_pair():
    items, members, nonmembers, mmlu = _example()
    one_more = list(mmlu)
    one_more[mmlu.index(False)] = True  # one more question right, everything else the same
    base = bootstrap_intervals(items, members, nonmembers, mmlu, replicates=300, seed=5)
    better = bootstrap_intervals(items, members, nonmembers, one_more, replicates=300, seed=5)
    pairs = list(zip(better["final_score_replicates"], base["final_score_replicates"]))
    assert all(b >= a for b, a in pairs)  # the same questions drawn in every replicate
    assert sum(b > a for b, a in pairs) > 150  # drawn at least once in ~63% of replicates

"""The official formula: per-item metrics, the AUC, the aggregate and the final score."""

from __future__ import annotations

import itertools
import random

import pytest

from scorer.official.metrics import (
    clean_up_tokenization,
    exact_match,
    item_score,
    roc_auc,
    rouge_l_recall,
)
from scorer.official.score import (
    ItemResult,
    component_means,
    final_score,
    mia_score,
    mmlu_passed,
    task_aggregate,
)


def test_rouge_l_recall_is_recall_against_the_expected_text():
    # 3 of the 4 expected tokens appear in order; the extra generated words do not count.
    assert rouge_l_recall("the cat sat down", "so the cat sat on a mat") == pytest.approx(0.75)
    # the stemmer maps "running" and "runs" to "run"
    assert rouge_l_recall("runs", "running") == 1.0
    assert rouge_l_recall("a b", "") == 0.0


def test_rouge_l_recall_equals_rouge_scores_own_scorer_on_real_lume_text(public_dir):
    """The memoized stemmer changes speed only: every real output scored against another
    item's input and output (shared words, stems, punctuation) gives rouge_score's number."""
    from rouge_score import rouge_scorer

    from scorer.data.lume import load_lume

    items = load_lume(public_dir / "data", "validation")["forget"]
    official = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    pairs = [(a.output, b.input + " " + b.output) for a, b in zip(items, items[1:] + items[:1])]
    pairs += [(a.output, a.output.upper()) for a in items]
    ours = [rouge_l_recall(e, g) for e, g in pairs]
    assert ours == [official.score(e, g)["rougeL"].recall for e, g in pairs]
    assert 0 < sum(x > 0 for x in ours[: len(items)]) < len(items)  # neither all 0 nor all 1


def test_exact_match_strips_and_lowercases_only():
    assert exact_match("1976-03-29", "  1976-03-29\n") == 1.0
    assert exact_match("Tessaly Medal", "tessaly medal") == 1.0
    assert exact_match("Tessaly Medal", "Tessaly Medal.") == 0.0


def test_item_score_dispatches_on_kind():
    assert item_score("sc", "a b c d", "a b") == 0.5
    assert item_score("qa", "x", "X ") == 1.0
    with pytest.raises(ValueError):
        item_score("zz", "a", "a")


# transformers 4's ``PreTrainedTokenizerBase.clean_up_tokenization`` (a staticmethod in
# src/transformers/tokenization_utils_base.py, v4.x), which ``clean_up_tokenization_spaces=True``
# applied when the official scores were computed: these ten ``str.replace`` calls, chained in
# this order. Copied here from transformers, apart from the scorer's own table, so that a rule
# dropped, changed or moved there is seen (transformers 5, installed here, ignores the flag).
TRANSFORMERS_4_CLEAN_UP = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)


def _transformers_4_clean_up(text: str) -> str:
    for before, after in TRANSFORMERS_4_CLEAN_UP:
        text = text.replace(before, after)
    return text


@pytest.mark.parametrize(("before", "after"), TRANSFORMERS_4_CLEAN_UP)
def test_each_of_the_ten_clean_up_rules_applies(before: str, after: str):
    text = f"we{before}x and{before}y"
    assert clean_up_tokenization(text) == f"we{after}x and{after}y"


def test_clean_up_matches_transformers_4_on_text_where_the_rules_meet():
    assert clean_up_tokenization("I do n't know , it 's fine . Is it ?") == (
        "I don't know, it's fine. Is it?"
    )
    # the rules are chained: each sees the previous ones' output, so their order counts
    assert clean_up_tokenization("a ' ' s . . ! 'm ' re") == _transformers_4_clean_up(
        "a ' ' s . . ! 'm ' re"
    )
    pieces = [" ", " ", "'", ".", "?", "!", ",", "n't", "m", "s", "ve", "re", "n", "t", "a"]
    rng = random.Random(4)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 24)))
        assert clean_up_tokenization(text) == _transformers_4_clean_up(text), repr(text)


def _brute_force_auc(pos, neg):
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_roc_auc_equals_pairwise_definition_with_ties():
    rng = random.Random(3)
    for _ in range(50):
        pos = [rng.choice([0.1, 0.2, 0.3, 0.5]) for _ in range(rng.randint(1, 9))]
        neg = [rng.choice([0.1, 0.2, 0.4, 0.5]) for _ in range(rng.randint(1, 9))]
        assert roc_auc(pos, neg) == pytest.approx(_brute_force_auc(pos, neg))
    assert roc_auc([3.0, 2.0], [1.0, 0.0]) == 1.0
    assert roc_auc([0.0], [1.0]) == 0.0


def test_roc_auc_is_scikit_learns_members_positive():
    """The official script's AUC: scikit-learn on labels (members 1) and scores."""
    from sklearn.metrics import roc_auc_score

    rng = random.Random(5)
    for _ in range(50):
        pos = [rng.choice([0.1, 0.2, 0.3, 0.5]) + rng.random() * rng.choice([0, 1]) for _ in
               range(rng.randint(1, 12))]  # fmt: skip
        neg = [rng.choice([0.1, 0.2, 0.4, 0.5]) for _ in range(rng.randint(1, 12))]
        expected = roc_auc_score([1] * len(pos) + [0] * len(neg), pos + neg)
        assert roc_auc(pos, neg) == pytest.approx(expected, abs=1e-12)
    assert roc_auc([0.9, 0.8], [0.1]) == roc_auc_score([1, 1, 0], [0.9, 0.8, 0.1]) == 1.0


def test_mia_score_is_one_at_chance_and_zero_when_perfect():
    assert mia_score(0.5) == 1.0
    assert mia_score(1.0) == 0.0
    assert mia_score(0.0) == 0.0
    assert mia_score(0.75) == pytest.approx(0.5)


def _components(forget: float, retain: float):
    per = {"regurgitation": None, "knowledge": None}
    return {
        "forget": {t: dict.fromkeys(per, forget) for t in ("Task1", "Task2", "Task3")},
        "retain": {t: dict.fromkeys(per, retain) for t in ("Task1", "Task2", "Task3")},
    }


def test_task_aggregate_flips_forget_and_takes_harmonic_mean():
    # six numbers 1 - 0.2 = 0.8 and six numbers 0.4: harmonic mean = 12 / (6/0.8 + 6/0.4)
    assert task_aggregate(_components(0.2, 0.4)) == pytest.approx(12 / (6 / 0.8 + 6 / 0.4))
    # a fully remembered forget set zeroes the aggregate, as in the official script
    assert task_aggregate(_components(1.0, 0.9)) == 0.0


def test_component_means_groups_by_split_task_and_kind():
    results = [
        ItemResult(split, task, kind, score)
        for split in ("forget", "retain")
        for task in ("Task1", "Task2", "Task3")
        for kind, score in (("sc", 0.2), ("sc", 0.4), ("qa", 1.0), ("qa", 0.0))
    ]
    means = component_means(results)
    assert means["forget"]["Task2"] == {"regurgitation": pytest.approx(0.3), "knowledge": 0.5}
    with pytest.raises(ValueError, match="no knowledge items for retain Task3"):
        component_means(
            [
                r
                for r in results
                if not (r.split == "retain" and r.task == "Task3" and r.kind == "qa")
            ]
        )


def test_published_7b_leaderboard_row():
    # the winning 7B row of SemEval-2025 Task 4: 0.706 = mean(0.827, 0.847, 0.443)
    assert final_score(0.827, 0.847, 0.443) == pytest.approx(0.706, abs=5e-4)


def test_missing_components_are_not_invented():
    assert final_score(0.5, None, 0.4) is None
    assert final_score(0.5, 0.4, None) is None
    assert mmlu_passed(None, 0.371) is None
    assert mmlu_passed(0.40, 0.371) is True
    assert mmlu_passed(0.30, 0.371) is False

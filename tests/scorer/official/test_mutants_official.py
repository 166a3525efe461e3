"""The official room's edges that mutation testing found unguarded (``python -m tools.mutate
official``): refusals with their messages, the MMLU gate at its threshold, accuracy on an
uneven case, prompts with several shots, and the stemmer built afresh (the scorer's cached
one is built once per process, so only a new one exercises its construction)."""

from __future__ import annotations

import pytest

from scorer.data.records import MmluQuestion
from scorer.official.metrics import _MemoizedStemmer, _StemmingTokenizer, item_score, roc_auc
from scorer.official.mmlu_prompt import accuracy, mmlu_prompt
from scorer.official.score import mmlu_passed

SHOTS = [
    MmluQuestion("virology", "First?", ("a", "b", "c", "d"), 0),
    MmluQuestion("virology", "Second?", ("e", "f", "g", "h"), 3),
]
QUESTION = MmluQuestion("virology", "Third?", ("i", "j", "k", "l"), 2)


def test_the_mmlu_gate_passes_a_score_equal_to_the_threshold():
    assert mmlu_passed(0.371, 0.371) is True
    assert mmlu_passed(0.3709, 0.371) is False


def test_accuracy_counts_the_matches_not_the_misses():
    assert accuracy([1, 1, 1], [1, 1, 0]) == pytest.approx(2 / 3)
    assert accuracy([2], [2]) == 1.0


@pytest.mark.parametrize(
    ("predictions", "answers", "message"),
    [([0], [0, 1], "predictions and answers differ in length"), ([], [], "no MMLU questions")],
)
def test_accuracy_refuses_with_its_reason(predictions, answers, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        accuracy(predictions, answers)


def test_an_unknown_item_kind_is_named_in_the_refusal():
    with pytest.raises(ValueError, match="^unknown item kind 'zz': expected 'sc' or 'qa'$"):
        item_score("zz", "a", "a")


@pytest.mark.parametrize(("positive", "negative"), [([], [1.0]), ([1.0], []), ([], [])])
def test_the_auc_refuses_an_empty_side(positive, negative):
    message = "^the AUC needs at least one positive and one negative score$"
    with pytest.raises(ValueError, match=message):
        roc_auc(positive, negative)


def test_shots_follow_one_another_with_nothing_between():
    assert mmlu_prompt("virology", SHOTS, QUESTION) == (
        "The following are multiple choice questions (with answers) about  virology.\n\n"
        "First?\nA. a\nB. b\nC. c\nD. d\nAnswer: A\n\n"
        "Second?\nA. e\nB. f\nC. g\nD. h\nAnswer: D\n\n"
        "Third?\nA. i\nB. j\nC. k\nD. l\nAnswer:"
    )


def test_a_new_stemming_tokenizer_stems_as_rouge_score_does():
    from rouge_score import tokenize
    from rouge_score.tokenizers import DefaultTokenizer

    text = "The runners were running; cats ran and dogs barked loudly"
    assert _StemmingTokenizer().tokenize(text) == DefaultTokenizer(use_stemmer=True).tokenize(text)
    assert _StemmingTokenizer().tokenize("running") == ["run"]
    assert tokenize.tokenize("running", None) == ["running"]  # what no stemmer would give


def test_the_stem_memo_is_bounded_and_remembers():
    stem = _MemoizedStemmer().stem
    assert stem("running") == stem("running") == "run"
    info = stem.cache_info()
    assert info.hits == 1 and info.misses == 1
    assert info.maxsize is not None and 0 < info.maxsize <= 1 << 16  # memory stays bounded

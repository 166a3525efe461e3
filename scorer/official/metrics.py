"""Per-item metrics and the MIA AUC, as pure functions (no model, no I/O).

Regurgitation is Google's ``rouge_score`` ROUGE-L *recall* with ``use_stemmer=True``,
target first (``scorer.official.score(expected, generation)``); knowledge is exact match after
``strip().lower()`` — both exactly as the official SemEval-2025 Task 4 script.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from nltk.stem import porter
from rouge_score import rouge_scorer, tokenize, tokenizers

# transformers 4's ``clean_up_tokenization`` (what ``clean_up_tokenization_spaces=True``
# did when the official scores were computed). transformers 5 ignores that flag for
# BPE tokenizers, so the scorer applies the same replacements itself.
_CLEANUPS = (
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


def clean_up_tokenization(text: str) -> str:
    """The decode-time clean-up the official scores were computed with."""
    for before, after in _CLEANUPS:
        text = text.replace(before, after)
    return text


class _MemoizedStemmer:
    """rouge_score's Porter stemmer with each word's stem remembered: stemming is a pure
    function of the word, and recomputing it dominated scoring an item."""

    def __init__(self) -> None:
        self.stem = lru_cache(maxsize=1 << 16)(porter.PorterStemmer().stem)


class _StemmingTokenizer(tokenizers.Tokenizer):
    """``rouge_score``'s default tokenizer (``use_stemmer=True``), on the memoized stemmer."""

    def __init__(self) -> None:
        self._stemmer = _MemoizedStemmer()

    def tokenize(self, text: str) -> list[str]:
        return tokenize.tokenize(text, self._stemmer)


@lru_cache(maxsize=1)
def _rouge() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=_StemmingTokenizer())


def rouge_l_recall(expected: str, generation: str) -> float:
    """Share of the expected continuation's tokens found, in order, in the generation."""
    return _rouge().score(str(expected), str(generation))["rougeL"].recall


def exact_match(expected: str, generation: str) -> float:
    return float(str(expected).strip().lower() == str(generation).strip().lower())


def item_score(kind: str, expected: str, generation: str) -> float:
    """Regurgitation for ``sc`` items, knowledge for ``qa`` items."""
    if kind == "sc":
        return rouge_l_recall(expected, generation)
    if kind == "qa":
        return exact_match(expected, generation)
    raise ValueError(f"unknown item kind {kind!r}: expected 'sc' or 'qa'")


def roc_auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Area under the ROC curve of ``positive`` vs ``negative`` scores (higher = positive).

    The Mann-Whitney statistic with ties counted one half: the same number as
    ``sklearn.metrics.auc(*roc_curve(labels, scores)[:2])`` that the official script used.
    """
    if not positive or not negative:
        raise ValueError("the AUC needs at least one positive and one negative score")
    ranked = sorted([(s, 1) for s in positive] + [(s, 0) for s in negative])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mean_rank = (i + 1 + j) / 2  # ranks are 1-based; ties share their mean rank
        rank_sum += mean_rank * sum(label for _, label in ranked[i:j])
        i = j
    n_pos, n_neg = len(positive), len(negative)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)

"""Extra membership-inference attacks, reported beside the official score (never in it).

The official MIA is the loss attack; a submission that only hides the mean loss may still
leak membership through its lowest-probability tokens or through calibrated scores, so the
kit also reports Min-K%, Min-K%++ and zlib AUCs on the same MIA documents.

Every attack returns a *membership score*: higher means more likely a member, so
``roc_auc(member_scores, nonmember_scores)`` (members positive) is the attack's AUC, the
same orientation as the official attack (score = −NLL).

What the functions expect, per document of ``n + 1`` tokens ``x_0 .. x_n`` (the tokenizer's
ids of the whole document, exactly as the official MIA tokenizes it; the engine computes
these from the logits in one forward pass — :func:`document_stats_from_logits` is the
torch-free reference):

- ``token_logprobs[t]`` (t = 0 .. n−1) = ``log p(x_{t+1} | x_0..x_t)``: the log-probability
  the model gives the *actual next token* at position t. The first token is never
  predicted, so it is excluded and there are ``n`` values; their mean is −(the official
  per-document NLL, ``labels = input_ids``).
- ``mu[t]`` = ``Σ_z p(z|x_0..x_t) · log p(z|x_0..x_t)`` over the whole vocabulary
  (``logp = log_softmax(logits[t])``, ``μ = Σ exp(logp)·logp``).
- ``sigma[t]`` = the *standard deviation* of ``log p(z|·)`` under ``z ~ p``:
  ``sqrt(max(Σ exp(logp)·logp² − μ², 0))`` (the reference code's ``sigma.sqrt()`` of the
  variance; the clamp only removes negative rounding).
- ``text`` = the document string, for zlib's compressed length.

Reference implementations followed: ``swj0419/detect-pretrain-code`` (Min-K%, zlib) and
``zjysteven/mink-plus-plus`` ``run.py`` (Min-K%++, and the same Min-K% and zlib).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from scorer.official.metrics import roc_auc


@dataclass(frozen=True)
class DocumentStats:
    """Per-token statistics of one MIA document (see the module docstring for meanings)."""

    token_logprobs: Sequence[float]
    mu: Sequence[float]
    sigma: Sequence[float]
    text: str


def _values(token_logprobs: Sequence[float]) -> np.ndarray:
    values = np.asarray(token_logprobs, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("an attack needs at least one predicted token (a document of ≥ 2 tokens)")
    return values


def k_length(n: int, k: float) -> int:
    """How many of ``n`` tokens Min-K% and Min-K%++ average.

    The reference code takes ``int(n * k)`` (rounding *down*, in floating point: n = 10,
    k = 0.3 gives 3) and averages an empty slice — NaN — when that is 0 (n < 5 at k = 0.2).
    We follow it and take at least one token instead of NaN: ``max(1, int(n * k))``.
    """
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must be in (0, 1], got {k}")
    return max(1, int(n * k))


def _mean_lowest(values: np.ndarray, k: float) -> float:
    return float(np.mean(np.sort(values)[: k_length(values.size, k)]))


def loss_score(token_logprobs: Sequence[float]) -> float:
    """Mean token log-probability = −(mean NLL): the official loss attack."""
    return float(np.mean(_values(token_logprobs)))


def min_k_score(token_logprobs: Sequence[float], k: float = 0.2) -> float:
    """Min-K% (Shi et al. 2023): mean of the ``k_length(n, k)`` lowest token log-probs.

    A member has few very unlikely tokens, so its lowest log-probs are still high.
    """
    return _mean_lowest(_values(token_logprobs), k)


def min_k_plus_plus_score(
    token_logprobs: Sequence[float],
    mu: Sequence[float],
    sigma: Sequence[float],
    k: float = 0.2,
) -> float:
    """Min-K%++ (Zhang et al. 2024): Min-K% of ``(log p(x_t) − μ_t) / σ_t``.

    Training pushes a member's tokens towards local maxima of the likelihood, i.e. above
    the mean log-prob of the next-token distribution. Where σ_t = 0 the distribution is
    uniform over its support, so every possible token sits exactly at the mean: the
    token's normalised score is 0 (the reference code would produce NaN or ±inf there).
    """
    values = _values(token_logprobs)
    mu_array = np.asarray(mu, dtype=np.float64)
    sigma_array = np.asarray(sigma, dtype=np.float64)
    if mu_array.shape != values.shape or sigma_array.shape != values.shape:
        raise ValueError(
            f"token_logprobs, mu and sigma must have the same length, got "
            f"{values.size}, {mu_array.size}, {sigma_array.size}"
        )
    if np.any(sigma_array < 0):
        raise ValueError("sigma is a standard deviation and cannot be negative")
    positive = sigma_array > 0
    normalised = np.zeros_like(values)
    normalised[positive] = (values[positive] - mu_array[positive]) / sigma_array[positive]
    return _mean_lowest(normalised, k)


def zlib_score(token_logprobs: Sequence[float], text: str) -> float:
    """Mean log-likelihood / zlib-compressed length of the UTF-8 text (Carlini et al. 2021).

    As both reference repositories: ``ll / len(zlib.compress(bytes(text, "utf-8")))`` with
    ``ll`` = −loss (default compression level). Dividing by the compressed size discounts
    documents that are likely only because they are repetitive.
    """
    return loss_score(token_logprobs) / len(zlib.compress(text.encode("utf-8")))


@dataclass(frozen=True)
class Attack:
    """One membership attack: its key in ``scores.json`` and ``mia.jsonl``, its label, its score.

    ``score(doc, k)`` is the document's membership score (higher: more likely a member);
    ``official`` marks the loss attack, whose AUC is the official MIA AUC.
    """

    key: str
    label: str
    score: Callable[[DocumentStats, float], float]
    official: bool = False


# Every attack, in the order its scores are written; adding an attack is adding a row here.
ATTACKS: dict[str, Attack] = {
    attack.key: attack
    for attack in (
        Attack("loss", "loss", lambda doc, k: loss_score(doc.token_logprobs), official=True),
        Attack("min_k", "Min-K%", lambda doc, k: min_k_score(doc.token_logprobs, k)),
        Attack(
            "min_k_plus_plus",
            "Min-K%++",
            lambda doc, k: min_k_plus_plus_score(doc.token_logprobs, doc.mu, doc.sigma, k),
        ),
        Attack("zlib", "zlib", lambda doc, k: zlib_score(doc.token_logprobs, doc.text)),
    )
}


def membership_scores(doc: DocumentStats, k: float = 0.2) -> dict[str, float]:
    """Every attack's membership score for one document, keyed and ordered as :data:`ATTACKS`."""
    return {key: attack.score(doc, k) for key, attack in ATTACKS.items()}


def attack_aucs(
    member_stats: Sequence[DocumentStats],
    nonmember_stats: Sequence[DocumentStats],
    k: float = 0.2,
) -> dict[str, float]:
    """AUC of each attack, members positive (0.5 = chance, 1 = members all score higher)."""
    return aucs_of_scores(
        [membership_scores(d, k) for d in member_stats],
        [membership_scores(d, k) for d in nonmember_stats],
    )


def aucs_of_scores(
    member_scores: Sequence[dict[str, float]], nonmember_scores: Sequence[dict[str, float]]
) -> dict[str, float]:
    """Each attack's AUC from per-document :func:`membership_scores` dicts."""
    return {
        name: roc_auc([s[name] for s in member_scores], [s[name] for s in nonmember_scores])
        for name in ATTACKS
    }


def document_stats_from_logits(logits, input_ids: Sequence[int], text: str) -> DocumentStats:
    """Reference (numpy, float64) computation of a document's stats from its logits.

    ``logits`` has shape ``(len(input_ids), vocab)``: row t scores the token after
    ``input_ids[t]``; the last row predicts past the document and is dropped. The engine
    does the same in torch; this is the executable spec its tests can compare with.
    """
    logits = np.asarray(logits, dtype=np.float64)
    ids = np.asarray(input_ids, dtype=np.int64)
    if logits.ndim != 2 or logits.shape[0] != ids.size or ids.size < 2:
        raise ValueError("logits must be (len(input_ids), vocab) for a document of ≥ 2 tokens")
    rows = logits[:-1]
    shifted = rows - rows.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    # a token masked with -inf logits has p = 0 and adds nothing (not 0 · -inf = NaN)
    safe = np.where(np.isfinite(logp), logp, 0.0)
    mu = (p * safe).sum(axis=1)
    variance = np.maximum((p * safe**2).sum(axis=1) - mu**2, 0.0)
    token_logprobs = logp[np.arange(ids.size - 1), ids[1:]]
    return DocumentStats(
        token_logprobs=token_logprobs.tolist(),
        mu=mu.tolist(),
        sigma=[math.sqrt(v) for v in variance.tolist()],
        text=text,
    )

"""Each unlearning loss against a value computed by hand on a two-example batch."""

from __future__ import annotations

import math

import pytest
import torch

from baselines import losses
from baselines.losses import IGNORE

# Vocabulary of 3, sequences of 3. Example 0 learns tokens 1 then 2 after a prompt token;
# example 1 learns token 0, then is padded. Position t's logits predict token t + 1.
PROBS = [
    [[0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]],
    [[0.25, 0.25, 0.5], [0.9, 0.05, 0.05], [0.3, 0.3, 0.4]],
]
REF_PROBS = [
    [[0.4, 0.4, 0.2], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]],
    [[0.5, 0.25, 0.25], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]],
]
LABELS = torch.tensor([[IGNORE, 1, 2], [IGNORE, 0, IGNORE]])
LOGITS = torch.tensor(PROBS).log()
REF_LOGITS = torch.tensor(REF_PROBS).log()
# the three learned (position, token) pairs and their probabilities
LEARNED = [(0, 0, 1), (0, 1, 2), (1, 0, 0)]
P = [PROBS[b][t][tok] for b, t, tok in LEARNED]  # 0.5, 0.8, 0.25
MEAN_NLL = -sum(math.log(p) for p in P) / 3


def test_sequence_log_prob_sums_answer_tokens():
    expected = [math.log(0.5) + math.log(0.8), math.log(0.25)]
    assert losses.sequence_log_prob(LOGITS, LABELS).tolist() == pytest.approx(expected)


def test_gradient_ascent_and_difference():
    assert losses.mean_nll(LOGITS, LABELS).item() == pytest.approx(MEAN_NLL)
    assert losses.gradient_ascent(LOGITS, LABELS).item() == pytest.approx(-MEAN_NLL)
    gd = losses.gradient_difference(LOGITS, LABELS, LOGITS, LABELS, alpha=0.5)
    assert gd.item() == pytest.approx(-MEAN_NLL + 0.5 * MEAN_NLL)


def test_kl_is_averaged_over_answer_tokens_only():
    kls = [
        sum(r * math.log(r / q) for r, q in zip(REF_PROBS[b][t], PROBS[b][t]))
        for b, t, _tok in LEARNED
    ]
    assert losses.answer_kl(REF_LOGITS, LOGITS, LABELS).item() == pytest.approx(sum(kls) / 3)
    total = losses.kl_regularized(LOGITS, LABELS, LOGITS, REF_LOGITS, LABELS, alpha=2.0)
    assert total.item() == pytest.approx(-MEAN_NLL + 2.0 * sum(kls) / 3)
    assert losses.answer_kl(LOGITS, LOGITS, LABELS).item() == pytest.approx(0.0, abs=1e-7)


def test_npo_by_hand_and_at_the_reference():
    beta = 0.1
    logp = losses.sequence_log_prob(LOGITS, LABELS)
    ref = losses.sequence_log_prob(REF_LOGITS, LABELS)
    by_hand = (
        -(2 / beta)
        * sum(
            math.log(1 / (1 + math.exp(beta * (a - b))))
            for a, b in zip(logp.tolist(), ref.tolist())
        )
        / 2
    )
    assert losses.npo(logp, ref, beta).item() == pytest.approx(by_hand)
    assert losses.npo(logp, logp, beta).item() == pytest.approx((2 / beta) * math.log(2))


def test_simnpo_by_hand():
    logp = losses.sequence_log_prob(LOGITS, LABELS)
    lengths = torch.tensor([2.0, 1.0])
    beta, gamma = 2.5, 0.5
    by_hand = (
        -(2 / beta)
        * sum(
            math.log(1 / (1 + math.exp(beta * lp / n + gamma)))
            for lp, n in zip(logp.tolist(), lengths.tolist())
        )
        / 2
    )
    assert losses.simnpo(logp, lengths, beta, gamma).item() == pytest.approx(by_hand)


def test_padding_and_prompt_positions_change_nothing():
    noisy = LOGITS.clone()
    noisy[1, 1] = torch.tensor([50.0, -50.0, 3.0])  # predicts the padded position
    noisy[:, 2] = torch.tensor([7.0, -7.0, 0.0])  # the last position predicts nothing
    for fn in (losses.mean_nll, losses.sequence_log_prob):
        assert torch.allclose(fn(noisy, LABELS), fn(LOGITS, LABELS))
    assert losses.answer_kl(REF_LOGITS, noisy, LABELS).item() == pytest.approx(
        losses.answer_kl(REF_LOGITS, LOGITS, LABELS).item()
    )


def test_gradient_ascent_pushes_answer_probability_down():
    logits = LOGITS.clone().requires_grad_(True)
    losses.gradient_ascent(logits, LABELS).backward()
    # descending this loss lowers the logit of every learned token
    for b, t, tok in LEARNED:
        assert logits.grad[b, t, tok] > 0

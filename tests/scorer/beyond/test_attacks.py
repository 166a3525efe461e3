"""Extra MIA attacks: hand-computed values, the reference rounding of k, σ = 0, orientation."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from scorer.beyond.attacks import (
    ATTACKS,
    DocumentStats,
    attack_aucs,
    document_stats_from_logits,
    k_length,
    loss_score,
    membership_scores,
    min_k_plus_plus_score,
    min_k_score,
    zlib_score,
)

# Two documents: A (a member, memorised: high log-probs) and B (a nonmember).
TEXT_A = "the cat sat on the mat. " * 4
TEXT_B = "Quantum flux 93 zebras!"
A = DocumentStats(
    token_logprobs=[-0.1, -0.5, -2.0, -0.3, -0.2],
    mu=[-0.3, -0.6, -1.0, -0.5, -0.4],
    sigma=[0.2, 0.5, 0.5, 0.0, 0.1],
    text=TEXT_A,
)
B = DocumentStats(
    token_logprobs=[-1.0, -3.0, -0.5, -4.0],
    mu=[-1.5, -1.0, -1.0, -2.0],
    sigma=[0.5, 1.0, 0.25, 0.5],
    text=TEXT_B,
)


def test_loss_is_the_mean_log_prob():
    # A: (-0.1 - 0.5 - 2.0 - 0.3 - 0.2) / 5 = -3.1 / 5 = -0.62
    assert loss_score(A.token_logprobs) == pytest.approx(-0.62)
    # B: (-1.0 - 3.0 - 0.5 - 4.0) / 4 = -8.5 / 4 = -2.125
    assert loss_score(B.token_logprobs) == pytest.approx(-2.125)


def test_min_k_averages_the_lowest_tokens():
    # k = 0.2: A has int(5 * 0.2) = 1 token -> the lowest, -2.0
    assert min_k_score(A.token_logprobs, 0.2) == pytest.approx(-2.0)
    # B: int(4 * 0.2) = int(0.8) = 0 -> at least 1 token -> -4.0
    assert min_k_score(B.token_logprobs, 0.2) == pytest.approx(-4.0)
    # k = 0.5: A: int(2.5) = 2 -> (-2.0 - 0.5) / 2 = -1.25; B: 2 -> (-4.0 - 3.0) / 2 = -3.5
    assert min_k_score(A.token_logprobs, 0.5) == pytest.approx(-1.25)
    assert min_k_score(B.token_logprobs, 0.5) == pytest.approx(-3.5)
    # k = 1 is the loss attack
    assert min_k_score(B.token_logprobs, 1.0) == pytest.approx(loss_score(B.token_logprobs))


def test_min_k_plus_plus_normalises_by_the_next_token_distribution():
    # A: z = (lp - mu) / sigma = [0.2/0.2, 0.1/0.5, -1.0/0.5, (sigma 0 -> 0), 0.2/0.1]
    #      = [1.0, 0.2, -2.0, 0.0, 2.0]
    # k = 0.2 -> 1 token: -2.0; k = 0.4 -> int(2.0) = 2 tokens: (-2.0 + 0.0) / 2 = -1.0
    assert min_k_plus_plus_score(A.token_logprobs, A.mu, A.sigma, 0.2) == pytest.approx(-2.0)
    assert min_k_plus_plus_score(A.token_logprobs, A.mu, A.sigma, 0.4) == pytest.approx(-1.0)
    # k = 1: (1.0 + 0.2 - 2.0 + 0.0 + 2.0) / 5 = 1.2 / 5 = 0.24
    assert min_k_plus_plus_score(A.token_logprobs, A.mu, A.sigma, 1.0) == pytest.approx(0.24)
    # B: z = [0.5/0.5, -2.0/1.0, 0.5/0.25, -2.0/0.5] = [1.0, -2.0, 2.0, -4.0]
    # k = 0.2 -> 1 token: -4.0; k = 0.5 -> 2 tokens: (-4.0 - 2.0) / 2 = -3.0
    assert min_k_plus_plus_score(B.token_logprobs, B.mu, B.sigma, 0.2) == pytest.approx(-4.0)
    assert min_k_plus_plus_score(B.token_logprobs, B.mu, B.sigma, 0.5) == pytest.approx(-3.0)


def test_min_k_plus_plus_with_zero_sigma_everywhere_is_zero_not_nan():
    # a uniform next-token distribution: every token sits at the mean, sigma = 0
    score = min_k_plus_plus_score([-1.5, -2.0], [-1.5, -2.0], [0.0, 0.0], 0.2)
    assert score == 0.0
    # even a token off the mean (impossible in exact arithmetic) is not turned into inf/NaN
    assert min_k_plus_plus_score([-9.0, -1.0], [-1.0, -1.0], [0.0, 1.0], 1.0) == pytest.approx(0.0)


def test_zlib_divides_the_log_likelihood_by_the_compressed_length():
    # compressed lengths (zlib, default level) pinned: 4 repeats of a sentence compress well
    assert len(zlib.compress(TEXT_A.encode("utf-8"))) == 32
    assert len(zlib.compress(TEXT_B.encode("utf-8"))) == 31
    assert zlib_score(A.token_logprobs, A.text) == pytest.approx(-0.62 / 32)
    assert zlib_score(B.token_logprobs, B.text) == pytest.approx(-2.125 / 31)


def test_zlib_discounts_likely_but_repetitive_text():
    # the repetitive nonmember is likelier (-0.5 > -1.0) but compresses 10x better
    member = DocumentStats([-1.0], [-1.0], [1.0], "a distinct sentence, 42 words of prose")
    nonmember = DocumentStats([-0.5], [-0.5], [1.0], "ab" * 200)
    aucs = attack_aucs([member], [nonmember])
    assert aucs["loss"] == 0.0
    assert aucs["zlib"] == 1.0


@pytest.mark.parametrize(
    ("n", "k", "expected"),
    [
        (1, 0.2, 1),  # int(0.2) = 0 -> at least one token
        (4, 0.2, 1),  # int(0.8) = 0 -> 1
        (7, 0.2, 1),  # 1.4 rounds down (a ceiling would give 2)
        (9, 0.5, 4),  # 4.5 rounds down
        (10, 0.3, 3),  # 10 * 0.3 = 3.0000000000000004 -> 3
        (100, 0.29, 28),  # 100 * 0.29 = 28.999999999999996 -> 28, as the reference code
        (5, 1.0, 5),
    ],
)
def test_k_length_follows_the_reference_int_rounding(n, k, expected):
    assert k_length(n, k) == expected


def test_single_token_document_uses_its_only_token():
    assert min_k_score([-3.0], 0.2) == -3.0
    assert min_k_plus_plus_score([-3.0], [-1.0], [2.0], 0.2) == pytest.approx(-1.0)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="at least one"):
        loss_score([])
    with pytest.raises(ValueError, match="same length"):
        min_k_plus_plus_score([-1.0, -2.0], [-1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="negative"):
        min_k_plus_plus_score([-1.0], [-1.0], [-0.1])
    with pytest.raises(ValueError, match="k must be"):
        min_k_score([-1.0], 0.0)


def test_auc_orientation_member_with_higher_likelihood_scores_one():
    aucs = attack_aucs([A], [B])
    assert aucs == {"loss": 1.0, "min_k": 1.0, "min_k_plus_plus": 1.0, "zlib": 1.0}
    assert attack_aucs([B], [A]) == {"loss": 0.0, "min_k": 0.0, "min_k_plus_plus": 0.0, "zlib": 0.0}
    # identical documents on both sides: the attacks are at chance
    assert set(attack_aucs([A, B], [A, B]).values()) == {0.5}


def test_membership_scores_match_the_single_attacks():
    scores = membership_scores(A, k=0.4)
    assert scores["loss"] == pytest.approx(-0.62)
    assert scores["min_k"] == pytest.approx(-1.25)  # int(2.0) = 2 -> (-2.0 - 0.5) / 2
    assert scores["min_k_plus_plus"] == pytest.approx(-1.0)
    assert scores["zlib"] == pytest.approx(-0.62 / 32)


def test_stats_from_logits_match_the_official_loss_and_the_definitions():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 11, generator=generator, dtype=torch.float64) * 3
    input_ids = torch.randint(0, 11, (7,), generator=generator)
    stats = document_stats_from_logits(logits.numpy(), input_ids.tolist(), "text")
    assert len(stats.token_logprobs) == len(stats.mu) == len(stats.sigma) == 6
    # the loss attack is minus the official NLL: mean loss with labels = input_ids
    official_nll = F.cross_entropy(logits[:-1], input_ids[1:]).item()
    assert loss_score(stats.token_logprobs) == pytest.approx(-official_nll, abs=1e-12)
    # mu and sigma are the mean and standard deviation of log p(z) under z ~ p
    logp = F.log_softmax(logits[:-1], dim=-1).numpy()
    p = np.exp(logp)
    mu = (p * logp).sum(axis=1)
    sigma = np.sqrt((p * (logp - mu[:, None]) ** 2).sum(axis=1))
    np.testing.assert_allclose(stats.mu, mu, atol=1e-12)
    np.testing.assert_allclose(stats.sigma, sigma, atol=1e-9)


def test_stats_from_uniform_logits_give_zero_sigma_and_zero_min_k_plus_plus():
    stats = document_stats_from_logits(np.zeros((4, 8)), [1, 2, 3, 4], "text")
    np.testing.assert_allclose(stats.token_logprobs, [-np.log(8)] * 3)
    np.testing.assert_allclose(stats.mu, [-np.log(8)] * 3)
    assert stats.sigma == [0.0, 0.0, 0.0]
    assert min_k_plus_plus_score(stats.token_logprobs, stats.mu, stats.sigma) == 0.0


def test_stats_ignore_masked_tokens():
    logits = np.array([[0.0, 0.0, -np.inf], [1.0, 2.0, 3.0]])
    stats = document_stats_from_logits(logits, [0, 1], "t")
    assert stats.mu == pytest.approx([-np.log(2)])
    assert stats.sigma == pytest.approx([0.0], abs=1e-12)


def test_the_registry_keys_labels_and_order_are_those_of_scores_json():
    # the keys are written into scores.json and mia.jsonl in this order: they must not change
    assert list(ATTACKS) == ["loss", "min_k", "min_k_plus_plus", "zlib"]
    assert [a.label for a in ATTACKS.values()] == ["loss", "Min-K%", "Min-K%++", "zlib"]
    assert [a.key for a in ATTACKS.values() if a.official] == ["loss"]
    assert all(key == attack.key for key, attack in ATTACKS.items())


def test_membership_scores_are_the_registry_s_scores_in_its_order():
    scores = membership_scores(B, k=0.5)
    assert list(scores) == list(ATTACKS)
    assert scores == {key: attack.score(B, 0.5) for key, attack in ATTACKS.items()}
    assert scores["min_k_plus_plus"] == pytest.approx(-3.0)  # B at k = 0.5, as above

"""The attacks' vocabulary statistics against their float64 spec."""

from __future__ import annotations

import pytest
import torch

from scorer.beyond.attacks import document_stats_from_logits
from scorer.engine.token_stats import STATS_CHUNK, vocabulary_stats


def test_vocabulary_stats_match_the_float64_spec_across_chunks():
    generator = torch.Generator().manual_seed(0)
    positions, vocab = 2 * STATS_CHUNK + 37, 29
    logits = torch.randn(positions + 1, vocab, generator=generator) * 4
    ids = torch.randint(0, vocab, (positions + 1,), generator=generator)
    picked, mu, sigma = vocabulary_stats(logits[:-1], ids[1:])
    spec = document_stats_from_logits(logits.double().numpy(), ids.tolist(), "text")
    assert picked.dtype == mu.dtype == sigma.dtype == torch.float32
    assert picked.tolist() == pytest.approx(spec.token_logprobs, abs=1e-5)
    assert mu.tolist() == pytest.approx(spec.mu, abs=1e-5)
    assert sigma.tolist() == pytest.approx(spec.sigma, abs=1e-4)


def test_a_certain_prediction_has_no_spread():
    logits = torch.tensor([[0.0, -1e4, -1e4]])
    picked, mu, sigma = vocabulary_stats(logits, torch.tensor([0]))
    assert picked.tolist() == pytest.approx([0.0]) and sigma.tolist() == pytest.approx([0.0])
    assert mu.tolist() == pytest.approx([0.0])


def test_no_positions_give_empty_statistics():
    picked, mu, sigma = vocabulary_stats(torch.zeros(0, 5), torch.zeros(0, dtype=torch.long))
    assert picked.tolist() == mu.tolist() == sigma.tolist() == []

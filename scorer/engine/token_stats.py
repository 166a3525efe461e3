"""What the membership attacks need from a document, token by token, computed from logits.

One pure function of logits and targets, shared by both engines: the batched engine feeds
it the logits of a padded batch, the reference engine those of one unpadded pass.
``scorer.beyond.attacks.document_stats_from_logits`` is its float64 executable spec.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

STATS_CHUNK = 512  # positions whose vocabulary statistics are computed at once


@dataclass(frozen=True)
class TokenStats:
    """What the membership attacks need from one text, token by token (first token excluded).

    ``mean_nll`` is the official per-document NLL (labels = inputs); ``logprobs[t]`` is
    log p(x_{t+1} | x_≤t); ``mu[t]`` and ``sigma[t]`` are the mean and standard deviation
    of log p(z | x_≤t) over the vocabulary z ~ p (Min-K%++).
    """

    mean_nll: float
    logprobs: list[float]
    mu: list[float]
    sigma: list[float]


def vocabulary_stats(
    logits: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per position (a row of ``logits``, shape ``(positions, vocab)``): the log-probability
    of its ``target`` token, and the mean and standard deviation of the log-probabilities
    over the vocabulary, all in fp32.

    Computed ``STATS_CHUNK`` positions at a time, so beyond the logits only a few
    ``STATS_CHUNK × vocab`` temporaries are ever alive (a document of the 7B track has
    thousands of positions over a 50k vocabulary).
    """
    picked, mu, sigma = [], [], []
    for start in range(0, len(targets), STATS_CHUNK):
        stop = start + STATS_CHUNK
        log_probs = torch.log_softmax(logits[start:stop].float(), dim=-1)
        picked.append(log_probs.gather(-1, targets[start:stop, None]).squeeze(-1))
        probs = log_probs.exp()
        mean = torch.linalg.vecdot(probs, log_probs)
        second = torch.linalg.vecdot(probs * log_probs, log_probs)
        mu.append(mean)
        sigma.append((second - mean.square()).clamp(min=0).sqrt())
    empty = logits.new_zeros(0, dtype=torch.float32)
    return tuple(torch.cat(parts) if parts else empty for parts in (picked, mu, sigma))

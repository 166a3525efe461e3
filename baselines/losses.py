"""Unlearning losses as pure functions of logits and labels (no model, no state).

Labels follow the Hugging Face convention: ``labels[b, t]`` is the token at position
``t`` and ``-100`` marks a token that carries no loss (padding, and the prompt unless
the prompt is trained on). Position ``t``'s logits predict token ``t + 1``.
Every average is over real answer tokens only, never over padded positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100
NPO_BETA = 0.1


def _shifted(logits: torch.Tensor, labels: torch.Tensor):
    """Logits of positions 0..T-2, their target tokens 1..T-1, and which targets count."""
    targets = labels[:, 1:]
    mask = targets != IGNORE
    return logits[:, :-1].float(), targets.masked_fill(~mask, 0), mask


def token_log_probs(
    logits: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``log p(token)`` of every target token ``[B, T-1]`` and the mask of real ones."""
    shifted, targets, mask = _shifted(logits, labels)
    log_probs = shifted.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return log_probs * mask, mask


def sequence_log_prob(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``log π(y|x)`` per example: the sum over its answer tokens ``[B]``."""
    log_probs, _mask = token_log_probs(logits, labels)
    return log_probs.sum(-1)


def mean_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood over every answer token of the batch (the HF loss)."""
    log_probs, mask = token_log_probs(logits, labels)
    return -log_probs.sum() / mask.sum().clamp(min=1)


def gradient_ascent(forget_logits: torch.Tensor, forget_labels: torch.Tensor) -> torch.Tensor:
    """GA: minus the forget NLL, so a descent step makes the forget answers less likely."""
    return -mean_nll(forget_logits, forget_labels)


def gradient_difference(
    forget_logits: torch.Tensor,
    forget_labels: torch.Tensor,
    retain_logits: torch.Tensor,
    retain_labels: torch.Tensor,
    alpha: float = 1.0,
) -> torch.Tensor:
    """GD: GA on the forget batch plus ``alpha`` × the retain NLL."""
    return gradient_ascent(forget_logits, forget_labels) + alpha * mean_nll(
        retain_logits, retain_labels
    )


def answer_kl(
    reference_logits: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """``KL(p_ref ‖ p_θ)`` of the next-token distributions, averaged over answer tokens."""
    ref, _targets, mask = _shifted(reference_logits, labels)
    cur = logits[:, :-1].float()
    ref_log = ref.log_softmax(-1)
    per_position = (ref_log.exp() * (ref_log - cur.log_softmax(-1))).sum(-1)
    return (per_position * mask).sum() / mask.sum().clamp(min=1)


def kl_regularized(
    forget_logits: torch.Tensor,
    forget_labels: torch.Tensor,
    retain_logits: torch.Tensor,
    retain_reference_logits: torch.Tensor,
    retain_labels: torch.Tensor,
    alpha: float = 1.0,
) -> torch.Tensor:
    """KL: GA plus ``alpha`` × KL to the reference model on the retain batch."""
    return gradient_ascent(forget_logits, forget_labels) + alpha * answer_kl(
        retain_reference_logits, retain_logits, retain_labels
    )


def npo(
    forget_log_prob: torch.Tensor, reference_log_prob: torch.Tensor, beta: float = NPO_BETA
) -> torch.Tensor:
    """NPO (Zhang et al., 2024): ``-(2/β)·mean log σ(-β·(log π_θ(y|x) - log π_ref(y|x)))``.

    Takes sequence log-probabilities (summed over answer tokens); the reference ones are
    constants, computed once before training. At θ = ref it equals ``(2/β)·log 2``.
    """
    ratio = forget_log_prob - reference_log_prob.detach()
    return -(2.0 / beta) * F.logsigmoid(-beta * ratio).mean()


def simnpo(
    forget_log_prob: torch.Tensor,
    answer_lengths: torch.Tensor,
    beta: float = 2.5,
    gamma: float = 0.0,
) -> torch.Tensor:
    """SimNPO (Fan et al., 2024): NPO without a reference model, length-normalised.

    ``-(2/β)·mean log σ(-(β/|y|)·log π_θ(y|x) - γ)``.
    """
    normalised = forget_log_prob / answer_lengths.clamp(min=1)
    return -(2.0 / beta) * F.logsigmoid(-beta * normalised - gamma).mean()

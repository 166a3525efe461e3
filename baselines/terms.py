"""The loss terms the method table names, and the references they read from the starting model.

A term is ``term(config, model, batch, references) -> loss``: a forget term gives the
method's loss on one forget batch, a retain term ``alpha`` × its loss on one retain
batch. Each wraps a pure loss of ``losses.py`` around the model's forward pass.
:func:`prepare_references` computes, once before training, what ``methods.Needs`` asks:
NPO's reference log-probabilities are constants, so no reference model is held for
them; only a method that needs the reference's full distributions (KL) keeps one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from baselines import losses
from baselines.examples import Example, collate
from baselines.methods import Needs
from baselines.presets import TrainConfig

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class References:
    """What the starting model contributes: forget log-probs (by example index) or itself."""

    forget_log_probs: torch.Tensor | None = None
    model: torch.nn.Module | None = None


def logits(model, batch: Batch) -> torch.Tensor:
    """The model's logits on a padded batch."""
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def gradient_ascent(config: TrainConfig, model, batch: Batch, references: References):
    """GA: minus the forget answers' NLL."""
    return losses.gradient_ascent(logits(model, batch), batch["labels"])


def npo(config: TrainConfig, model, batch: Batch, references: References):
    """NPO against the starting model's log-probabilities of the same forget examples."""
    log_prob = losses.sequence_log_prob(logits(model, batch), batch["labels"])
    reference = references.forget_log_probs[batch["index"].cpu()].to(log_prob.device)
    return losses.npo(log_prob, reference, config.beta)


def simnpo(config: TrainConfig, model, batch: Batch, references: References):
    """SimNPO: NPO without a reference, normalised by each answer's length."""
    log_prob = losses.sequence_log_prob(logits(model, batch), batch["labels"])
    lengths = (batch["labels"][:, 1:] != losses.IGNORE).sum(-1)
    return losses.simnpo(log_prob, lengths, config.simnpo_beta, config.simnpo_gamma)


def retain_nll(config: TrainConfig, model, batch: Batch, references: References):
    """``alpha`` × the retain answers' NLL (GD, NPO+RT, SimNPO+RT)."""
    return config.alpha * losses.mean_nll(logits(model, batch), batch["labels"])


def retain_kl(config: TrainConfig, model, batch: Batch, references: References):
    """``alpha`` × KL(reference ‖ model) on the retain answers' tokens (KL)."""
    with torch.no_grad():
        reference_logits = logits(references.model, batch)
    return config.alpha * losses.answer_kl(reference_logits, logits(model, batch), batch["labels"])


@torch.no_grad()
def forget_log_probs(model, examples: list[Example], pad_id: int, device) -> torch.Tensor:
    """Sequence log-probabilities of every forget example under the starting model."""
    model.eval()
    values = []
    for start in range(0, len(examples), 8):
        batch = {k: v.to(device) for k, v in collate(examples[start : start + 8], pad_id).items()}
        values.append(losses.sequence_log_prob(logits(model, batch), batch["labels"]).cpu())
    model.train()
    return torch.cat(values)


def prepare_references(
    needs: Needs, model, model_dir: str | Path, forget: list[Example], pad_id: int, device
) -> References:
    """What ``needs`` asks of the starting model, computed before the first step."""
    if needs is Needs.REFERENCE_MODEL:
        reference = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        reference.to(device).eval().requires_grad_(False)
        return References(model=reference)
    if needs is Needs.FORGET_LOG_PROBS:
        return References(
            forget_log_probs=forget_log_probs(model.to(device), forget, pad_id, device)
        )
    return References()

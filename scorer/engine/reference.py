"""The reference engine: the official script's per-item loop, one unpadded input at a time.

Per item ``model.generate`` on the prompt alone, then one more forward pass over
``tokenizer(input + output)`` with the prompt's tokens masked for the answer NLL; one pass
with ``labels = input_ids`` per MIA document; one pass per MMLU prompt. It shares nothing
with the batched engine but the loaded model and tokenizer, the official clean-up of the
decoded text and the pure vocabulary statistics (for the attacks beyond the official
score): its own encoding, answer rows, generation config and decoding, so a bug in a
batched helper shows as a disagreement in the agreement tests (``--exact``,
``--check-exact``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from transformers import GenerationConfig

from scorer.engine.interface import ChoicePrompt
from scorer.engine.model import LoadedModel
from scorer.engine.token_stats import TokenStats, vocabulary_stats
from scorer.engine.workplan import Batch, Work, one_each
from scorer.official.metrics import clean_up_tokenization


def greedy_config(lm: LoadedModel, max_new_tokens: int) -> GenerationConfig:
    """Greedy decoding whatever the checkpoint's own generation_config.json says: the
    official runs decoded greedily, and a submission must not steer its own decoding."""
    eos = lm.model.config.eos_token_id
    if eos is None:
        eos = lm.tokenizer.eos_token_id
    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        eos_token_id=eos,
        pad_token_id=lm.tokenizer.eos_token_id,
    )


@torch.inference_mode()
def generate_one(lm: LoadedModel, prompt: str, max_new_tokens: int) -> str:
    """The official way to answer an item: ``model.generate`` on one unpadded prompt,
    new tokens decoded with special tokens skipped and the official clean-up."""
    enc = lm.tokenizer(prompt, return_tensors="pt").to(lm.device)
    out = lm.model.generate(**enc, generation_config=greedy_config(lm, max_new_tokens))
    new_tokens = out[0, enc["input_ids"].shape[1] :].tolist()
    text = lm.tokenizer.decode(
        new_tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False
    )
    return clean_up_tokenization(text)


@torch.inference_mode()
def answer_nll_one(lm: LoadedModel, prompt: str, answer: str) -> float | None:
    """The official answer NLL: the model's loss over ``tokenizer(input + output)`` (whole,
    as the official loop) with its first ``len(tokenizer(input))`` tokens masked (-100); ``None``
    when no answer token (or no prompt token to predict it from) is left."""
    ids = lm.tokenizer(prompt + answer)["input_ids"]
    start = min(len(lm.tokenizer(prompt)["input_ids"]), len(ids))
    if len(ids) - start < 1 or start < 1:
        return None
    tensor = torch.tensor([ids], device=lm.device)
    labels = tensor.clone()
    labels[:, :start] = -100
    return float(lm.model(input_ids=tensor, labels=labels).loss)


def _document_ids(lm: LoadedModel, text: str) -> torch.Tensor:
    """A document's ids as the official MIA tokenized it: whole, however long."""
    ids = lm.tokenizer(text, return_tensors="pt")["input_ids"]
    return ids.to(lm.device)


@torch.inference_mode()
def mean_nll_one(lm: LoadedModel, text: str) -> float:
    """The official MIA statistic of one document: the model's loss with ``labels =
    input_ids`` over one unpadded pass."""
    ids = _document_ids(lm, text)
    return float(lm.model(input_ids=ids, labels=ids).loss)


@torch.inference_mode()
def document_stats_one(lm: LoadedModel, text: str) -> TokenStats:
    """:func:`mean_nll_one` and, from the same unpadded pass's logits, the token statistics
    of the attacks beyond the official score."""
    ids = _document_ids(lm, text)
    out = lm.model(input_ids=ids, labels=ids)
    picked, mu, sigma = vocabulary_stats(out.logits[0, :-1], ids[0, 1:])
    return TokenStats(float(out.loss), picked.tolist(), mu.tolist(), sigma.tolist())


@torch.inference_mode()
def choice_one(lm: LoadedModel, prompt: str, candidate_ids: Sequence[int]) -> int:
    """The official way to answer an MMLU question: one unpadded pass over the whole
    prompt, the candidate with the highest next-token logit."""
    ids = lm.tokenizer(prompt, return_tensors="pt")["input_ids"].to(lm.device)
    logits = lm.model(input_ids=ids).logits[0, -1].float()
    return int(logits[list(candidate_ids)].argmax())


@dataclass(frozen=True)
class ReferenceEngine:
    """The official per-item loop as an ``Engine``: one input per unit, in input order."""

    lm: LoadedModel
    name: ClassVar[str] = "reference"

    def answer_items(self, pairs: Sequence[tuple[str, str]], max_new_tokens: int) -> Work:
        """Per item ``model.generate``, then the answer NLL's own pass."""

        def compute(batch: Batch) -> list[list]:
            return [
                [
                    generate_one(self.lm, pairs[i][0], max_new_tokens),
                    answer_nll_one(self.lm, *pairs[i]),
                ]
                for i in batch.indices
            ]

        return Work(self.name, one_each(len(pairs)), compute)

    def document_stats(self, texts: Sequence[str]) -> Work:
        """One unpadded pass per document."""

        def compute(batch: Batch) -> list[TokenStats]:
            return [document_stats_one(self.lm, texts[i]) for i in batch.indices]

        return Work(self.name, one_each(len(texts)), compute)

    def choices(self, prompts: Sequence[ChoicePrompt], candidate_ids: Sequence[int]) -> Work:
        """One pass per whole prompt (the shared prefix is not reused)."""

        def compute(batch: Batch) -> list[int]:
            return [choice_one(self.lm, prompts[i].text, candidate_ids) for i in batch.indices]

        return Work(self.name, one_each(len(prompts)), compute)

"""Train a tiny OLMo-architecture model until it has memorized a LUME-format corpus.

The target sees what the real fine-tuned OLMo saw — every document, and every question
followed by its answer — plus the utility world (fact statements and multiple-choice
questions in the open-instruct MMLU format, with 0..5 random shots so that the scorer's
5-shot prompts are in distribution). Examples are never packed together: each starts at
position 0, exactly as the scorer's prompts do.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers import OlmoConfig, OlmoForCausalLM, PreTrainedTokenizerFast

from scorer.mmlu import CHOICE_LETTERS, format_question, mmlu_prompt

IGNORE = -100


@dataclass(frozen=True)
class TargetConfig:
    """Size of the tiny target and how long it trains (defaults: memorizes the mini world)."""

    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 768
    max_positions: int = 1024
    epochs: int = 40
    learning_rate: float = 3e-3
    batch_tokens: int = 1024
    warmup_fraction: float = 0.05
    seed: int = 0


@dataclass(frozen=True)
class TextExample:
    """A training text and the character spans whose tokens carry the loss."""

    text: str
    loss_spans: tuple[tuple[int, int], ...]
    end_with_eos: bool = True


@dataclass(frozen=True)
class TokenExample:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]


def document_example(text: str) -> TextExample:
    """A whole document: every token and the final EOS are learned."""
    return TextExample(text, ((0, len(text)),))


def answer_example(prompt: str, answer: str) -> TextExample:
    """``prompt + answer`` with the loss on the answer and EOS only (as the scorer concatenates)."""
    return TextExample(prompt + answer, ((len(prompt), len(prompt) + len(answer)),))


def multiple_choice_example(subject: str, shots: Sequence, question) -> TextExample:
    """An MMLU-format prompt with ``shots``; the loss is on every answer letter."""
    prompt = mmlu_prompt(subject, shots, question)
    text = prompt + " " + CHOICE_LETTERS[question.answer]
    spans = []
    cursor = 0
    for shot in shots:  # each shot's answer letter follows its own "Answer:"
        block = format_question(shot, with_answer=True)
        start = text.index(block, cursor) + len(block) - len(" X\n\n")
        spans.append((start, start + 2))
        cursor = start
    spans.append((len(prompt), len(text)))
    return TextExample(text, tuple(spans), end_with_eos=False)


def tokenize_example(tokenizer: PreTrainedTokenizerFast, example: TextExample) -> TokenExample:
    """Token ids and labels: a token is learned when it starts inside a loss span."""
    enc = tokenizer(example.text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    labels = [
        tok if any(lo <= start < hi for lo, hi in example.loss_spans) else IGNORE
        for tok, (start, _end) in zip(ids, enc["offset_mapping"])
    ]
    if example.end_with_eos:
        ids.append(tokenizer.eos_token_id)
        labels.append(tokenizer.eos_token_id)
    return TokenExample(tuple(ids), tuple(labels))


def build_model(config: TargetConfig, tokenizer: PreTrainedTokenizerFast) -> OlmoForCausalLM:
    torch.manual_seed(config.seed)
    olmo = OlmoConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        max_position_embeddings=config.max_positions,
        pad_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    return OlmoForCausalLM(olmo)


def _batches(examples: Sequence[TokenExample], batch_tokens: int, rng: random.Random):
    """Length-sorted batches under a token budget, in a seeded random order."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i].input_ids), i))
    batches, current, longest = [], [], 0
    for i in order:
        length = len(examples[i].input_ids)
        if current and max(longest, length) * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, length)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def _collate(examples: Sequence[TokenExample], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def train_target(
    model: OlmoForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    epoch_examples: Callable[[int], Sequence[TextExample]],
    config: TargetConfig,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train for ``config.epochs``; ``epoch_examples(epoch)`` may vary (random shots).

    Returns the mean training loss of each epoch. Deterministic for a fixed seed.
    """
    rng = random.Random(config.seed)
    per_epoch = [
        [tokenize_example(tokenizer, ex) for ex in epoch_examples(epoch)]
        for epoch in range(config.epochs)
    ]
    plans = [_batches(examples, config.batch_tokens, rng) for examples in per_epoch]
    total_steps = sum(len(p) for p in plans)
    warmup = max(1, int(config.warmup_fraction * total_steps))
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, betas=(0.9, 0.98), weight_decay=0.0
    )

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    model.train()
    losses = []
    for epoch, (examples, plan) in enumerate(zip(per_epoch, plans)):
        total = 0.0
        for batch_ids in plan:
            batch = _collate([examples[i] for i in batch_ids], tokenizer.eos_token_id)
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            total += loss.item()
        losses.append(total / len(plan))
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    model.eval()
    return losses
